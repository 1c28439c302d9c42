"""The spaces and limits of every MineRL env, as Python tables.

Written from the spec of minerl 0.4.4 (``env_specs/*.py``) and MineRL 1.0
(``human_controls.py``); craftlab needs no MineRL files for them. They were
checked key by key (dtypes, bounds, Enum values and defaults) against the
spaces dumped from the real 0.4.4 spec code.

:func:`spec` gives an :class:`EnvSpec` whose ``observation_space`` and
``action_space`` are MineRL-style spaces (:mod:`craftlab.envs.minerl.minerl_spaces`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from craftlab.envs.minerl.ids import BASALT_TASKS, MINERL_044_IDS, MINERL_10_IDS, max_episode_steps
from craftlab.envs.minerl.minerl_spaces import Box, Dict, Discrete, Enum, MineRLSpace

KEYS: tuple[str, ...] = ("attack", "back", "forward", "jump", "left", "right", "sneak", "sprint")
"""the eight keyboard actions of every 0.4.4 env (``Discrete(2)``, 1 = pressed)"""

KEYS_10: tuple[str, ...] = (
    "ESC",
    "attack",
    "back",
    "drop",
    "forward",
    *(f"hotbar.{i}" for i in range(1, 10)),
    "inventory",
    "jump",
    "left",
    "pickItem",
    "right",
    "sneak",
    "sprint",
    "swapHands",
    "use",
)
"""the 24 keyboard actions of MineRL 1.0's human-control envs (plus ``camera``)"""

OBTAIN_ITEMS: tuple[str, ...] = (
    "coal",
    "cobblestone",
    "crafting_table",
    "dirt",
    "furnace",
    "iron_axe",
    "iron_ingot",
    "iron_ore",
    "iron_pickaxe",
    "log",
    "planks",
    "stick",
    "stone",
    "stone_axe",
    "stone_pickaxe",
    "torch",
    "wooden_axe",
    "wooden_pickaxe",
)
"""inventory keys of the Obtain* envs"""

BASALT_ITEMS: tuple[str, ...] = (
    "bucket",
    "carrot",
    "cobblestone",
    "fence",
    "fence_gate",
    "snowball",
    "stone_pickaxe",
    "stone_shovel",
    "water_bucket",
    "wheat",
    "wheat_seeds",
)
"""inventory keys of the 0.4.4 BASALT envs (all but BuildVillageHouse)"""

VILLAGE_HOUSE_ITEMS: tuple[str, ...] = (
    "acacia_door",
    "acacia_fence",
    "cactus",
    "cobblestone",
    "dirt",
    "fence",
    "flower_pot",
    "glass",
    "ladder",
    "log#0",
    "log#1",
    "log2#0",
    "planks#0",
    "planks#1",
    "planks#4",
    "red_flower",
    "sand",
    "sandstone#0",
    "sandstone#2",
    "sandstone_stairs",
    "snowball",
    "spruce_door",
    "spruce_fence",
    "stone_axe",
    "stone_pickaxe",
    "stone_stairs",
    "torch",
    "wooden_door",
    "wooden_pressure_plate",
)
"""inventory keys of MineRLBasaltBuildVillageHouse (its item Enums have no 'air')"""

_TOOLS = ("iron_axe", "iron_pickaxe", "stone_axe", "stone_pickaxe", "wooden_axe", "wooden_pickaxe")


@dataclass(frozen=True)
class EnvSpec:
    """One MineRL env: id, MineRL version, spaces (MineRL-style) and limits."""

    env_id: str
    version: str
    """'0.4.4' or '1.0'"""
    observation_space: Dict
    action_space: Dict
    max_episode_steps: int | None
    reward_threshold: float | None = None

    @property
    def task(self) -> str:
        """Base task without variant suffixes: 'Treechop', 'Navigate', 'ObtainDiamond', 'Basalt...'."""
        name = self.env_id.split("-")[0].removeprefix("MineRL")
        for suffix in ("VectorObf", "HighRes"):
            name = name.removesuffix(suffix)
        return name


def _pov(h: int = 64, w: int = 64) -> Box:
    return Box(0, 255, (h, w, 3), np.uint8)


def _camera() -> Box:
    return Box(-180, 180, (2,), np.float32)


def _inventory(items: tuple[str, ...]) -> Dict:
    return Dict({k: Box(0, 2304, (), np.int32) for k in items})


def _mainhand(type_values: tuple[str, ...], default: str) -> Dict:
    return Dict(
        {
            "mainhand": Dict(
                {
                    "damage": Box(-1, 1562, (), np.int64),
                    "maxDamage": Box(-1, 1562, (), np.int64),
                    "type": Enum(*type_values, default=default),
                }
            )
        }
    )


def _keys(keys: tuple[str, ...] = KEYS) -> dict[str, MineRLSpace]:
    out: dict[str, MineRLSpace] = {k: Discrete(2) for k in keys}
    out["camera"] = _camera()
    return out


def _treechop() -> tuple[Dict, Dict]:
    return Dict({"pov": _pov()}), Dict(_keys())


def _navigate() -> tuple[Dict, Dict]:
    obs = Dict(
        {
            "compass": Dict({"angle": Box(-180.0, 180.0, (), np.float32)}),
            "inventory": _inventory(("dirt",)),
            "pov": _pov(),
        }
    )
    return obs, Dict({**_keys(), "place": Enum("dirt", "none", default="none")})


