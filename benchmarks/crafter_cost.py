"""What the Crafter protocol costs on this machine: steps per second of each Crafter
config, and the hours that 1M steps and a 3-seed protocol row would take, side by
side with the fixed CPU PPO (``configs/ppo_crafter_1m_cpu.yaml``) as the 1.00x
reference, all measured in one run.

Run by hand (about an hour on a 2-core CPU with the defaults, most of it PPG's and AD's
auxiliary phases; measured figures are in the README)::

    python benchmarks/crafter_cost.py
    python benchmarks/crafter_cost.py --threads 1 --configs configs/ppo_crafter_1m_cpu.yaml configs/levine/ppg_crafter_cpu.yaml

Each config trains in its own fresh subprocess (``python -m craftlab CONFIG``,
its run folder under ``--out``, no checkpoints, ``train.torch_threads`` =
``--threads``) for ``--steps`` env steps, or ``--aux-steps`` for phasic configs
(PPG, Achievement Distillation), whose auxiliary phase comes every ``n_pi``
rollouts (32,768 steps in the shipped configs) and must be in the measured
window. Steps per second are the run's own ``num_timesteps / wall_time_s``
(``summary.json``: training only, imports and env start excluded).

The projection assumes the early-training speed holds for the whole run. It
does not quite: early Crafter episodes are short, so resets (cheap in the fast
engine) are more frequent; the 1M-step runs in the README measured their
whole-run speed (``summary.json``'s ``wall_time_s``). One seed per config;
the ``protocol`` column is 3 seeds run one after the other with ``--threads``
threads each (running them side by side on a 2-core machine gives about the
same total).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

CONFIGS = [
    "configs/ppo_crafter_1m_cpu.yaml",  # the reference: fixed CPU PPO, NatureCNN
    "configs/levine/ppo_crafter_cpu.yaml",  # the recipe's IMPALA at CPU width
    "configs/levine/ppg_crafter_cpu.yaml",
    "configs/levine/ad_crafter_cpu.yaml",
    "configs/sb3/ppo_crafter.yaml",  # SB3's PPO, its defaults (the published 4.6)
]
PHASIC = ("ppg", "achievement_distillation")


def _algo(config: Path) -> str:
    return str(yaml.safe_load(config.read_text())["algo"]["name"])


def measure(config: str, steps: int, threads: int, out: Path) -> dict:
    """Train ``config`` for ``steps`` env steps in a subprocess; its steps per second."""
    run_dir = out / Path(config).stem
    command = [
        sys.executable,
        "-m",
        "craftlab",
        config,
        "--run-dir",
        str(run_dir),
        "--device",
        "cpu",
        "--set",
        f"train.total_timesteps={steps}",
        "--set",
        "train.checkpoint_interval=0",
        "--set",
        "train.progress_bar=false",
        "--set",
        f"train.torch_threads={threads}",
    ]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((run_dir / "summary.json").read_text())
    sps = summary["num_timesteps"] / summary["wall_time_s"]
    return {"config": config, "steps": summary["num_timesteps"], "wall_time_s": summary["wall_time_s"], "sps": sps}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS, help="the first is the 1.00x reference")
    parser.add_argument("--steps", type=int, default=16384, help="env steps per config (4 rollouts of 8 x 512)")
    parser.add_argument("--aux-steps", type=int, default=40960, help="env steps for PPG / AD (one auxiliary phase)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run (2: a 2-core machine per seed)")
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="crafter_cost_") as tmp:
        out = args.out or Path(tmp)
        rows = []
        for config in args.configs:
            steps = args.aux_steps if _algo(ROOT / config) in PHASIC else args.steps
            print(f"{config}: {steps} steps ...", flush=True)
            rows.append(measure(config, steps, args.threads, out))

    reference = rows[0]["sps"]
    print(f"\ntorch threads per run: {args.threads}; reference: {rows[0]['config']}")
    print(f"{'config':42s} {'steps/s':>8s} {'ratio':>6s} {'h per 1M':>9s} {'h, 3 seeds':>11s}")
    for row in rows:
        hours = 1e6 / row["sps"] / 3600
        row.update(ratio=row["sps"] / reference, hours_per_1m=hours, hours_protocol=3 * hours)
        print(f"{row['config']:42s} {row['sps']:8.0f} {row['ratio']:5.2f}x {hours:9.2f} {3 * hours:11.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
