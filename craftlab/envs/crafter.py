"""Crafter (Hafner 2021), the 2D Minecraft benchmark, as a Gymnasium environment.

The ``crafter`` package still speaks the old Gym API (``done`` and a 4-tuple).
:class:`CrafterEnv` adapts it:

* ``terminated`` is death (health <= 0); ``truncated`` is the episode limit
  (10,000 steps by default), which the old API folded into one ``done``.
* ``reset(seed=s)`` re-seeds the world generator, so the same seed and the same
  actions give the same episode, step for step (Crafter's world of episode k is
  generated from ``hash((seed, k))``). Stock crafter alone does not quite do
  this: each chunk keeps its creatures in a Python ``set``, whose iteration order
  follows memory addresses, and a despawn picks a creature by that order, so two
  runs with one seed drift apart after ~100 steps. Both engines here keep chunk
  sets in insertion order (:class:`OrderedChunksWorld`), one of the orders stock
  crafter itself can produce, which makes episodes reproducible.
* ``info["achievements"]`` holds how often each of the 22 achievements was
  unlocked in this episode so far (:data:`ACHIEVEMENTS` lists them).
* The agent sees a 64x64 RGB image; ``render()`` (``render_mode="rgb_array"``)
  draws the same view at ``render_size`` for people to watch.
* ``engine="fast"`` (the default) renders and generates worlds ~8x faster with
  bit-identical observations (``envs/crafter_fast.py``; ``tests/test_crafter_fast.py``
  compares them); ``engine="crafter"`` runs the package's own code.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from craftlab.core.metrics import AchievementMetrics
from craftlab.envs.crafter_fast import FastCrafter
from craftlab.envs.crafter_world import OrderedChunksWorld, OrderedSet

__all__ = ["ACHIEVEMENTS", "CrafterEnv", "OrderedChunksWorld", "OrderedSet", "crafter_metrics", "crafter_score"]

ACHIEVEMENTS: tuple[str, ...] = (
    "collect_coal",
    "collect_diamond",
    "collect_drink",
    "collect_iron",
    "collect_sapling",
    "collect_stone",
    "collect_wood",
    "defeat_skeleton",
    "defeat_zombie",
    "eat_cow",
    "eat_plant",
    "make_iron_pickaxe",
    "make_iron_sword",
    "make_stone_pickaxe",
    "make_stone_sword",
    "make_wood_pickaxe",
    "make_wood_sword",
    "place_furnace",
    "place_plant",
    "place_stone",
    "place_table",
    "wake_up",
)
"""The 22 Crafter achievements, in the crafter package's (alphabetical) order."""

ACTIONS: tuple[str, ...] = (
    "noop",
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "do",
    "sleep",
    "place_stone",
    "place_table",
    "place_furnace",
    "place_plant",
    "make_wood_pickaxe",
    "make_stone_pickaxe",
    "make_iron_pickaxe",
    "make_wood_sword",
    "make_stone_sword",
    "make_iron_sword",
)
"""Crafter's 17 actions, index = action id."""


class CrafterEnv(gym.Env):
    """Crafter with the Gymnasium API. Observation ``uint8[64, 64, 3]``, ``Discrete(17)``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        area: tuple[int, int] = (64, 64),
        view: tuple[int, int] = (9, 9),
        size: tuple[int, int] = (64, 64),
        reward: bool = True,
        length: int = 10_000,
        render_mode: str | None = None,
        render_size: tuple[int, int] = (576, 576),
        semantic: bool = False,
        engine: str = "fast",
    ):
        """
        Args:
            area: world size in cells.
            view: the agent's view in cells (9x9, of which the bottom 9x2 show the inventory).
            size: observation size in pixels (the agent sees ``size`` x 3 uint8).
            reward: give Crafter's reward (+1 per first unlock of an achievement,
                +-0.1 per health point); False gives 0 (achievements still count).
            length: episode step limit (``truncated`` when reached).
            render_mode: None or ``"rgb_array"``.
            render_size: pixel size of ``render()``'s frames.
            semantic: also put the semantic map (``uint8[area]``) in ``info``.
            engine: ``"crafter"`` (the package itself) or ``"fast"`` (craftlab's
                faster, bit-identical renderer, when available).
        """
        import crafter

        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self._env = _make_engine(
            engine, area=tuple(area), view=tuple(view), size=tuple(size), reward=reward, length=length, seed=0
        )
        self.length = length
        self.render_mode = render_mode
        self.render_size = tuple(render_size)
        self.semantic = semantic
        self.observation_space = gym.spaces.Box(0, 255, (int(size[1]), int(size[0]), 3), np.uint8)
        self.action_space = gym.spaces.Discrete(len(crafter.constants.actions))
        self._seeded = False
        self._last_obs: np.ndarray | None = None

    @property
    def action_names(self) -> tuple[str, ...]:
        return ACTIONS

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None or not self._seeded:
            # Crafter draws episode k's world from hash((seed, k)): restart the count.
            base = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
            self._env._seed = int(base)
            self._env._episode = 0
            self._seeded = True
        obs = self._env.reset()
        self._last_obs = obs
        info = {"achievements": {name: 0 for name in ACHIEVEMENTS}, "inventory": dict(self._env._player.inventory)}
        return obs, info

    def step(self, action):
        obs, reward, done, raw = self._env.step(int(action))
        terminated = bool(raw["discount"] == 0.0)  # health <= 0
        truncated = bool(done and not terminated)  # the step limit
        info = {
            "achievements": raw["achievements"],
            "inventory": raw["inventory"],
            "player_pos": np.array(raw["player_pos"]),  # a copy: crafter hands out its own array
        }
        if self.semantic:
            info["semantic"] = raw["semantic"]
        self._last_obs = obs
        return obs, float(reward), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self._env.render(self.render_size)

    def close(self):
        self._env = None  # crafter holds no external resources


def _make_engine(engine: str, **kwargs):
    if engine == "crafter":
        import crafter

        env = crafter.Env(**kwargs)
        env._world.__class__ = OrderedChunksWorld  # reproducible creature order (module doc)
        return env
    if engine == "fast":
        return FastCrafter(**kwargs)
    raise ValueError(f"engine must be 'crafter' or 'fast', got {engine!r}")


def crafter_score(success_rates_percent: np.ndarray | list[float]) -> float:
    """Crafter score: ``exp(mean_i ln(1 + s_i)) - 1`` with ``s_i`` the success
    rate of achievement i in percent (Hafner 2021; crafter's analysis/common.py)."""
    s = np.asarray(success_rates_percent, dtype=np.float64)
    return float(np.exp(np.mean(np.log(1.0 + s))) - 1.0)


def crafter_metrics() -> AchievementMetrics:
    """Crafter's metric plug-in (registered with the crafter env ids): the 22
    achievements' success rates (``achievements/<name>``) and the Crafter score
    (``crafter/score``, ``summary.json``'s ``crafter_score``) over all training
    episodes so far, as the Crafter protocol defines them (Hafner 2021)."""
    return AchievementMetrics(ACHIEVEMENTS, score=crafter_score, score_tag="crafter/score", summary_key="crafter_score")
