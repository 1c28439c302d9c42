"""The voxel world as a MineRL env: old gym API inside, the MineRL adapter outside.

:class:`VoxelMineRLEnv` speaks the *old* gym API exactly like MineRL 0.4.4
(and like the stand-in, :mod:`craftlab.envs.minerl.standin`):

* spaces: MineRL's own, from :func:`craftlab.envs.minerl.specs.spec` (sorted
  Dicts, Enums whose actions are value *strings*);
* ``seed(s)`` then ``reset() -> obs``: the seed fixes the world, the start and
  every later reset's world (a generator seeded with ``s`` draws one world seed
  per reset, as Crafter does); nothing in a step is random, so the same seed
  and actions give the same frames and rewards;
* ``step(action) -> (obs, reward, done, info)``, ``info == {}``; partial
  action dicts are fine (missing keys do nothing); an Enum action must be one
  of its value strings (``strict=False`` ignores others, as Malmo would);
  stepping after ``done`` raises, as MineRL's server does;
* the episode ends by the task's rule or at ``max_episode_steps`` (the
  server's time-up, also applied as gym's ``TimeLimit`` by :func:`make_voxel`).

:func:`make_voxel` is craftlab's entry point (``env.id: voxel/MineRLTreechop-v0``):
the old-gym env inside the *same* Gymnasium adapter as real MineRL
(:class:`craftlab.envs.minerl.adapter.MineRLEnv`), so every MineRL wrapper,
agent, demonstration reader and config works unchanged. It accepts the
MineRL-only keyword arguments of MineRL configs (``standin: false``,
``crash_recovery``, ``server_start_timeout``) so that changing ``env.id`` is
the only edit a MineRL config needs; the voxel world runs in-process and
cannot crash or hang like Minecraft, so ``crash_recovery`` is not applied.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from craftlab.core.config import ConfigError
from craftlab.envs.minerl.adapter import MineRLEnv
from craftlab.envs.minerl.standin import OldGymTimeLimit, StepAfterDoneError
from craftlab.envs.voxel.game import Game
from craftlab.envs.voxel.ids import VOXEL_PREFIX
from craftlab.envs.voxel.render import FOV_DEGREES, Camera, overlay
from craftlab.envs.voxel.tasks import TASK_IDS, make_task
from craftlab.envs.voxel.world import generate

POV_SIZE = 64
"""MineRL 0.4.4's pov is 64x64"""


