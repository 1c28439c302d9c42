"""Block types of the voxel world: ids, names, how they look, how hard they are.

A world is a ``uint8[X, Y, Z]`` array of these ids (x east, y up, z south, as
in Minecraft). The tables below are numpy arrays indexed by block id, so the
numba renderer and the physics read them directly.

Hardness and harvest levels are Minecraft 1.11's (the version MineRL 0.4.4
runs); see :func:`craftlab.envs.voxel.items.break_ticks` for the mining time.
"""

from __future__ import annotations

import numpy as np

AIR, GRASS, DIRT, STONE, COBBLESTONE, LOG, LEAVES, PLANKS, WATER, SAND, BEDROCK = range(11)
COAL_ORE, IRON_ORE, DIAMOND_ORE, CRAFTING_TABLE, FURNACE, DIAMOND_BLOCK, TORCH = range(11, 18)

NAMES: tuple[str, ...] = (
    "air",
    "grass",
    "dirt",
    "stone",
    "cobblestone",
    "log",
    "leaves",
    "planks",
    "water",
    "sand",
    "bedrock",
    "coal_ore",
    "iron_ore",
    "diamond_ore",
    "crafting_table",
    "furnace",
    "diamond_block",
    "torch",
)
"""block id -> Minecraft name"""
BLOCK_ID: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
N_BLOCKS = len(NAMES)

# texture patterns (render.py): how a face's 8x8 texels vary
PLAIN, BARK, GRASS_PATTERN, PLANK_LINES, TABLE_TOP, SPOTS, FURNACE_FRONT, TORCH_STICK = range(8)


def _table(values: dict[int, object], default: object, dtype: type) -> np.ndarray:
    out = np.array([values.get(i, default) for i in range(N_BLOCKS)], dtype=dtype)
    return out


SOLID = _table({AIR: False, WATER: False, TORCH: False}, True, np.bool_)
"""blocks the player collides with"""
TARGETABLE = _table({AIR: False, WATER: False}, True, np.bool_)
"""blocks the reach ray stops at (can be attacked, placed against)"""

HARDNESS = _table(
    {
        GRASS: 0.6,
        DIRT: 0.5,
        STONE: 1.5,
        COBBLESTONE: 2.0,
        LOG: 2.0,
        LEAVES: 0.2,
        PLANKS: 2.0,
        SAND: 0.5,
        BEDROCK: -1.0,
        COAL_ORE: 3.0,
        IRON_ORE: 3.0,
        DIAMOND_ORE: 3.0,
        CRAFTING_TABLE: 2.5,
        FURNACE: 3.5,
        DIAMOND_BLOCK: 5.0,
        TORCH: 0.0,
        AIR: -1.0,
        WATER: -1.0,
    },
    0.0,
    np.float32,
)
"""Minecraft hardness; -1: unbreakable"""

HARVEST_LEVEL = _table(
    {STONE: 1, COBBLESTONE: 1, COAL_ORE: 1, FURNACE: 1, IRON_ORE: 2, DIAMOND_ORE: 3, DIAMOND_BLOCK: 3}, 0, np.int8
)
"""pickaxe tier needed to get a drop (0: any tool or the hand; 1 wood, 2 stone, 3 iron)"""

EFFECTIVE_TOOL: dict[int, str] = {
    LOG: "axe",
    PLANKS: "axe",
    CRAFTING_TABLE: "axe",
    STONE: "pickaxe",
    COBBLESTONE: "pickaxe",
    COAL_ORE: "pickaxe",
    IRON_ORE: "pickaxe",
    DIAMOND_ORE: "pickaxe",
    FURNACE: "pickaxe",
    DIAMOND_BLOCK: "pickaxe",
}
"""the tool kind that mines a block faster (Minecraft's; no shovels in MineRL's Obtain actions)"""

DROPS: dict[int, str | None] = {
    GRASS: "dirt",
    DIRT: "dirt",
    STONE: "cobblestone",
    COBBLESTONE: "cobblestone",
    LOG: "log",
    LEAVES: None,
    PLANKS: "planks",
    SAND: "sand",
    COAL_ORE: "coal",
    IRON_ORE: "iron_ore",
    DIAMOND_ORE: "diamond",
    CRAFTING_TABLE: "crafting_table",
    FURNACE: "furnace",
    DIAMOND_BLOCK: "diamond_block",
    TORCH: "torch",
}
"""the item a broken block gives (when harvested with the right tier)"""

