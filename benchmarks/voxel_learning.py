"""Does PPO learn to chop trees in the voxel world? The full-size learning check, by hand.

Run::

    python benchmarks/voxel_learning.py                   # 100k agent steps, ~7 min on a free core
    python benchmarks/voxel_learning.py --steps 50000 --eval-every 25000 --episodes 10

It trains craftlab's PPO with configs/voxel/ppo_treechop.yaml (MineRL's PFRL pipeline:
Discrete(5) table, 64x64 pov, frame skip 4, grayscale, 4 frames stacked, NatureCNN) and,
every ``--eval-every`` agent steps, plays ``--episodes`` 1000-tick episodes with the
stochastic policy on worlds 10000, 10001, ... (``train.py eval``'s seeds), beside a random
policy over the same table on the same worlds. It exits with status 1 unless the final
policy collects at least 1.5x the random policy's logs (the learning check that is too
slow for the test suite; tests/test_voxel_learning.py has a one-minute version).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from craftlab.agents.registry import agent_class  # noqa: E402
from craftlab.envs.factory import EnvFactory  # noqa: E402
from craftlab.runs.run_config import load_run_config  # noqa: E402

CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "voxel" / "ppo_treechop.yaml"


def logs_per_episode(factory: EnvFactory, policy, episodes: int, seed: int = 10_000) -> list[float]:
    env = factory.make()
    out = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += reward
            done = terminated or truncated
        out.append(total)
    env.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="agent steps of PPO (default 100000)")
    parser.add_argument("--eval-every", type=int, default=25_000, help="agent steps between evaluations")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes (worlds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    cfg = load_run_config(CONFIG, args.set)
    factory = EnvFactory(cfg.env, num_envs=cfg.train.num_envs, seed=args.seed, vector="sync")
    agent = agent_class(cfg.algo.name)(cfg.algo, factory, "cpu", args.seed)
    rng = np.random.default_rng(args.seed)
    n_actions = int(factory.action_space.n)
    random = logs_per_episode(factory, lambda obs: int(rng.integers(n_actions)), args.episodes)
    print(f"random policy: {np.mean(random):.2f} +- {np.std(random) / np.sqrt(len(random)):.2f} logs per episode")
    start, learned = time.time(), random
    while agent.num_timesteps < args.steps:
        agent.learn(min(agent.num_timesteps + args.eval_every, args.steps))
        learned = logs_per_episode(
            factory, lambda obs: int(agent.act(obs[None], deterministic=False)[0][0]), args.episodes
        )
        print(
            f"PPO {agent.num_timesteps:>7} agent steps ({time.time() - start:6.0f} s): "
            f"{np.mean(learned):.2f} +- {np.std(learned) / np.sqrt(len(learned)):.2f} logs per episode",
            flush=True,
        )
    agent.close()
    ok = np.mean(learned) >= 1.5 * np.mean(random)
    print(f"PPO / random: {np.mean(learned) / max(np.mean(random), 1e-9):.2f}x -> {'learns' if ok else 'NOT LEARNING'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
