"""A stand-in for a MineRL env: MineRL's exact interface, a tiny scripted world.

:class:`StandInMineRLEnv` speaks the *old* gym API the way minerl 0.4.4 / 1.0
do, so everything around MineRL can be tested without Java or Minecraft:

* spaces from :mod:`craftlab.envs.minerl.specs` (MineRL-style ``Enum``/``Dict``);
* ``seed(s)`` before ``reset()`` (the seed is used by the next reset only),
  ``reset() -> obs``, ``step(action) -> (obs, reward, done, info)``;
* rewards are Python floats, ``info`` is ``{}``; stepping after ``done`` raises
  ``RuntimeError("Attempted to step an environment server with done=True")``;
* partial action dicts are accepted (missing keys do nothing); Enum actions
  must be *strings* among the Enum's values (``strict=False`` ignores other
  values the way Malmo ignores ``"place 2"``);
* observations carry the real env's *uncast* types: inventory counts and
  damage as 0-d int64 arrays, the compass angle as a 0-d float64 array, the
  held item's type as a Python ``str``, the pov as ``uint8[H, W, 3]``;
* the episode ends by the task's rule or when the "server" times up at
  ``server_max_steps`` (MineRL's ``ServerQuitFromTimeUp``); :func:`make_standin`
  adds gym's ``TimeLimit`` as ``gym.make`` does (``info["TimeLimit.truncated"]``).

The world (:class:`_World`) is a ring of trees around the agent, a compass
target, and a column of blocks under its feet:

* Treechop: +1 per log above the running maximum; done at 64 logs.
* Navigate(Extreme)(Dense): +100 on reaching the target (done); Dense adds
  (previous - current distance) each step.
* ObtainDiamond/IronPickaxe(Dense): MineRL's item schedule (log 1 ... diamond
  1024), once per item (sparse) or per unit above the running maximum (Dense);
  done on a diamond / on crafting an iron pickaxe.
* VectorObf: the base task behind a fixed random linear "obfuscation" (not
  MineRL's secret MLP): action ``vector[0..4]`` drive attack, forward, jump and
  the camera.
* BASALT: no reward; done 10 steps after throwing the snowball (0.4.4) or on
  ``ESC`` (1.0).

Optional fault injection (``crash_probability``, ``hang_probability``,
``hang_seconds``) makes ``step`` raise or sleep, to test crash recovery.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from craftlab.envs.minerl.specs import OBTAIN_REWARDS, EnvSpec, spec

_MAX_DAMAGE = {
    "wooden_pickaxe": 59,
    "wooden_axe": 59,
    "stone_pickaxe": 131,
    "stone_axe": 131,
    "iron_pickaxe": 250,
    "iron_axe": 250,
}
_CRAFT = {
    "planks": ({"log": 1}, 4),
    "stick": ({"planks": 2}, 4),
    "crafting_table": ({"planks": 4}, 1),
    "torch": ({"coal": 1, "stick": 1}, 4),
}
_NEARBY_CRAFT = {
    "wooden_pickaxe": {"planks": 3, "stick": 2},
    "wooden_axe": {"planks": 3, "stick": 2},
    "stone_pickaxe": {"cobblestone": 3, "stick": 2},
    "stone_axe": {"cobblestone": 3, "stick": 2},
    "iron_pickaxe": {"iron_ingot": 3, "stick": 2},
    "iron_axe": {"iron_ingot": 3, "stick": 2},
    "furnace": {"cobblestone": 8},
}
_HITS_PER_BLOCK = 3
_FOV = 70.0
_instances = itertools.count()


def _wrap(angle: float) -> float:
    """Angle in degrees -> [-180, 180)."""
    return (angle + 180.0) % 360.0 - 180.0


class StepAfterDoneError(RuntimeError):
    pass


class _World:
    """The scripted world's state and rules (one episode)."""

    def __init__(self, rng: np.random.Generator, with_target: bool):
        self.rng = rng
        self.yaw = float(rng.uniform(-180, 180))
        self.pitch = 0.0
        self.pos = np.zeros(2)
        n_trees = 6
        self.tree_angle = np.sort(rng.uniform(-180, 180, n_trees))
        self.tree_dist = rng.uniform(2.0, 6.0, n_trees)
        self.tree_logs = np.full(n_trees, 16)
        self.hits = 0
        self.depth = 0
        self.table_nearby = False
        self.furnace_nearby = False
        self.target = None
        if with_target:
            bearing = rng.uniform(-math.pi, math.pi)
            dist = 64.0 + rng.uniform(0, 8)
            self.target = np.array([math.sin(bearing), math.cos(bearing)]) * dist

    def faced_tree(self) -> int | None:
        rel = np.abs([_wrap(a - self.yaw) for a in self.tree_angle])
        i = int(np.argmin(rel))
        return i if rel[i] < 15.0 and self.tree_logs[i] > 0 and self.pitch < 30 else None

    def target_distance(self) -> float:
        return float(np.linalg.norm(self.target - self.pos)) if self.target is not None else 0.0

    def compass_angle(self) -> float:
        d = self.target - self.pos
        bearing = math.degrees(math.atan2(d[0], d[1]))
        return _wrap(bearing - self.yaw)

    def block_below(self) -> str:
        d = self.depth
        if d < 2:
            return "dirt"
        if d >= 30:
            return "diamond"
        if d >= 12 and d % 4 == 0:
            return "iron_ore"
        if d % 5 == 0:
            return "coal"
        return "stone"

    def render(self, h: int, w: int) -> np.ndarray:
        img = np.empty((h, w, 3), np.uint8)
        horizon = int(np.clip(h / 2 - self.pitch / 90.0 * h, 0, h))
        img[:horizon] = (120, 170, 255)
        ground = {
            "dirt": (95, 160, 60),
            "stone": (120, 120, 120),
            "coal": (40, 40, 40),
            "iron_ore": (200, 150, 120),
            "diamond": (80, 230, 230),
        }[self.block_below()]
        img[horizon:] = ground
        objects = [(a, d, (110, 75, 35)) for a, d, n in zip(self.tree_angle, self.tree_dist, self.tree_logs) if n > 0]
        if self.target is not None:
            objects.append((self.yaw + self.compass_angle(), max(self.target_distance() / 8, 0.5), (60, 220, 220)))
        for angle, dist, color in sorted(objects, key=lambda o: -o[1]):
            rel = _wrap(angle - self.yaw)
            if abs(rel) > _FOV / 2 + 10:
                continue
            cx = w / 2 + rel / (_FOV / 2) * (w / 2)
            half = max(1.0, w * 0.2 / max(dist, 0.5))
            x0, x1 = int(np.clip(cx - half, 0, w)), int(np.clip(cx + half, 0, w))
            top = int(np.clip(horizon - h * 0.6 / max(dist, 0.5), 0, h))
            bottom = int(np.clip(horizon + h * 0.1 / max(dist, 0.5), 0, h))
            img[top:bottom, x0:x1] = color
        return img


