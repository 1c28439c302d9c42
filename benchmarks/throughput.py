"""Training throughput: craftlab PPO vs Stable-Baselines3 PPO on the identical Crafter setting.

Run by hand (it takes a few minutes)::

    python benchmarks/throughput.py                 # 4 envs x 128 steps, NatureCNN, 3 epochs, 4 minibatches
    python benchmarks/throughput.py --steps 16384 --num-envs 8

Each contender runs in its own fresh subprocess (clean peak-memory figures), for
each Crafter engine (``--engines``) and env vectorisation (``--vectors``):

* ``env only``   the same vectorised Crafter envs stepped with random actions:
                 the ceiling for any trainer; the gap to it is the training loop's cost
* ``craftlab``   craftlab's PPO (``agents/ppo.py``); async = Gymnasium AsyncVectorEnv with shared memory;
                 the encoder runs minibatches in chunks of ``network.cpu_chunk_size`` frames
* ``craftlab-1pass``  the same with ``cpu_chunk_size: 0``: one pass per minibatch, as SB3 does
* ``sb3``        SB3's PPO with ``CnnPolicy`` (NatureCNN, 512 features, shared extractor);
                 async = SubprocVecEnv, sync = DummyVecEnv

Engines: ``crafter`` (the package's own code) and ``fast`` (craftlab's
bit-identical faster engine, ``envs/crafter_fast.py``), so the trainers are
compared on equal envs and the env's share shows separately.

Same network size, envs, rollout length, epochs, minibatch size, learning
rate, torch threads. Steps per second are measured after one warm-up update.
Peak memory is the peak resident set size of the trainer process and the sum
over its env workers' (Linux /proc VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _workers_peak_mb(processes) -> float:
    """Sum of the env worker processes' peak resident memory (Linux /proc; 0 elsewhere)."""
    total = 0.0
    for proc in processes:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def _env_factory(args):
    from craftlab.core.config import EnvConfig
    from craftlab.envs.factory import EnvFactory

    return EnvFactory(
        EnvConfig(id="crafter", kwargs={"engine": args.engine}), num_envs=args.num_envs, vector=args.vector
    )


def _processes(vec) -> list:
    return list(getattr(vec, "processes", []))


def run_env_only(args) -> dict:
    import numpy as np

    envs = _env_factory(args).make_vector()
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    warm = args.num_steps * args.num_envs
    steps, start = 0, None
    while steps < args.steps + warm:
        envs.step(rng.integers(0, 17, size=args.num_envs))
        steps += args.num_envs
        if start is None and steps >= warm:
            start, steps = time.perf_counter(), 0
    sps = steps / (time.perf_counter() - start)
    workers = _workers_peak_mb(_processes(envs))
    envs.close()
    return {"sps": sps, "workers_mb": workers}


def run_craftlab_one_pass(args) -> dict:
    return run_craftlab(args, cpu_chunk_size=0)


def run_craftlab(args, cpu_chunk_size: int | None = None) -> dict:
    import torch

    from craftlab.runs.run_config import load_run_config
    from craftlab.runs.training import RunContext, build_agent

    torch.set_num_threads(args.threads)
    data = {
        "env": {"id": "crafter", "kwargs": {"engine": args.engine}},
        "algo": {
            "name": "ppo",
            "num_steps": args.num_steps,
            "update_epochs": args.epochs,
            "num_minibatches": args.minibatches,
            "learning_rate": 3e-4,
            "network": {"kind": "nature_cnn", "features": 512},
        },
        "train": {"num_envs": args.num_envs, "vector": args.vector, "device": "cpu", "progress_bar": False},
    }
    if cpu_chunk_size is not None:
        data["algo"]["network"]["cpu_chunk_size"] = cpu_chunk_size
    agent = build_agent(load_run_config(data=data))
    batch = args.num_steps * args.num_envs
    agent.learn(batch, RunContext(batch))  # warm-up: start workers, first update
    t0, s0 = time.perf_counter(), agent.num_timesteps
    agent.learn(s0 + args.steps, RunContext(s0 + args.steps))
    sps = (agent.num_timesteps - s0) / (time.perf_counter() - t0)
    workers = _workers_peak_mb(_processes(agent._vec_env))
    agent.close()
    return {"sps": sps, "workers_mb": workers}


