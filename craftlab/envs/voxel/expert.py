"""A scripted Treechop expert and the demonstrations it writes in MineRL's format.

:class:`TreechopExpert` plays the voxel world's Treechop with privileged
knowledge (the block array): it walks to the nearest log at eye level, chops
the leaves in its way and the log, jumps over what blocks it, and turns when
no log is ahead. It decides every ``decision_interval`` ticks (default 4, the
frame skip of the PFRL recipe) and only uses moves the PFRL ``Discrete(5)``
table can express (attack always, forward held or released, jump, yaw
-10/+10 degrees a tick), so behaviour cloning with that table
(configs/minerl/bc_treechop.yaml) sees labels it can reproduce exactly. Its
actions are complete MineRL Dict actions, as a person's in MineRL's dataset.

:func:`record_demonstrations` writes its episodes in MineRL 0.4.4's on-disk
layout, read by :mod:`craftlab.datasets.minerl` as if downloaded::

    <root>/MineRLTreechop-v0/v3_voxel_expert_s<seed>/recording.mp4   T+1 pov frames, 20 fps
                                                     rendered.npz    reward (T), action$<key> (T),
                                                                     observation$<path> (T+1, no pov)
                                                                     metadata.json

Run it::

    python -m craftlab.envs.voxel.expert --out data/voxel_demos --episodes 40 --max-episode-steps 1000
    python train.py configs/voxel/bc_treechop.yaml          # reads data/voxel_demos
    python -m craftlab.envs.voxel.expert --compare --episodes 20 --seed 10000   # expert vs random
"""

from __future__ import annotations

import argparse
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np

from craftlab.envs.voxel import blocks as B
from craftlab.envs.voxel.env import VoxelMineRLEnv
from craftlab.envs.voxel.player import EYE_HEIGHT, wrap_degrees

KEYS = ("attack", "back", "forward", "jump", "left", "right", "sneak", "sprint")