class StandInMineRLEnv:
    """An env with MineRL's old-gym interface and a scripted world (see module doc).

    Args:
        env_id: a MineRL id (0.4.4: any of the 33; 1.0: Treechop, Navigate*, BASALT).
        version: ``'0.4.4'`` or ``'1.0'`` (1.0 BASALT: 360x640 pov, 24 keys, done on ESC).
        server_max_steps: the "server" ends the episode (done, no truncation flag)
            after this many steps; default: the id's ``max_episode_steps``.
        strict: raise on actions MineRL would silently mishandle (an int for an
            Enum, an unknown key); False ignores them as Malmo does.
        crash_probability: chance per step that ``step`` raises ``ConnectionError``.
        hang_probability: chance per step that ``step`` sleeps ``hang_seconds`` first.
        hang_seconds: length of an injected hang.
        fault_seed: seed of the fault injection (mixed with an instance counter,
            so a restarted env does not repeat the same faults).
    """

    metadata = {"render.modes": ["human", "rgb_array"], "video_frames_per_second": 20}
    reward_range = (-float("inf"), float("inf"))

    def __init__(
        self,
        env_id: str = "MineRLTreechop-v0",
        version: str = "0.4.4",
        server_max_steps: int | None = None,
        strict: bool = True,
        crash_probability: float = 0.0,
        hang_probability: float = 0.0,
        hang_seconds: float = 0.0,
        fault_seed: int = 0,
    ):
        self.spec_: EnvSpec = spec(env_id, version)
        self.env_id = env_id
        self.version = version
        self.observation_space = self.spec_.observation_space
        self.action_space = self.spec_.action_space
        self.server_max_steps = server_max_steps or self.spec_.max_episode_steps
        self.strict = strict
        task = self.spec_.task
        self._task = task
        self._vector = "vector" in self.action_space.spaces
        self._dense = "Dense" in env_id
        self._pov_shape = self.observation_space["pov"].shape
        self.crash_probability, self.hang_probability, self.hang_seconds = (
            crash_probability,
            hang_probability,
            hang_seconds,
        )
        self._fault_rng = np.random.default_rng([fault_seed, next(_instances)])
        self._seed_rng = np.random.default_rng()
        self._next_seed: int | None = None
        self._world: _World | None = None
        self._done = True
        self._steps = 0
        self._last_pov: np.ndarray | None = None
        if self._vector:
            proj_rng = np.random.default_rng(12345)
            self._obs_proj = proj_rng.normal(0, 0.3, (self.observation_space["vector"].shape[0], 8))
        self.closed = False

    # ------------------------------------------------------------ gym API

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Seed the next ``reset`` (and both spaces); cleared by that reset."""
        self._next_seed = seed
        self.observation_space.seed(seed)
        self.action_space.seed(seed)
        return [seed]

    def reset(self) -> OrderedDict:
        seed = self._next_seed if self._next_seed is not None else int(self._seed_rng.integers(2**31))
        self._next_seed = None
        rng = np.random.default_rng(seed)
        self._world = _World(rng, with_target=self._task.startswith("Navigate"))
        self._inv: dict[str, int] = {k: 0 for k in OBTAIN_REWARDS}
        self._inv.update({"dirt": 0, "coal": 0, "torch": 0, "stone": 0, "iron_axe": 0, "stone_axe": 0, "wooden_axe": 0})
        if self._task == "Treechop":
            self._inv["iron_axe"] = 1
        if self._task.startswith("Basalt"):
            self._inv["snowball"] = 1
        self._max_seen = dict(self._inv)
        self._obtained: set[str] = set()
        self._mainhand = "air" if self._task.startswith("Obtain") else "none"
        self._damage = 0
        self._snowball_countdown: int | None = None
        self._crafted_iron_pickaxe = False
        self._prev_dist = self._world.target_distance()
        self._done = False
        self._steps = 0
        return self._observation()

    def step(self, action: dict[str, Any]) -> tuple[OrderedDict, float, bool, dict]:
        if self._done:
            raise StepAfterDoneError("Attempted to step an environment server with done=True")
        self._inject_faults()
        act = self._parse(action)
        self._steps += 1
        reward, done = self._apply(act)
        if self._steps >= self.server_max_steps:
            done = True
        self._done = done
        return self._observation(), float(reward), bool(done), {}

    def render(self, mode: str = "human") -> np.ndarray | None:
        if self._last_pov is None:
            return None
        return self._last_pov.copy()

    def noop_action(self) -> OrderedDict:
        return self.action_space.no_op()

    def close(self) -> None:
        self.closed = True

    @property
    def unwrapped(self) -> "StandInMineRLEnv":
        return self

    # ------------------------------------------------------------ internals

    def _inject_faults(self) -> None:
        if self.hang_probability and self._fault_rng.random() < self.hang_probability:
            time.sleep(self.hang_seconds)
        if self.crash_probability and self._fault_rng.random() < self.crash_probability:
            raise ConnectionError("stand-in: injected crash (Minecraft connection lost)")

    def _parse(self, action: dict[str, Any]) -> dict[str, Any]:
        """Partial dict -> full dict of plain values, checked as MineRL would send them."""
        if not isinstance(action, dict):
            raise TypeError(f"MineRL actions are dicts, got {type(action).__name__}")
        out: dict[str, Any] = {}
        for key, space in self.action_space.spaces.items():
            if key not in action:
                out[key] = space.no_op()
                continue
            value = action[key]
            if hasattr(space, "values"):  # Enum: strings only
                if not (isinstance(value, (str, np.str_)) and space.contains(str(value))):
                    if self.strict:
                        raise ValueError(
                            f"Enum action {key!r} got {value!r}; MineRL sends str(x) to Malmo "
                            f"({key} {value}), so it must be one of {space.values.tolist()}"
                        )
                    value = space.default
                out[key] = str(value)
            elif hasattr(space, "n"):
                out[key] = int(np.asarray(value).item())
            else:
                out[key] = np.asarray(value, dtype=np.float64).reshape(space.shape)
        unknown = set(action) - set(self.action_space.spaces)
        if unknown and self.strict:
            raise KeyError(f"unknown action keys {sorted(unknown)}; valid: {list(self.action_space.spaces)}")
        if self._vector:
            v = out["vector"]
            out = {
                "attack": int(v[0] > 0),
                "forward": int(v[1] > 0),
                "jump": int(v[2] > 0),
                "camera": np.clip(v[3:5], -1, 1) * 10.0,
            }
        return out

    def _gain(self, item: str, n: int = 1) -> None:
        self._inv[item] = self._inv.get(item, 0) + n

    def _has(self, cost: dict[str, int]) -> bool:
        return all(self._inv.get(k, 0) >= v for k, v in cost.items())

    def _pay(self, cost: dict[str, int]) -> None:
        for k, v in cost.items():
            self._inv[k] -= v

    def _apply(self, a: dict[str, Any]) -> tuple[float, bool]:
        w = self._world
        assert w is not None
        cam = np.asarray(a.get("camera", (0.0, 0.0)), dtype=np.float64)
        w.pitch = float(np.clip(w.pitch + cam[0], -90, 90))
        w.yaw = _wrap(w.yaw + cam[1])
        move = a.get("forward", 0) - a.get("back", 0)
        strafe = a.get("right", 0) - a.get("left", 0)
        speed = 1.3 if a.get("sprint", 0) else 1.0
        ry = math.radians(w.yaw)
        w.pos = w.pos + speed * (
            move * np.array([math.sin(ry), math.cos(ry)]) + strafe * np.array([math.cos(ry), -math.sin(ry)])
        )
        tree = w.faced_tree()
        if tree is not None and move > 0:
            w.tree_dist[tree] = max(1.0, w.tree_dist[tree] - 1.0)
        if a.get("attack", 0):
            w.hits += 1
            if w.hits >= _HITS_PER_BLOCK:
                w.hits = 0
                if tree is not None and w.tree_dist[tree] <= 1.0:
                    w.tree_logs[tree] -= 1
                    self._gain("log")
                elif w.pitch >= 45:
                    self._mine(w)
        else:
            w.hits = 0
        if self._task.startswith("Obtain"):
            self._craft(a)
        done = False
        reward = 0.0
        if self._task == "Treechop":
            reward = self._collect_reward({"log": 1.0}, dense=True)
            done = self._inv["log"] >= 64
        elif self._task.startswith("Navigate"):
            if a.get("place") == "dirt" and self._inv["dirt"] > 0:
                self._inv["dirt"] -= 1
            dist = w.target_distance()
            if self._dense:
                reward += self._prev_dist - dist
            self._prev_dist = dist
            if dist < 1.5:
                reward += 100.0
                done = True
        elif self._task.startswith("Obtain"):
            schedule = dict(OBTAIN_REWARDS)
            if "IronPickaxe" in self._task:
                schedule.pop("diamond")
            reward = self._collect_reward(schedule, dense=self._dense)
            done = self._inv["diamond"] >= 1 if "Diamond" in self._task else self._crafted_iron_pickaxe
        elif self._task.startswith("Basalt"):
            if self.version == "1.0":
                done = bool(a.get("ESC", 0))
            else:
                if a.get("equip", "none") not in ("none",):
                    self._mainhand = a["equip"]
                if (
                    self._snowball_countdown is None
                    and a.get("use", 0)
                    and self._mainhand == "snowball"
                    and self._inv.get("snowball", 0) > 0
                ):
                    self._inv["snowball"] -= 1
                    self._snowball_countdown = 10
                elif self._snowball_countdown is not None:
                    self._snowball_countdown -= 1
                done = self._snowball_countdown == 0
        return reward, done

    def _mine(self, w: _World) -> None:
        block = w.block_below()
        tool = self._mainhand
        tier = {"wooden_pickaxe": 1, "stone_pickaxe": 2, "iron_pickaxe": 3}.get(tool, 0)
        need = {"dirt": 0, "stone": 1, "coal": 1, "iron_ore": 2, "diamond": 3}[block]
        if tier < need:
            return
        self._gain({"stone": "cobblestone"}.get(block, block))
        if tool in _MAX_DAMAGE:
            self._damage += 1
        w.depth += 1

    def _craft(self, a: dict[str, Any]) -> None:
        self._crafted_iron_pickaxe = False
        item = a.get("craft", "none")
        if item in _CRAFT and self._has(_CRAFT[item][0]):
            self._pay(_CRAFT[item][0])
            self._gain(item, _CRAFT[item][1])
        item = a.get("nearbyCraft", "none")
        if item in _NEARBY_CRAFT and self._world.table_nearby and self._has(_NEARBY_CRAFT[item]):
            self._pay(_NEARBY_CRAFT[item])
            self._gain(item)
            self._crafted_iron_pickaxe = item == "iron_pickaxe"
        item = a.get("nearbySmelt", "none")
        if item != "none" and self._world.furnace_nearby:
            cost = {"iron_ingot": {"iron_ore": 1}, "coal": {"log": 1}}[item]
            fuel = "coal" if self._inv["coal"] > 0 and item != "coal" else "planks"
            cost = {**cost, fuel: cost.get(fuel, 0) + 1}
            if self._has(cost):
                self._pay(cost)
                self._gain(item)
        item = a.get("place", "none")
        if item != "none" and self._inv.get(item, 0) > 0:
            self._inv[item] -= 1
            if item == "crafting_table":
                self._world.table_nearby = True
            if item == "furnace":
                self._world.furnace_nearby = True
        item = a.get("equip", "none")
        if item != "none" and (item == "air" or self._inv.get(item, 0) > 0) and item != self._mainhand:
            self._mainhand, self._damage = item, 0

    def _collect_reward(self, schedule: dict[str, float], dense: bool) -> float:
        """Sparse: an item pays the first time it is held. Dense: per unit above its running maximum."""
        reward = 0.0
        for item, value in schedule.items():
            count = self._inv.get(item, 0)
            if dense:
                if count > self._max_seen.get(item, 0):
                    reward += value * (count - self._max_seen[item])
            elif count > 0 and item not in self._obtained:
                self._obtained.add(item)
                reward += value
            self._max_seen[item] = max(self._max_seen.get(item, 0), count)
        return reward

    def _observation(self) -> OrderedDict:
        w = self._world
        assert w is not None
        pov = w.render(*self._pov_shape[:2])
        self._last_pov = pov
        obs: OrderedDict[str, Any] = OrderedDict()
        for key, space in self.observation_space.spaces.items():
            if key == "pov":
                obs[key] = pov
            elif key == "compass":
                obs[key] = OrderedDict(angle=np.array(w.compass_angle(), dtype=np.float64))
            elif key == "inventory":
                obs[key] = OrderedDict((k, np.array(self._inv.get(k, 0), dtype=np.int64)) for k in space.spaces)
            elif key == "equipped_items":
                hand = self._mainhand
                obs[key] = OrderedDict(
                    mainhand=OrderedDict(
                        damage=np.array(self._damage, dtype=np.int64),
                        maxDamage=np.array(_MAX_DAMAGE.get(hand, 0), dtype=np.int64),
                        type=str(hand),
                    )
                )
            elif key == "vector":
                feats = np.array(
                    [
                        self._inv.get(k, 0)
                        for k in ("log", "planks", "stick", "cobblestone", "iron_ore", "iron_ingot", "dirt", "diamond")
                    ],
                    np.float64,
                )
                low, high = space.low.min(), space.high.max()
                obs[key] = np.clip(self._obs_proj @ np.log1p(feats), low, high).astype(np.float32)
        return obs


class OldGymTimeLimit:
    """gym 0.19's ``TimeLimit`` as ``gym.make`` applies it: after
    ``max_episode_steps`` steps, ``info["TimeLimit.truncated"] = not done`` and
    ``done = True``."""

    def __init__(self, env: StandInMineRLEnv, max_episode_steps: int | None):
        self.env = env
        self._max_episode_steps = max_episode_steps
        self._elapsed_steps: int | None = None
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.metadata = env.metadata
        self.reward_range = env.reward_range

    def seed(self, seed: int | None = None) -> list[int | None]:
        return self.env.seed(seed)

    def reset(self, **kwargs: Any) -> OrderedDict:
        self._elapsed_steps = 0
        return self.env.reset(**kwargs)

    def step(self, action: dict[str, Any]) -> tuple[OrderedDict, float, bool, dict]:
        assert self._elapsed_steps is not None, "Cannot call env.step() before calling reset()"
        obs, reward, done, info = self.env.step(action)
        self._elapsed_steps += 1
        if self._max_episode_steps is not None and self._elapsed_steps >= self._max_episode_steps:
            info["TimeLimit.truncated"] = not done
            done = True
        return obs, reward, done, info

    def render(self, mode: str = "human") -> Any:
        return self.env.render(mode)

    def noop_action(self) -> OrderedDict:
        return self.env.noop_action()

    def close(self) -> None:
        self.env.close()

    @property
    def unwrapped(self) -> StandInMineRLEnv:
        return self.env


def make_standin(
    env_id: str = "MineRLTreechop-v0", version: str = "0.4.4", max_episode_steps: int | None = None, **kwargs: Any
) -> OldGymTimeLimit:
    """What ``gym.make(env_id)`` returns with MineRL, for the stand-in: the env
    in a gym-0.19-style TimeLimit (``max_episode_steps``: default the id's own;
    MineRL's server times up at the same step, as in MineRL, unless
    ``server_max_steps`` says otherwise)."""
    if max_episode_steps is not None:  # a MineRL EnvSpec's limit sets both the server's and gym's
        kwargs.setdefault("server_max_steps", max_episode_steps)
    env = StandInMineRLEnv(env_id, version, **kwargs)
    return OldGymTimeLimit(env, max_episode_steps or env.spec_.max_episode_steps)
