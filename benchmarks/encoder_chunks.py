"""Image encoders on a CPU: one pass over the whole batch vs chunks (``network.cpu_chunk_size``).

Run by hand (about two minutes)::

    python benchmarks/encoder_chunks.py
    python benchmarks/encoder_chunks.py --threads 1 --chunks 64 128 256

For each Crafter network, in one run, frames per second of

* ``train``  forward + backward over minibatches of ``--minibatch`` frames (PPO's 512 in
             the Crafter configs): what an update epoch costs
* ``infer``  forward passes without gradients over batches of 1024 (PPG's and AD's
             passes over their auxiliary buffer)

with the whole batch at once (the reference, ``cpu_chunk_size: 0``, what SB3 does) and
with each chunk size, as ratios to the reference. The last column is the largest
difference of the features and of the gradients from the reference's: chunks give the
same numbers up to float rounding, since these encoders have no batch statistics.
Each figure is the best of ``--repeats`` timed passes after one warm-up pass.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONFIGS = ["configs/ppo_crafter_1m_cpu.yaml", "configs/levine/ppo_crafter_cpu.yaml"]
"""the Crafter configs whose networks are compared: NatureCNN 256 and the IMPALA [16, 32, 32]
of the ``levine/*_crafter_cpu`` configs"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--frames", type=int, default=2048, help="frames per timed pass")
    parser.add_argument("--minibatch", type=int, default=512, help="training minibatch size")
    parser.add_argument("--chunks", type=int, nargs="+", default=[64, 128, 256], help="chunk sizes to compare")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per figure (the best is kept)")
    args = parser.parse_args()

    import gymnasium as gym
    import numpy as np
    import torch

    from craftlab.agents.networks import build_encoder
    from craftlab.runs.run_config import load_run_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    obs = torch.randint(0, 256, (args.frames, 64, 64, 3), dtype=torch.uint8)

    print(
        f"{args.frames} Crafter frames (64x64x3) per pass, training minibatch {args.minibatch}, "
        f"{args.threads} torch thread(s), best of {args.repeats}\n"
    )
    for config in CONFIGS:
        network = load_run_config(ROOT / config, ["algo.network.cpu_chunk_size=0"]).algo.network
        print(f"{network.kind} ({config})")
        compare(build_encoder(space, network), obs, args)


def compare(encoder, obs, args) -> None:
    """Print one network's rows: the whole batch (the reference), then each chunk size."""
    import torch

    def best_fps(fn) -> float:
        fn()
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return args.frames / best

    def train() -> None:
        for batch in obs.split(args.minibatch):
            encoder.zero_grad(set_to_none=True)
            encoder(batch).square().mean().backward()

    def infer() -> None:
        with torch.no_grad():
            for batch in obs.split(1024):
                encoder(batch)

    def outputs() -> tuple[torch.Tensor, list[torch.Tensor]]:
        encoder.zero_grad(set_to_none=True)
        features = encoder(obs[: args.minibatch])
        features.square().mean().backward()
        return features.detach(), [p.grad.clone() for p in encoder.parameters() if p.grad is not None]

    print(
        f"  {'cpu_chunk_size':>14s} {'train fps':>10s} {'ratio':>6s} {'infer fps':>10s} {'ratio':>6s} {'max diff':>9s}"
    )
    rows = []
    for chunk in [0, *args.chunks]:
        encoder.cpu_chunk_size = chunk
        rows.append((chunk, best_fps(train), best_fps(infer), outputs()))
    ref_train, ref_infer, (ref_features, ref_grads) = rows[0][1], rows[0][2], rows[0][3]
    for chunk, train_fps, infer_fps, (features, grads) in rows:
        diff = max(
            float((features - ref_features).abs().max()),
            *(float((g - r).abs().max()) for g, r in zip(grads, ref_grads)),
        )
        label = "0 (whole)" if chunk == 0 else str(chunk)
        print(
            f"  {label:>14s} {train_fps:10.0f} {train_fps / ref_train:5.2f}x {infer_fps:10.0f} "
            f"{infer_fps / ref_infer:5.2f}x {diff:9.1e}",
            flush=True,
        )
    print()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