PLACEABLE: dict[str, int] = {
    "dirt": DIRT,
    "stone": STONE,
    "cobblestone": COBBLESTONE,
    "crafting_table": CRAFTING_TABLE,
    "furnace": FURNACE,
    "torch": TORCH,
    "log": LOG,
    "planks": PLANKS,
    "sand": SAND,
}
"""item -> the block ``place`` puts down"""

# ---------------------------------------------------------------- appearance

COLOR = _table(
    {
        AIR: (0, 0, 0),
        GRASS: (134, 96, 67),
        DIRT: (134, 96, 67),
        STONE: (125, 125, 125),
        COBBLESTONE: (112, 112, 112),
        LOG: (102, 81, 51),
        LEAVES: (58, 116, 38),
        PLANKS: (162, 130, 78),
        WATER: (47, 86, 200),
        SAND: (219, 207, 163),
        BEDROCK: (70, 70, 70),
        COAL_ORE: (125, 125, 125),
        IRON_ORE: (125, 125, 125),
        DIAMOND_ORE: (125, 125, 125),
        CRAFTING_TABLE: (120, 84, 50),
        FURNACE: (110, 110, 110),
        DIAMOND_BLOCK: (98, 219, 214),
        TORCH: (110, 80, 40),
    },
    (255, 0, 255),
    np.float32,
)
"""base colour (side faces); RGB 0-255"""

TOP_COLOR = COLOR.copy()
TOP_COLOR[GRASS] = (95, 159, 53)
TOP_COLOR[LOG] = (165, 135, 85)
TOP_COLOR[CRAFTING_TABLE] = (160, 118, 72)
TOP_COLOR[TORCH] = (255, 210, 90)
"""colour of top and bottom faces"""

SPOT_COLOR = _table(
    {
        GRASS: (95, 159, 53),
        LOG: (70, 55, 33),
        LEAVES: (38, 80, 24),
        COBBLESTONE: (85, 85, 85),
        COAL_ORE: (25, 25, 25),
        IRON_ORE: (216, 175, 147),
        DIAMOND_ORE: (93, 236, 245),
        BEDROCK: (35, 35, 35),
        CRAFTING_TABLE: (70, 48, 28),
        FURNACE: (40, 40, 40),
        PLANKS: (120, 95, 55),
        TORCH: (255, 210, 90),
        STONE: (110, 110, 110),
        SAND: (200, 188, 140),
        DIRT: (110, 78, 52),
        DIAMOND_BLOCK: (150, 240, 235),
    },
    (0, 0, 0),
    np.float32,
)
"""second colour of the pattern (ore spots, bark stripes, the grass edge...)"""

SPOT_FRACTION = _table(
    {
        LEAVES: 0.35,
        COBBLESTONE: 0.35,
        COAL_ORE: 0.22,
        IRON_ORE: 0.22,
        DIAMOND_ORE: 0.22,
        BEDROCK: 0.5,
        STONE: 0.15,
        SAND: 0.15,
        DIRT: 0.2,
        DIAMOND_BLOCK: 0.2,
    },
    0.0,
    np.float32,
)
"""share of texels in the spot colour (SPOTS pattern)"""

NOISE = _table(
    {LEAVES: 0.12, GRASS: 0.08, DIRT: 0.08, STONE: 0.06, SAND: 0.05, LOG: 0.05, PLANKS: 0.04, WATER: 0.03},
    0.05,
    np.float32,
)
"""per-texel brightness noise amplitude"""

PATTERN = _table(
    {
        LOG: BARK,
        GRASS: GRASS_PATTERN,
        PLANKS: PLANK_LINES,
        CRAFTING_TABLE: TABLE_TOP,
        FURNACE: FURNACE_FRONT,
        TORCH: TORCH_STICK,
    },
    SPOTS,
    np.int8,
)
"""texture pattern per block"""