def run_sb3(args) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from craftlab.agents.sb3 import _EnvFn

    torch.set_num_threads(args.threads)
    factory = _env_factory(args)
    fns = [_EnvFn(factory, i) for i in range(args.num_envs)]
    vec = SubprocVecEnv(fns, start_method="forkserver") if args.vector == "async" else DummyVecEnv(fns)
    batch = args.num_steps * args.num_envs
    model = PPO(
        "CnnPolicy",
        vec,
        n_steps=args.num_steps,
        batch_size=batch // args.minibatches,
        n_epochs=args.epochs,
        learning_rate=3e-4,
        device="cpu",
        verbose=0,
        seed=0,
    )
    model.learn(batch)  # warm-up
    t0, s0 = time.perf_counter(), model.num_timesteps
    model.learn(args.steps, reset_num_timesteps=False)
    sps = (model.num_timesteps - s0) / (time.perf_counter() - t0)
    workers = _workers_peak_mb(_processes(vec))
    vec.close()
    return {"sps": sps, "workers_mb": workers}


CONTENDERS = {
    "env only": run_env_only,
    "craftlab": run_craftlab,
    "craftlab-1pass": run_craftlab_one_pass,
    "sb3": run_sb3,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8192, help="env steps measured per contender (after warm-up)")
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=128, help="rollout length per env")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the learner")
    parser.add_argument(
        "--engines",
        nargs="+",
        default=["crafter", "fast"],
        choices=["crafter", "fast"],
        help="Crafter engines to run (the package's own; craftlab's bit-identical fast one)",
    )
    parser.add_argument(
        "--vectors",
        nargs="+",
        default=["sync", "async"],
        choices=["sync", "async"],
        help="envs in this process (sync) or in subprocesses (async)",
    )
    parser.add_argument("--only", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="crafter", help=argparse.SUPPRESS)
    parser.add_argument("--vector", default="async", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.only:  # child process: run one contender, print JSON
        result = CONTENDERS[args.only](args)
        result["trainer_mb"] = _peak_memory_mb()
        print("RESULT " + json.dumps(result))
        return

    print(
        f"Crafter, {args.num_envs} envs x {args.num_steps} steps, NatureCNN(512), {args.epochs} epochs x "
        f"{args.minibatches} minibatches, {args.threads} torch thread(s), {args.steps} measured steps, "
        f"{os.cpu_count()} CPU cores\n"
    )
    print(f"  {'engine':8s} {'envs':6s} {'trainer':14s} {'steps/s':>8s} {'trainer MB':>11s} {'workers MB':>11s}")
    results: dict[tuple[str, str, str], dict] = {}
    for engine in args.engines:
        for vector in args.vectors:
            for name in CONTENDERS:
                cmd = [
                    sys.executable,
                    __file__,
                    "--only",
                    name,
                    "--engine",
                    engine,
                    "--vector",
                    vector,
                    "--steps",
                    str(args.steps),
                    "--num-envs",
                    str(args.num_envs),
                    "--num-steps",
                    str(args.num_steps),
                    "--epochs",
                    str(args.epochs),
                    "--minibatches",
                    str(args.minibatches),
                    "--threads",
                    str(args.threads),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
                if not line:
                    print(f"  {engine:8s} {vector:6s} {name:14s} failed:\n{out.stderr[-2000:]}")
                    continue
                r = results[(engine, vector, name)] = json.loads(line[0][7:])
                print(
                    f"  {engine:8s} {vector:6s} {name:14s} {r['sps']:8.0f} {r['trainer_mb']:11.0f} "
                    f"{r['workers_mb']:11.0f}",
                    flush=True,
                )

    def sps(engine, vector, name):
        r = results.get((engine, vector, name))
        return r["sps"] if r else None

    print("\nratios (same engine, same env vectorisation):")
    for engine in args.engines:
        for vector in args.vectors:
            ours, one_pass, ref, env = (
                sps(engine, vector, n) for n in ("craftlab", "craftlab-1pass", "sb3", "env only")
            )
            if ours and ref:
                line = f"  {engine:8s} {vector:6s} craftlab / sb3 = {ours / ref:.2f}x"
                if one_pass:
                    line += f"   craftlab-1pass / sb3 = {one_pass / ref:.2f}x"
                if env:
                    line += f"   training loop's cost: craftlab {1 - ours / env:.0%}, sb3 {1 - ref / env:.0%}"
                print(line)
    best_ours = max(((sps(e, v, "craftlab") or 0), e, v) for e in args.engines for v in args.vectors)
    best_ref = (
        max(((sps(e, v, "sb3") or 0), e, v) for e in ("crafter",) if e in args.engines for v in args.vectors)
        if "crafter" in args.engines
        else (0, "", "")
    )
    if best_ours[0] and best_ref[0]:
        print(
            f"\nbest craftlab ({best_ours[1]} engine, {best_ours[2]}) / best sb3 on stock crafter "
            f"({best_ref[2]}): {best_ours[0] / best_ref[0]:.2f}x"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