def _obtain(test: bool = False) -> tuple[Dict, Dict]:
    obs = Dict(
        {
            "equipped_items": _mainhand(("air", *_TOOLS, "none", "other"), default="air"),
            "inventory": _inventory(OBTAIN_ITEMS),
            "pov": _pov(),
        }
    )
    equip = ("air", *_TOOLS, "none") + (("red_flower",) if test else ())
    place = ("cobblestone", "crafting_table", "dirt", "furnace", "none", "stone", "torch")
    place += ("diamond_ore", "log") if test else ()
    act = Dict(
        {
            **_keys(),
            "craft": Enum("crafting_table", "none", "planks", "stick", "torch", default="none"),
            "equip": Enum(*equip, default="none"),
            "nearbyCraft": Enum("furnace", *_TOOLS, "none", default="none"),
            "nearbySmelt": Enum("coal", "iron_ingot", "none", default="none"),
            "place": Enum(*place, default="none"),
        }
    )
    return obs, act


def _vector_obf(
    obs_dim: int = 64,
    act_dim: int = 64,
    obs_bound: tuple[float, float] = (-1.2, 1.2),
    act_bound: tuple[float, float] = (-1.05, 1.05),
) -> tuple[Dict, Dict]:
    obs = Dict({"pov": _pov(), "vector": Box(obs_bound[0], obs_bound[1], (obs_dim,), np.float32)})
    return obs, Dict({"vector": Box(act_bound[0], act_bound[1], (act_dim,), np.float32)})


def _basalt(high_res: bool, village_house: bool) -> tuple[Dict, Dict]:
    items = VILLAGE_HOUSE_ITEMS if village_house else BASALT_ITEMS
    types = (*items, "none", "other") + (() if village_house else ("air",))
    obs = Dict(
        {
            "equipped_items": _mainhand(types, default="none"),
            "inventory": _inventory(items),
            "pov": _pov(1024, 1024) if high_res else _pov(),
        }
    )
    return obs, Dict({**_keys(KEYS + ("use",)), "equip": Enum(*types, default="none")})


def _basalt_10() -> tuple[Dict, Dict]:
    return Dict({"pov": _pov(360, 640)}), Dict(_keys(KEYS_10))


def _spaces_044(env_id: str) -> tuple[Dict, Dict]:
    name = env_id.split("-")[0].removeprefix("MineRL")
    if name.startswith("ObtainTest"):
        if name.endswith("Vector"):
            return _vector_obf(29, 52, (0.0, 1.0), (0.0, 1.0))
        return _obtain(test=True)
    if name.endswith("VectorObf"):
        return _vector_obf()
    if name.startswith("Treechop"):
        return _treechop()
    if name.startswith("Navigate"):
        return _navigate()
    if name.startswith("Obtain"):
        return _obtain()
    if name.startswith("Basalt"):
        return _basalt(high_res=name.endswith("HighRes"), village_house="BuildVillageHouse" in name)
    raise KeyError(env_id)


_BUILDERS_10: dict[str, Callable[[], tuple[Dict, Dict]]] = {
    "MineRLTreechop-v0": _treechop,
    **{f"MineRLNavigate{v}-v0": _navigate for v in ("", "Dense", "Extreme", "ExtremeDense")},
    **{f"MineRLBasalt{t}-v0": _basalt_10 for t in BASALT_TASKS if t != "CreatePlainsAnimalPen"},
}
"""MineRL 1.0 envs the tables cover (ObtainDiamondShovel, EquipWeapon and
HumanSurvival have 976-item spaces that only the real package describes)."""


def spec(env_id: str, version: str = "0.4.4") -> EnvSpec:
    """The spaces and limits of ``env_id`` in MineRL ``version`` ('0.4.4' or '1.0').

    Raises KeyError for an id that version does not have (or that these tables
    do not describe, e.g. 1.0's ObtainDiamondShovel).
    """
    if version == "0.4.4":
        if env_id not in MINERL_044_IDS:
            raise KeyError(f"{env_id!r} is not a MineRL 0.4.4 env id")
        obs, act = _spaces_044(env_id)
    elif version == "1.0":
        if env_id not in _BUILDERS_10:
            known = "" if env_id in MINERL_10_IDS else " (not a MineRL 1.0 id)"
            raise KeyError(f"{env_id!r}: no MineRL 1.0 space table{known}; supported: {sorted(_BUILDERS_10)}")
        obs, act = _BUILDERS_10[env_id]()
    else:
        raise KeyError(f"unknown MineRL version {version!r}; use '0.4.4' or '1.0'")
    threshold = 64.0 if env_id.startswith("MineRLTreechop") else None
    return EnvSpec(env_id, version, obs, act, max_episode_steps(env_id, version), threshold)


OBTAIN_REWARDS: dict[str, float] = {
    "log": 1,
    "planks": 2,
    "stick": 4,
    "crafting_table": 4,
    "wooden_pickaxe": 8,
    "cobblestone": 16,
    "furnace": 32,
    "stone_pickaxe": 32,
    "iron_ore": 64,
    "iron_ingot": 128,
    "iron_pickaxe": 256,
    "diamond": 1024,
}
"""MineRL's ObtainDiamond reward schedule (ObtainIronPickaxe: the same without diamond)"""
