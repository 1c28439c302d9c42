"""The voxel world's steps per second beside craftlab's Crafter engine, one core, one run.

Run by hand::

    python benchmarks/voxel_env.py                       # 10,000 steps each, seed 0
    python benchmarks/voxel_env.py --steps 50000 --task MineRLObtainDiamond-v0

Engines (each plays a random policy and is reset whenever an episode ends; the
time of every ``step`` and ``reset`` call is counted):

* ``voxel MineRL API`` -- :class:`craftlab.envs.voxel.env.VoxelMineRLEnv`, the
  old-gym env with MineRL's Dict actions (what MineRL's ``gym.make`` returns);
* ``voxel Gymnasium`` -- the same behind craftlab's MineRL adapter
  (``make_voxel``, what ``env.id: voxel/MineRLTreechop-v0`` builds);
* ``voxel + PFRL wrappers`` -- the adapter with the wrappers of
  configs/minerl/ppo_treechop.yaml (Discrete(5) table, pov only, frame skip 4,
  grayscale, 4 frames stacked); one agent step is 4 env steps, counted as 4;
* ``Crafter fast`` -- :class:`craftlab.envs.crafter.CrafterEnv` with
  ``engine="fast"`` (uniform over its 17 actions), as in benchmarks/crafter_env.py.

The engines run side by side in blocks of ``--block`` steps, alternating, so a
change in machine load affects all alike. Steps/s are given two ways: per
second of CPU time of this process (``time.process_time``: what one core
delivers, the figure to compare with the 2,000 target) and per second of wall
clock (lower on a busy machine). All render a 64x64 RGB observation per step.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from craftlab.core.config import EnvConfig, WrapperConfig  # noqa: E402
from craftlab.envs.crafter import CrafterEnv  # noqa: E402
from craftlab.envs.registry import apply_wrappers  # noqa: E402
from craftlab.envs.voxel.env import VoxelMineRLEnv, make_voxel  # noqa: E402

PFRL_WRAPPERS = [
    WrapperConfig(
        "minerl_discrete",
        {
            "always_keys": ["attack"],
            "reverse_keys": ["forward"],
            "exclude_keys": ["back", "left", "right", "sneak", "sprint"],
        },
    ),
    WrapperConfig("minerl_pov"),
    WrapperConfig("minerl_frame_skip", {"skip": 4}),
    WrapperConfig("minerl_pov_transform", {"grayscale": True}),
    WrapperConfig("minerl_frame_stack", {"k": 4}),
]


def random_minerl_actions(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """Random MineRL Dict actions: keys pressed now and then, attack and forward often, small turns."""
    p = {
        "attack": 0.8,
        "forward": 0.6,
        "jump": 0.1,
        "back": 0.05,
        "left": 0.05,
        "right": 0.05,
        "sneak": 0.02,
        "sprint": 0.1,
    }
    out = []
    for _ in range(n):
        a: dict[str, Any] = {k: int(rng.random() < q) for k, q in p.items()}
        a["camera"] = np.array([rng.normal(0, 2), rng.normal(0, 6)], np.float32)
        out.append(a)
    return out


class Runner:
    """One engine playing a fixed list of actions; accumulates wall and CPU time of step and reset."""

    def __init__(
        self, reset: Callable[[], Any], step: Callable[[Any], bool], actions: list[Any], env_steps_per_step: int = 1
    ):
        self.reset_fn, self.step_fn, self.actions = reset, step, actions
        self.env_steps_per_step = env_steps_per_step
        self.wall = self.cpu = 0.0
        self.steps = self.resets = 0
        self.needs_reset = True
        self.i = 0

    def run(self, n_env_steps: int) -> None:
        n = max(1, n_env_steps // self.env_steps_per_step)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            if self.needs_reset:
                self.reset_fn()
                self.resets += 1
                self.needs_reset = False
            self.needs_reset = self.step_fn(self.actions[self.i % len(self.actions)])
            self.i += 1
            self.steps += self.env_steps_per_step
        self.wall += time.perf_counter() - wall0
        self.cpu += time.process_time() - cpu0


def build(task: str, seed: int) -> dict[str, Runner]:
    rng = np.random.default_rng(seed)
    dict_actions = random_minerl_actions(rng, 4096)

    raw = VoxelMineRLEnv(task)
    raw.seed(seed)

    def raw_step(a: Any) -> bool:
        return raw.step(a)[2]

    gym_env = make_voxel(task)
    gym_actions = [
        {k: (gym_env.action_space[k].index[v] if isinstance(v, str) else v) for k, v in a.items()} for a in dict_actions
    ]
    seeds = iter(range(seed, seed + 10**6))

    def gym_step(a: Any) -> bool:
        _, _, term, trunc, _ = gym_env.step(a)
        return term or trunc

    wrapped = apply_wrappers(make_voxel(task), EnvConfig(id="voxel/" + task, wrappers=PFRL_WRAPPERS))
    table_actions = rng.integers(0, wrapped.action_space.n, 4096).tolist()

    def wrapped_step(a: Any) -> bool:
        _, _, term, trunc, _ = wrapped.step(a)
        return term or trunc

    crafter = CrafterEnv(engine="fast")
    crafter_actions = rng.integers(0, 17, 4096).tolist()

    def crafter_step(a: Any) -> bool:
        _, _, term, trunc, _ = crafter.step(a)
        return term or trunc

    return {
        "voxel MineRL API": Runner(raw.reset, raw_step, dict_actions),
        "voxel Gymnasium": Runner(lambda: gym_env.reset(seed=next(seeds)), gym_step, gym_actions),
        "voxel + PFRL wrappers": Runner(lambda: wrapped.reset(seed=next(seeds)), wrapped_step, table_actions, 4),
        "Crafter fast": Runner(lambda: crafter.reset(seed=next(seeds)), crafter_step, crafter_actions),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000, help="env steps per engine (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="world and action seed (default 0)")
    parser.add_argument("--block", type=int, default=500, help="steps per alternating block (default 500)")
    parser.add_argument("--task", default="MineRLTreechop-v0", help="the voxel task (default MineRLTreechop-v0)")
    args = parser.parse_args(argv)

    runners = build(args.task, args.seed)
    for runner in runners.values():  # warm up outside the timing: numba compiles or loads its cache
        runner.run(200)
        runner.wall = runner.cpu = 0.0
        runner.steps = runner.resets = 0
    done = 0
    while done < args.steps:
        n = min(args.block, args.steps - done)
        for runner in runners.values():
            runner.run(n)
        done += n

    print(
        f"random policies, {args.steps} env steps per engine, seed {args.seed}, resets included, "
        f"64x64 RGB observations; voxel task {args.task}"
    )
    print(f"{'engine':<24} {'steps/s (CPU)':>14} {'steps/s (wall)':>15} {'resets':>7} {'ms/step (CPU)':>14}")
    for name, r in runners.items():
        print(
            f"{name:<24} {r.steps / r.cpu:14.0f} {r.steps / r.wall:15.0f} {r.resets:7d} {1000 * r.cpu / r.steps:14.3f}"
        )
    voxel, crafter = runners["voxel Gymnasium"], runners["Crafter fast"]
    print(
        f"voxel (Gymnasium) / Crafter fast, steps per CPU second: {(voxel.steps / voxel.cpu) / (crafter.steps / crafter.cpu):.2f}"
    )


if __name__ == "__main__":
    main()