class TreechopExpert:
    """Scripted Treechop player for a :class:`VoxelMineRLEnv` (see module doc).

    Args:
        env: the env it plays (its ``game`` is read, never changed).
        decision_interval: ticks each decision is held for.
        turn_degrees: yaw per tick of a turn (the table's 10).
        align_degrees: a log within this bearing of the view counts as ahead
            (a decision turns ``turn_degrees * decision_interval``, so half of that).
        chop_reach: it stops to chop a log or leaves under the crosshair this close
            (blocks from the eye; nearer than Minecraft's 4.5 reach, so that "stop and
            chop" is when the block fills the middle of the view).
        seed: of the random turns when no log is in sight.
    """

    def __init__(
        self,
        env: VoxelMineRLEnv,
        decision_interval: int = 4,
        turn_degrees: float = 10.0,
        align_degrees: float | None = None,
        chop_reach: float = 2.5,
        seed: int = 0,
    ):
        self.env = env
        self.chop_reach = chop_reach
        self.decision_interval = decision_interval
        self.turn_degrees = turn_degrees
        self.align = align_degrees if align_degrees is not None else turn_degrees * decision_interval / 2
        self.rng = np.random.default_rng(seed)
        self._held: dict[str, Any] | None = None
        self._left = 0
        self._last_pos: np.ndarray | None = None
        self._stuck = 0
        self._decisions = 0
        self._escape, self._escape_dir = 0, 1.0
        self._goal: tuple[int, int] | None = None
        self._goal_best, self._goal_since = 0.0, 0
        self._ignored: dict[tuple[int, int], int] = {}
        """log columns given up on, until that decision number"""
        self.choices: list[str] = []
        """the decision taken at each decision step ('chop', 'turn_left', ...), for inspection"""

    def reset(self) -> None:
        self._held, self._left, self._last_pos, self._stuck = None, 0, None, 0
        self._goal, self._ignored, self._escape = None, {}, 0

    def act(self) -> OrderedDict:
        """The MineRL action for the next tick."""
        if self._left <= 0 or self._held is None:
            self._held = self._decide()
            self._left = self.decision_interval
        self._left -= 1
        return OrderedDict((k, np.array(v, copy=True) if k == "camera" else v) for k, v in self._held.items())

    def _action(self, forward: int = 1, jump: int = 0, yaw: float = 0.0) -> dict[str, Any]:
        a: dict[str, Any] = {k: 0 for k in KEYS}
        a["attack"], a["forward"], a["jump"] = 1, forward, jump
        a["camera"] = np.array([0.0, yaw], np.float32)
        return a

    def _decide(self) -> dict[str, Any]:
        game = self.env.game
        assert game is not None, "reset the env first"
        p, world = game.player, game.world.blocks
        self._decisions += 1
        walked = bool(self.choices) and self.choices[-1] in ("forward", "turn_left", "turn_right", "search", "escape")
        moved = self._last_pos is None or float(np.hypot(*(p.pos - self._last_pos)[[0, 2]])) > 0.05
        self._stuck = self._stuck + 1 if (walked and not moved) else 0
        self._last_pos = p.pos.copy()
        hit, x, y, z, _, _, _ = p.target(world, reach=self.chop_reach)
        if hit and world[x, y, z] in (B.LOG, B.LEAVES):
            self.choices.append("chop")
            return self._action(forward=0)
        if self._stuck == 1:
            self.choices.append("jump")
            return self._action(jump=1)
        if self._stuck >= 2 or self._escape > 0:
            # blocked where the crosshair does not reach (a jump did not help): give this
            # log up for a while and turn away
            if self._escape <= 0:
                if self._goal is not None:
                    self._ignored[self._goal] = self._decisions + 40
                self._escape, self._escape_dir = 3, float(self.rng.choice([-1.0, 1.0]))
            self._escape -= 1
            self._stuck = 0
            self.choices.append("escape")
            return self._action(yaw=self._escape_dir * self.turn_degrees)
        rel = self._bearing_to_log()
        if rel is None:
            self.choices.append("search")
            return self._action(yaw=self.turn_degrees)
        if abs(rel) > self.align:
            self.choices.append("turn_right" if rel > 0 else "turn_left")
            return self._action(yaw=math.copysign(self.turn_degrees, rel))
        self.choices.append("forward")
        return self._action()

    def _bearing_to_log(self) -> float | None:
        """Bearing (degrees, + right) of the best log in the eye's layer (near, little turning,
        not given up on), and remember it as the goal. Gives a goal up when walking to it has
        not brought the player closer for 8 decisions."""
        game = self.env.game
        assert game is not None
        p, world = game.player, game.world.blocks
        layer = int(math.floor(p.pos[1] + EYE_HEIGHT))
        if not 0 <= layer < world.shape[1]:
            return None
        logs = np.argwhere(world[:, layer, :] == B.LOG)
        logs = np.array([c for c in logs if self._ignored.get((int(c[0]), int(c[1])), 0) < self._decisions])
        if len(logs) == 0:
            return None
        d = logs + 0.5 - p.pos[[0, 2]]
        dist = np.hypot(d[:, 0], d[:, 1])
        bearing = np.degrees(np.arctan2(-d[:, 0], d[:, 1]))
        rel = (bearing - p.yaw + 180.0) % 360.0 - 180.0
        best = int(np.argmin(dist + np.abs(rel) / 30.0))
        goal = (int(logs[best][0]), int(logs[best][1]))
        if goal != self._goal:
            self._goal, self._goal_best, self._goal_since = goal, float(dist[best]), self._decisions
        elif dist[best] < self._goal_best - 0.3:
            self._goal_best, self._goal_since = float(dist[best]), self._decisions
        elif self._decisions - self._goal_since > 8:
            self._ignored[goal] = self._decisions + 40
            self._goal = None
        return float(wrap_degrees(float(rel[best])))


def _flatten(tree: Any, prefix: str, out: dict[str, list]) -> None:
    """Nested observation/action -> ``{'a$b$c': [values]}`` (MineRL's npz keys)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, f"{prefix}${k}" if prefix else k, out)
    else:
        out.setdefault(prefix, []).append(tree)


def write_trajectory(
    path: Path,
    frames: list[np.ndarray],
    actions: list[dict],
    rewards: list[float],
    observations: list[dict],
    meta: dict[str, Any],
) -> None:
    """One trajectory in MineRL 0.4.4's layout (``len(frames) == len(actions) + 1``)."""
    path.mkdir(parents=True, exist_ok=True)
    with imageio.get_writer(
        path / "recording.mp4", fps=20, codec="libx264", quality=9, macro_block_size=1, ffmpeg_log_level="error"
    ) as writer:
        for frame in frames:
            writer.append_data(frame)
    data: dict[str, list] = {}
    for a in actions:
        _flatten(a, "action", data)
    for o in observations:
        _flatten({k: v for k, v in o.items() if k != "pov"}, "observation", data)
    arrays = {k: np.asarray(v) for k, v in data.items()}
    for k in [k for k in arrays if k.startswith("action$") and arrays[k].dtype.kind in "iub"]:
        arrays[k] = arrays[k].astype(np.int64)
    arrays["reward"] = np.asarray(rewards, np.float32)
    np.savez_compressed(path / "rendered.npz", **arrays)
    (path / "metadata.json").write_text(json.dumps({**meta, "true_video_frame_count": len(frames)}))


