"""What Ray Tune costs: a 16-trial sweep on CartPole with Ray vs the same trials one after another.

Run by hand (a few minutes)::

    python benchmarks/sweep_overhead.py                       # 16 trials of PPO, 4,096 steps each
    python benchmarks/sweep_overhead.py --trials 16 --steps 8192 --cpus 4

Both contenders train the identical 16 configurations (PPO on CartPole-v1,
learning rates drawn log-uniformly from [1e-4, 3e-3] with a fixed seed, one
torch thread each, checkpoints every quarter of the budget):

* ``one after another``  craftlab's ``train()`` called 16 times in this process (no
                         process start-up, no scheduler: the floor for sequential work)
* ``Ray``                ``train.py sweep``'s machinery (craftlab.runs.ray_tune.run_sweep), no
                         early stopping, one CPU per trial, on a local Ray with ``--cpus`` CPUs

Printed: Ray's start-up (``ray.init``), the first trial's start latency (from
``fit()`` to its run's first log line: a worker process starting and importing
torch and craftlab), the sweep's wall time, and Ray's overhead per trial,
``(cpus x Ray wall - sum of the sequential run times) / trials``: CPU-slot time
not spent training (process start-up, Tune's bookkeeping and reporting, and
slots idle at the end when fewer trials than CPUs remain).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from craftlab.core.config import load_yaml
from craftlab.runs.ray_tune import TRIAL_PROCESS_ENV, run_sweep
from craftlab.runs.run_config import load_run_config
from craftlab.runs.search_space import SweepConfig, apply_values, parse_distribution
from craftlab.runs.training import train

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ppo_cartpole.yaml"


def sweep_data(steps: int) -> dict:
    data = load_yaml(CONFIG)
    data["train"].update(
        {
            "total_timesteps": steps,
            "num_envs": 4,
            "checkpoint_interval": steps // 4,
            "eval_interval": 0,
            "torch_threads": 1,
            "progress_bar": False,
            "device": "cpu",
        }
    )
    return data


def learning_rates(n: int) -> list[float]:
    rng = random.Random(0)
    return [float(f"{math.exp(rng.uniform(math.log(1e-4), math.log(3e-3))):.3g}") for _ in range(n)]


def log_time(run_dir: Path, text: str) -> float | None:
    """The time of the first line of the run's train.log containing ``text``."""
    for line in (run_dir / "train.log").read_text().splitlines():
        if text in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4096, help="env steps per trial")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs of the local Ray")
    parser.add_argument("--out", help="folder for the runs (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = Path(args.out or tempfile.mkdtemp(prefix="sweep_overhead_"))
    data, rates = sweep_data(args.steps), learning_rates(args.trials)
    print(f"{args.trials} trials of PPO on CartPole-v1, {args.steps:,} steps each, learning rates {rates}")
    print(f"runs in {out}; load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")

    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import craftlab.runs.training"], check=True)
    import_s = time.perf_counter() - t

    sequential = []
    t0 = time.perf_counter()
    for i, lr in enumerate(rates):
        t = time.perf_counter()
        train(
            load_run_config(data=apply_values(data, {"algo.learning_rate": lr})),
            out / "sequential" / f"run_{i:03d}",
            handle_signals=False,
        )
        sequential.append(time.perf_counter() - t)
    seq_wall = time.perf_counter() - t0
    print(f"one after another: {seq_wall:7.1f} s   ({statistics.mean(sequential):.1f} s per run)")

    import ray

    t = time.perf_counter()
    ray.init(
        num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": TRIAL_PROCESS_ENV}
    )  # as craftlab's start_ray, with --cpus
    init_s = time.perf_counter() - t
    space = {"algo.learning_rate": parse_distribution(f"grid({', '.join(map(str, rates))})", "benchmark")}
    sweep = SweepConfig(samples=1, scheduler="none", metric="charts/episodic_return", max_failures=0)
    folder = out / "ray"
    fit_start = time.time()
    t = time.perf_counter()
    result = run_sweep(folder, data, space, sweep)
    ray_wall = time.perf_counter() - t
    ray.shutdown()
    starts = [log_time(folder / r.trial, "new run") for r in result.rows]
    first_latency = min(s for s in starts if s is not None) - fit_start
    overhead = (args.cpus * ray_wall - sum(sequential)) / args.trials
    statuses = {r.status for r in result.rows}
    print(f"Ray, {args.cpus} CPUs:      {ray_wall:7.1f} s   (+ ray.init {init_s:.1f} s; trials {sorted(statuses)})")
    print(
        f"  speed-up vs one after another: {seq_wall / ray_wall:.2f}x on {args.cpus} CPUs "
        f"({seq_wall / (ray_wall + init_s):.2f}x counting ray.init)"
    )
    print(
        f"  first trial's start latency: {first_latency:.1f} s (a fresh process importing torch + craftlab: "
        f"{import_s:.1f} s alone)"
    )
    print(
        f"  Ray's overhead per trial: {overhead:.1f} s of a CPU slot "
        f"({100 * overhead / statistics.mean(sequential):.0f}% of a {statistics.mean(sequential):.1f} s run)"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    (out / "sweep_overhead.json").write_text(
        json.dumps(
            {
                "trials": args.trials,
                "steps": args.steps,
                "cpus": args.cpus,
                "sequential_s": seq_wall,
                "sequential_runs_s": sequential,
                "ray_init_s": init_s,
                "ray_wall_s": ray_wall,
                "first_trial_latency_s": first_latency,
                "overhead_per_trial_s": overhead,
                "import_s": import_s,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
