"""``python train.py record``: play a policy for whole episodes and save them as a dataset.

::

    python train.py record RUN_OR_CONFIG --episodes N --out DIR
        [--policy random|scripted:NAME] [--checkpoint STEP] [--stochastic] [--epsilon E]
        [--seed S] [--num-envs E] [--chunk-transitions K] [--device cpu|cuda|auto]

``RUN_OR_CONFIG`` is a run folder (its agent acts, at its latest checkpoint or
``--checkpoint STEP``; greedy unless ``--stochastic``; ``--policy`` replaces it)
or a config YAML (its ``env:`` section; then ``--policy`` is required). Episode
``k`` is reset with ``S + k``. The dataset (``DIR/manifest.json``,
``DIR/chunks/*.npz``, see :mod:`craftlab.datasets.recorded`) trains behaviour
cloning with ``algo.data: DIR``. A mistake is one ``error:`` line with exit
status 2 and nothing on disk; a failure or Ctrl-C while recording deletes
``DIR``. Nothing is written outside ``DIR``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from craftlab.commands.evaluate import load_trained_agent
from craftlab.core.errors import UserError
from craftlab.core.run_dir import RunDir
from craftlab.envs.factory import EnvFactory
from craftlab.runs.recording import (
    AgentPolicy,
    EpsilonNoisyPolicy,
    RecordingPolicy,
    named_policy,
    record,
    recording_env_config,
)

EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py record",
        description="Record whole episodes of a trained agent, a random or a scripted policy as a dataset.",
    )
    p.add_argument("source", metavar="RUN_OR_CONFIG", help="a run folder (runs/<name>) or a config YAML")
    p.add_argument("--episodes", type=int, required=True, help="whole episodes to record")
    p.add_argument("--out", required=True, help="the new dataset folder (must not exist)")
    p.add_argument(
        "--policy",
        help="'random' or 'scripted:NAME' (e.g. scripted:cartpole_balance); default: the run folder's agent",
    )
    p.add_argument("--checkpoint", type=int, metavar="STEP", help="the run's checkpoint at this step (default: latest)")
    p.add_argument("--stochastic", action="store_true", help="sample the agent's actions (default: greedy)")
    p.add_argument(
        "--epsilon",
        type=float,
        default=0.0,
        help="take a uniform random action instead with this probability per step (a mediocre "
        "behaviour policy for offline RL; default 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="episode k is reset with seed+k (default 0)")
    p.add_argument("--num-envs", type=int, default=1, help="envs played side by side, one policy batch (default 1)")
    p.add_argument(
        "--chunk-transitions",
        type=int,
        default=10_000,
        metavar="K",
        help="transitions per compressed chunk file (whole episodes; default 10000)",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="the agent's device")
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``python train.py record``."""
    args = parser().parse_args(argv)
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    if not 0.0 <= args.epsilon <= 1.0:
        raise UserError(f"--epsilon must be in [0, 1], got {args.epsilon}")
    out = Path(args.out)
    if out.exists() or out.is_symlink():
        raise UserError(f"--out '{out}' already exists; choose a new folder (a dataset is never overwritten)")
    source = Path(args.source)
    env_config = recording_env_config(source)  # refuses a missing path or a folder that is no run
    if args.policy is not None or not RunDir(source).is_run():
        if args.policy is None:
            raise UserError(
                f"'{source}' is a config, not a run folder: say what acts with --policy random or "
                "--policy scripted:NAME (or pass a run folder to record its agent)"
            )
        if args.checkpoint is not None or args.stochastic:
            raise UserError(
                f"--checkpoint and --stochastic choose a run's agent; leave them out with --policy {args.policy}"
            )
    agent = None
    policy: RecordingPolicy
    if args.policy is None:
        loaded = load_trained_agent(source, args.checkpoint, device=args.device)
        agent = loaded.agent
        mode = "stochastic" if args.stochastic else "greedy"
        print(f"policy: {source}, {loaded.note}, {mode}")
        policy = AgentPolicy(agent, f"{source} step {loaded.checkpoint.step} ({mode})", not args.stochastic)
    else:
        policy = named_policy(args.policy, env_config, args.seed)
    if args.epsilon > 0:
        policy = EpsilonNoisyPolicy(policy, EnvFactory(env_config).action_space, args.epsilon, args.seed)
    if args.policy is not None or args.epsilon > 0:
        print(f"policy: {policy.description}")
    every = max(1, args.episodes // 10)

    def progress(done: int, episode_return: float, length: int) -> None:
        if done % every == 0 or done == args.episodes:
            print(f"  episode {done}/{args.episodes}: return {episode_return:.2f}, length {length}", flush=True)

    t0 = time.perf_counter()
    try:
        manifest = record(
            env_config,
            policy,
            out,
            args.episodes,
            seed=args.seed,
            num_envs=args.num_envs,
            chunk_transitions=args.chunk_transitions,
            on_episode=progress,
        )
    except KeyboardInterrupt:
        print(f"interrupted: nothing recorded ('{out}' removed)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if agent is not None:
            agent.close()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"recorded {manifest.episodes} episodes, {manifest.transitions} transitions in "
        f"{time.perf_counter() - t0:.1f} s: return {manifest.return_mean:.2f} ± {manifest.return_std:.2f} "
        f"(min {manifest.return_min:.2f}, max {manifest.return_max:.2f}), "
        f"{len(manifest.chunks)} chunks, {size / 2**20:.2f} MiB"
    )
    print(f"dataset: {out}   (behaviour cloning: --set algo.data={out})")
    return 0