def record_demonstrations(
    root: str | Path,
    episodes: int,
    seed: int = 0,
    max_episode_steps: int = 1000,
    minerl_id: str = "MineRLTreechop-v0",
    **env_kwargs: Any,
) -> list[Path]:
    """Play ``episodes`` expert episodes (world seeds ``seed``, ``seed + 1``, ...) and
    write each as ``<root>/<minerl_id>/v3_voxel_expert_s<seed>``. Returns the folders."""
    if not minerl_id.startswith("MineRLTreechop"):
        raise ValueError(f"the scripted expert plays Treechop only, not {minerl_id}")
    out = []
    for k in range(episodes):
        env = VoxelMineRLEnv(minerl_id, max_episode_steps=max_episode_steps, **env_kwargs)
        env.seed(seed + k)
        obs = env.reset()
        expert = TreechopExpert(env, seed=seed + k)
        frames, observations, actions, rewards = [obs["pov"]], [obs], [], []
        done = False
        while not done:
            action = expert.act()
            obs, reward, done, _ = env.step(action)
            frames.append(obs["pov"])
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
        name = f"v3_voxel_expert_s{seed + k}"
        meta = {
            "success": bool(sum(rewards) >= 64),
            "duration_ms": 50 * len(actions),
            "duration_steps": len(actions),
            "total_reward": float(sum(rewards)),
            "stream_name": name,
            "source": "craftlab voxel world scripted expert",
            "world_seed": seed + k,
        }
        path = Path(root) / minerl_id / name
        write_trajectory(path, frames, actions, rewards, observations, meta)
        out.append(path)
    return out


def play(
    policy: str, episodes: int, seed: int = 10_000, max_episode_steps: int = 1000, minerl_id: str = "MineRLTreechop-v0"
) -> list[float]:
    """Logs per episode of ``'expert'`` or ``'random'`` on worlds ``seed``, ``seed + 1``, ...
    ``'random'`` picks uniformly among the PFRL table's 5 actions and holds each 4 ticks, as a
    random agent behind configs/voxel/ppo_treechop.yaml's wrappers does."""
    if policy not in ("expert", "random"):
        raise ValueError(f"policy must be 'expert' or 'random', got {policy!r}")
    out = []
    for k in range(episodes):
        env = VoxelMineRLEnv(minerl_id, max_episode_steps=max_episode_steps)
        env.seed(seed + k)
        env.reset()
        expert = TreechopExpert(env, seed=seed + k)
        rng = np.random.default_rng(seed + k)
        total, done, t, action = 0.0, False, 0, expert._action()
        while not done:
            if policy == "expert":
                action = expert.act()
            elif t % 4 == 0:
                choice = int(rng.integers(5))
                action = expert._action(
                    forward=int(choice != 1),
                    jump=int(choice == 2),
                    yaw=(-10.0, 10.0)[choice - 3] if choice >= 3 else 0.0,
                )
            _, reward, done, _ = env.step(action)
            total += reward
            t += 1
        out.append(total)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write scripted-expert Treechop demonstrations in MineRL's format "
        "(--out), or compare the expert with a random policy (--compare)."
    )
    parser.add_argument("--out", help="data root (MINERL_DATA_ROOT for the loader)")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0, help="world seed of the first episode")
    parser.add_argument("--max-episode-steps", type=int, default=1000, help="ticks per episode")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="play the expert and a random PFRL-table policy on the same worlds, print logs/episode",
    )
    args = parser.parse_args(argv)
    if args.compare:
        for policy in ("random", "expert"):
            logs = play(policy, args.episodes, args.seed, args.max_episode_steps)
            print(
                f"{policy:<7} {np.mean(logs):5.2f} +- {np.std(logs) / np.sqrt(len(logs)):.2f} logs per "
                f"{args.max_episode_steps}-tick episode ({args.episodes} worlds from seed {args.seed})"
            )
        return 0
    if not args.out:
        parser.error("give --out DIR (to write demonstrations) or --compare")
    paths = record_demonstrations(args.out, args.episodes, args.seed, args.max_episode_steps)
    logs = [json.loads((p / "metadata.json").read_text())["total_reward"] for p in paths]
    print(
        f"{len(paths)} demonstrations under {Path(args.out) / 'MineRLTreechop-v0'}: "
        f"{np.mean(logs):.1f} logs per episode (min {min(logs):.0f}, max {max(logs):.0f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
