"""Training throughput: craftlab PPO vs Stable-Baselines3 PPO on the identical Crafter setting.

Run by hand (it takes a few minutes)::

    python benchmarks/throughput.py                 # 4 envs x 128 steps, NatureCNN, 3 epochs, 4 minibatches
    python benchmarks/throughput.py --steps 16384 --num-envs 8

Each contender runs in its own fresh subprocess (clean peak-memory figures):

* ``env only``   the same vectorised Crafter envs stepped with random actions:
                 the ceiling for any trainer; the gap to it is the training loop's cost
* ``craftlab``   craftlab's PPO (``agents/ppo.py``), envs in subprocesses with shared memory
* ``sb3``        SB3's PPO with ``CnnPolicy`` (NatureCNN, 512 features, shared extractor), SubprocVecEnv

each with the crafter package's own engine, and again (``... fast``) with
craftlab's bit-identical faster engine (``envs/crafter_fast.py``), so the
trainers are compared on equal envs and the env's share shows separately.

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


def run_env_only(args) -> dict:
    import numpy as np

    from craftlab.config import EnvConfig
    from envs.factory import EnvFactory

    envs = EnvFactory(EnvConfig(id="crafter", kwargs={"engine": args.engine}), num_envs=args.num_envs,
                      vector="async").make_vector()
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
    workers = _workers_peak_mb(envs.processes)
    envs.close()
    return {"sps": sps, "workers_mb": workers}


def run_craftlab(args) -> dict:
    import torch

    from craftlab.config import load_run_config
    from craftlab.run import RunContext, build_agent

    torch.set_num_threads(args.threads)
    data = {
        "env": {"id": "crafter", "kwargs": {"engine": args.engine}},
        "algo": {"name": "ppo", "num_steps": args.num_steps, "update_epochs": args.epochs,
                 "num_minibatches": args.minibatches, "learning_rate": 3e-4,
                 "network": {"kind": "nature_cnn", "features": 512}},
        "train": {"num_envs": args.num_envs, "vector": "async", "device": "cpu", "progress_bar": False},
    }
    agent = build_agent(load_run_config(data=data))
    batch = args.num_steps * args.num_envs
    agent.learn(batch, RunContext(batch))  # warm-up: start workers, first update
    t0, s0 = time.perf_counter(), agent.num_timesteps
    agent.learn(s0 + args.steps, RunContext(s0 + args.steps))
    sps = (agent.num_timesteps - s0) / (time.perf_counter() - t0)
    workers = _workers_peak_mb(agent._vec_env.processes)
    agent.close()
    return {"sps": sps, "workers_mb": workers}


def run_sb3(args) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from craftlab.config import EnvConfig
    from envs.factory import EnvFactory

    torch.set_num_threads(args.threads)
    factory = EnvFactory(EnvConfig(id="crafter", kwargs={"engine": args.engine}), num_envs=args.num_envs)
    from agents.sb3 import _EnvFn

    vec = SubprocVecEnv([_EnvFn(factory, i) for i in range(args.num_envs)], start_method="forkserver")
    batch = args.num_steps * args.num_envs
    model = PPO("CnnPolicy", vec, n_steps=args.num_steps, batch_size=batch // args.minibatches,
                n_epochs=args.epochs, learning_rate=3e-4, device="cpu", verbose=0, seed=0)
    model.learn(batch)  # warm-up
    t0, s0 = time.perf_counter(), model.num_timesteps
    model.learn(args.steps, reset_num_timesteps=False)
    sps = (model.num_timesteps - s0) / (time.perf_counter() - t0)
    workers = _workers_peak_mb(vec.processes)
    vec.close()
    return {"sps": sps, "workers_mb": workers}


CONTENDERS = {"env only": run_env_only, "craftlab": run_craftlab, "sb3": run_sb3,
              "env only fast": run_env_only, "craftlab fast": run_craftlab, "sb3 fast": run_sb3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8192, help="env steps measured per contender (after warm-up)")
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=128, help="rollout length per env")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="torch threads of the learner")
    parser.add_argument("--only", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="crafter", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.only:  # child process: run one contender, print JSON
        result = CONTENDERS[args.only](args)
        result["trainer_mb"] = _peak_memory_mb()
        print("RESULT " + json.dumps(result))
        return

    print(f"Crafter, {args.num_envs} envs x {args.num_steps} steps, NatureCNN(512), {args.epochs} epochs x "
          f"{args.minibatches} minibatches, {args.threads} torch thread(s), {args.steps} measured steps, "
          f"{os.cpu_count()} CPU cores\n")
    results = {}
    for name in CONTENDERS:
        engine = "fast" if name.endswith("fast") else "crafter"
        cmd = [sys.executable, __file__, "--only", name, "--engine", engine, "--steps", str(args.steps),
               "--num-envs", str(args.num_envs), "--num-steps", str(args.num_steps), "--epochs", str(args.epochs),
               "--minibatches", str(args.minibatches), "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if not line:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        results[name] = json.loads(line[0][7:])
        r = results[name]
        print(f"  {name:14s} {r['sps']:8.0f} steps/s   peak memory: trainer {r['trainer_mb']:5.0f} MB, "
              f"env workers {r['workers_mb']:5.0f} MB", flush=True)
    print()
    for ours, ref in (("craftlab", "sb3"), ("craftlab fast", "sb3 fast"), ("craftlab fast", "sb3")):
        if ours in results and ref in results:
            print(f"  {ours:14s} / {ref:9s} steps per second: {results[ours]['sps'] / results[ref]['sps']:.2f}x")
    for suffix in ("", " fast"):
        for name in ("craftlab", "sb3"):
            if name + suffix in results and "env only" + suffix in results:
                overhead = 1 - results[name + suffix]["sps"] / results["env only" + suffix]["sps"]
                print(f"  {name + suffix:14s}: training costs {overhead:.0%} of pure env-stepping throughput")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