class VoxelMineRLEnv:
    """A MineRL task in the voxel world, old gym API (see module doc).

    Args:
        minerl_id: the MineRL id whose task and spaces to mirror (:data:`~craftlab.envs.voxel.tasks.TASK_IDS`).
        max_episode_steps: the server's time limit (default: the MineRL id's, 8000 for Treechop).
        render_size: side of ``render()``'s frame for people (pov stays 64x64).
        strict: reject unknown action keys and Enum values that are not value strings.
        world_size, world_height, tree_density, hills, water_level: override the task's world
            (:class:`~craftlab.envs.voxel.world.WorldSpec`; None keeps the task's).
        daylight_cycle: let the day pass (None: the task's choice, on for Obtain as in MineRL).
        fov: vertical field of view, degrees.
    """

    metadata = {"render.modes": ["rgb_array"], "video.frames_per_second": 20}
    reward_range = (-float("inf"), float("inf"))

    def __init__(
        self,
        minerl_id: str = "MineRLTreechop-v0",
        max_episode_steps: int | None = None,
        render_size: int = 240,
        strict: bool = True,
        world_size: int | None = None,
        world_height: int | None = None,
        tree_density: float | None = None,
        hills: float | None = None,
        water_level: int | None = None,
        daylight_cycle: bool | None = None,
        fov: float = FOV_DEGREES,
    ):
        self.task = make_task(minerl_id)
        self.minerl_id = minerl_id
        self.spec_ = self.task.spec
        self.observation_space = self.spec_.observation_space
        self.action_space = self.spec_.action_space
        self.world_spec = self.task.world_spec.with_overrides(
            size=world_size, height=world_height, tree_density=tree_density, hills=hills, water_level=water_level
        )
        self.server_max_steps = int(max_episode_steps or self.spec_.max_episode_steps or 0) or None
        self.daylight_cycle = self.task.daylight_cycle if daylight_cycle is None else bool(daylight_cycle)
        self.strict = strict
        self.camera = Camera(POV_SIZE, POV_SIZE, fov)
        self.view = Camera(render_size, render_size, fov)
        self._keys = [(k, _kind(k, s), s) for k, s in self.action_space.spaces.items()]
        self._seed_rng = np.random.default_rng()
        self.game: Game | None = None
        self.episode_seed: int | None = None
        self._done = False
        self.steps = 0
        self.closed = False

    # ------------------------------------------------------------ gym API

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Seed the worlds of the next resets (and the spaces' samplers)."""
        self._seed_rng = np.random.default_rng(seed)
        self.observation_space.seed(seed)
        self.action_space.seed(seed)
        return [seed]

    def reset(self) -> OrderedDict:
        self.episode_seed = int(self._seed_rng.integers(2**63 - 1))
        rng = np.random.default_rng(self.episode_seed)
        world = generate(self.world_spec, rng)
        player, inventory = self.task.start(world, rng)
        self.game = Game(world, player, inventory, daylight_cycle=self.daylight_cycle)
        self.task.reset(self.game, rng)
        self._done = False
        self.steps = 0
        return self._observation()

    def step(self, action: dict[str, Any]) -> tuple[OrderedDict, float, bool, dict]:
        if self._done:
            raise StepAfterDoneError("Attempted to step an environment server with done=True")
        if self.game is None:
            raise RuntimeError("reset() before step()")
        self.game.tick(self._parse(action))
        self.steps += 1
        reward = self.task.reward(self.game)
        done = self.task.done(self.game)
        if self.server_max_steps is not None and self.steps >= self.server_max_steps:
            done = True
        self._done = done
        return self._observation(), float(reward), bool(done), {}

    def render(self, mode: str = "rgb_array") -> np.ndarray | None:
        """The first-person view at ``render_size`` with a crosshair and the inventory (for people)."""
        if self.game is None:
            return None
        frame = self._draw(self.view)
        return overlay(frame, self.status_lines())

    def noop_action(self) -> OrderedDict:
        return self.action_space.no_op()

    def close(self) -> None:
        self.closed = True

    @property
    def unwrapped(self) -> "VoxelMineRLEnv":
        return self

    # ------------------------------------------------------------ internals

    def _draw(self, camera: Camera) -> np.ndarray:
        g = self.game
        assert g is not None
        m = g.mining
        target = np.array(m.target if m.target is not None else (-1, -1, -1), np.int64)
        return camera.render(g.grid, g.player.eye, g.player.yaw, g.player.pitch, g.light, target, m.fraction)

    def _observation(self) -> OrderedDict:
        assert self.game is not None
        return self.task.observation(self.game, self._draw(self.camera))

    def status_lines(self) -> list[str]:
        """Held item, inventory and the task's status, for the overlay."""
        g = self.game
        assert g is not None
        inv = g.inventory
        items = [f"{k} {v}" for k, v in sorted(inv.counts.items()) if v > 0 and k != "compass"]
        lines = [f"hand: {inv.mainhand}" + (f" ({inv.damage}/{inv.max_damage})" if inv.max_damage else "")]
        lines += ["  ".join(items[i : i + 3]) for i in range(0, len(items), 3)]
        return lines + self.task.status(g)

    def _parse(self, action: dict[str, Any]) -> dict[str, Any]:
        """A (partial) MineRL action dict -> plain values for every key, checked as MineRL would."""
        if not isinstance(action, dict):
            raise TypeError(f"MineRL actions are dicts, got {type(action).__name__}")
        out: dict[str, Any] = {}
        for key, kind, space in self._keys:
            value = action.get(key)
            if value is None:
                out[key] = _NOOP_CAMERA if kind == _CAMERA else ("none" if kind == _ENUM else 0)
            elif kind == _KEY:
                out[key] = int(value)
            elif kind == _CAMERA:
                cam = np.asarray(value, dtype=np.float64).reshape(2)
                if not (math.isfinite(cam[0]) and math.isfinite(cam[1])):
                    raise ValueError(f"camera action must be finite, got {cam}")
                out[key] = cam
            else:  # Enum: value strings only
                if not (isinstance(value, (str, np.str_)) and space.contains(str(value))):
                    if self.strict:
                        raise ValueError(
                            f"Enum action {key!r} got {value!r}; MineRL sends str(x) to Malmo "
                            f"({key} {value}), so it must be one of {space.values.tolist()}"
                        )
                    value = space.default
                out[key] = str(value)
        if self.strict and any(k not in out for k in action):
            unknown = sorted(k for k in action if k not in out)
            raise KeyError(f"unknown action keys {unknown}; valid: {list(out)}")
        return out


_KEY, _CAMERA, _ENUM = range(3)
_NOOP_CAMERA = np.zeros(2)


def _kind(key: str, space: Any) -> int:
    if key == "camera":
        return _CAMERA
    return _ENUM if hasattr(space, "values") else _KEY


class VoxelEnv(MineRLEnv):
    """The MineRL adapter around :class:`VoxelMineRLEnv`; ``render()`` is the
    larger view with the inventory overlay instead of the 64x64 pov."""

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.voxel.render("rgb_array")

    @property
    def voxel(self) -> VoxelMineRLEnv:
        """The voxel world env inside the time limit."""
        return self.inner.unwrapped


def make_voxel(
    minerl_id: str = "MineRLTreechop-v0",
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    render_size: int = 240,
    world_size: int | None = None,
    world_height: int | None = None,
    tree_density: float | None = None,
    hills: float | None = None,
    water_level: int | None = None,
    daylight_cycle: bool | None = None,
    fov: float = FOV_DEGREES,
    strict: bool = True,
    time_up_is_truncation: bool = True,
    minerl_version: str = "0.4.4",
    standin: bool = False,
    crash_recovery: dict[str, Any] | None = None,
    server_start_timeout: float | None = None,
    python: str | None = None,
    standin_kwargs: dict[str, Any] | None = None,
) -> VoxelEnv:
    """A MineRL task in the voxel world as a Gymnasium env (craftlab's entry point).

    Args:
        minerl_id: the MineRL id to mirror (set by the registry from ``env.id``;
            a ``voxel/`` prefix is accepted).
        render_mode: None or ``"rgb_array"``.
        max_episode_steps: the episode's time limit (default: the MineRL id's).
        render_size: side of the frames ``render()`` returns (the pov is always 64x64).
        world_size: x/z extent of the world in blocks (default: the task's: 64; 160 for Navigate).
        world_height: y extent in blocks.
        tree_density: chance a grass column starts a tree (Treechop's default 0.06).
        hills: terrain height noise amplitude, blocks.
        water_level: sand and water below this height (0: none).
        daylight_cycle: let the day pass (default: on for Obtain, off otherwise, as in MineRL).
        fov: vertical field of view in degrees (Minecraft's 70).
        strict: reject unknown action keys and non-string Enum actions, as MineRL does.
        time_up_is_truncation: as the MineRL adapter's (an episode ending exactly at the limit is truncated).
        minerl_version: '0.4.4' (the spaces mirrored).
        standin, crash_recovery, server_start_timeout: accepted so MineRL configs run with
            only ``env.id`` changed; ``standin`` must be false and ``crash_recovery`` is not
            applied (nothing to recover: no Minecraft process).
        python, standin_kwargs: MineRL-only; setting them is a configuration error.
    """
    env_id = minerl_id.removeprefix(VOXEL_PREFIX)
    if env_id not in TASK_IDS:
        raise ConfigError(
            f"env.id: the voxel world mirrors {', '.join(VOXEL_PREFIX + i for i in TASK_IDS)}; got {minerl_id!r}"
        )
    if minerl_version != "0.4.4":
        raise ConfigError(
            f"env.kwargs.minerl_version: the voxel world has MineRL 0.4.4's spaces, not {minerl_version!r}"
        )
    if standin:
        raise ConfigError("env.kwargs.standin: the voxel world needs no Minecraft; remove standin (or set it false)")
    if python is not None:
        raise ConfigError("env.kwargs.python: the voxel world runs in craftlab's own interpreter; remove python")
    if standin_kwargs:
        raise ConfigError(
            "env.kwargs.standin_kwargs is for the MineRL stand-in; the voxel world's options are "
            "env.kwargs.max_episode_steps, world_size, tree_density, ..."
        )
    del crash_recovery, server_start_timeout  # accepted, nothing to do (see docstring)
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
    limit = max_episode_steps

    def make_inner() -> OldGymTimeLimit:
        env = VoxelMineRLEnv(
            env_id,
            max_episode_steps=limit,
            render_size=render_size,
            strict=strict,
            world_size=world_size,
            world_height=world_height,
            tree_density=tree_density,
            hills=hills,
            water_level=water_level,
            daylight_cycle=daylight_cycle,
            fov=fov,
        )
        return OldGymTimeLimit(env, env.server_max_steps)  # type: ignore[arg-type]

    inner_factory: Callable[[], Any] = make_inner
    return VoxelEnv(
        inner_factory, VOXEL_PREFIX + env_id, render_mode=render_mode, time_up_is_truncation=time_up_is_truncation
    )
