"""Seeded world generation: terrain, trees, ores, water.

:func:`generate` builds a :class:`World` from a :class:`WorldSpec` and a numpy
``Generator``; the same seed gives the same world, block for block (all
randomness comes from that generator, in a fixed order).

The world is a ``uint8[X, Y, Z]`` block array (x east, y up, z south, as in
Minecraft), finite: the player cannot leave it (its sides are an invisible
wall) and the renderer's fog hides the edge. Layers, bottom up: bedrock at
y = 0, stone (with coal, iron and diamond ore clusters at Minecraft-like
relative depths), three blocks of dirt, then grass; columns below the water
level get sand and water instead. Oak-shaped trees (a 4-6 block trunk and a
leaf canopy) stand on grass, at least 3 blocks apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from craftlab.envs.voxel import blocks as B


@dataclass(frozen=True)
class WorldSpec:
    """The shape and contents of a generated world."""

    size: int = 64
    """extent in x and z (blocks)"""
    height: int = 32
    """extent in y (blocks)"""
    surface: int = 12
    """mean height of the ground's top block"""
    hills: float = 3.0
    """height noise amplitude (blocks, +-)"""
    hill_scale: float = 24.0
    """horizontal size of the largest hills (blocks)"""
    tree_density: float = 0.05
    """chance that a grass column starts a tree (before the 3-block spacing)"""
    water_level: int = 0
    """columns whose ground is below this are sand under water up to it (0: no water)"""
    ores: bool = True
    """coal, iron and diamond ore clusters in the stone"""

    def with_overrides(self, **overrides: object) -> "WorldSpec":
        """A copy with the non-None ``overrides`` applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class World:
    """A generated world: the block array and where the ground is."""

    spec: WorldSpec
    blocks: np.ndarray
    """uint8[X, Y, Z] block ids (:mod:`craftlab.envs.voxel.blocks`)"""
    ground: np.ndarray
    """int[X, Z]: y of the terrain's top block (before trees)"""
    trees: list[tuple[int, int, int, int]]
    """(x, z, base y, trunk height) of each tree"""

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.blocks.shape  # type: ignore[return-value]

    def inside(self, x: int, y: int, z: int) -> bool:
        sx, sy, sz = self.blocks.shape
        return 0 <= x < sx and 0 <= y < sy and 0 <= z < sz

    def get(self, x: int, y: int, z: int) -> int:
        """The block at (x, y, z); outside the world: bedrock on the sides and below, air above."""
        if self.inside(x, y, z):
            return int(self.blocks[x, y, z])
        return B.AIR if y >= self.blocks.shape[1] else B.BEDROCK

    def top_solid(self, x: int, z: int) -> int:
        """y of the highest solid block of a column (-1 if none)."""
        column = B.SOLID[self.blocks[x, :, z]]
        ys = np.flatnonzero(column)
        return int(ys[-1]) if len(ys) else -1

    def count(self, block: int) -> int:
        return int((self.blocks == block).sum())


def value_noise(rng: np.random.Generator, size: int, scale: float, octaves: int = 3) -> np.ndarray:
    """Smooth noise in [0, 1] over a ``size x size`` grid: ``octaves`` layers of
    bilinearly interpolated random lattices (smoothstep), each half the scale
    and half the weight of the previous."""
    out = np.zeros((size, size))
    total, weight = 0.0, 1.0
    for _ in range(octaves):
        cells = int(np.ceil(size / scale)) + 2
        lattice = rng.random((cells, cells))
        coords = np.arange(size) / scale
        i0 = np.floor(coords).astype(int)
        f = coords - i0
        f = f * f * (3.0 - 2.0 * f)
        fx, fz = f[:, None], f[None, :]
        a, b = lattice[i0][:, i0], lattice[i0 + 1][:, i0]
        c, d = lattice[i0][:, i0 + 1], lattice[i0 + 1][:, i0 + 1]
        out += weight * (a * (1 - fx) * (1 - fz) + b * fx * (1 - fz) + c * (1 - fx) * fz + d * fx * fz)
        total += weight
        weight *= 0.5
        scale = max(scale / 2.0, 1.0)
    return out / total


def _terrain(spec: WorldSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    noise = value_noise(rng, spec.size, spec.hill_scale)
    ground = np.round(spec.surface + (noise - 0.5) * 2.0 * spec.hills * 1.6).astype(np.int64)
    ground = np.clip(ground, 4, spec.height - 10)
    ys = np.arange(spec.height)[None, :, None]
    g = ground[:, None, :]
    world = np.zeros((spec.size, spec.height, spec.size), np.uint8)
    world[ys <= g] = B.STONE
    world[(ys > g - 4) & (ys < g)] = B.DIRT
    wet = spec.water_level > 0
    top = np.where(wet & (ground < spec.water_level), B.SAND, B.GRASS).astype(np.uint8)
    world[ys == g] = np.broadcast_to(top[:, None, :], world.shape)[ys == g]
    if wet:
        water = (ys > g) & (ys <= spec.water_level)
        world[water] = B.WATER
    world[:, 0, :] = B.BEDROCK
    return world, ground


def _ore_clusters(
    world: np.ndarray,
    ground: np.ndarray,
    rng: np.random.Generator,
    ore: int,
    per_1k_columns: float,
    size: int,
    max_depth_y: int | None,
    min_below_ground: int,
) -> None:
    """Random-walk clusters of ``ore`` replacing stone, at y <= max_depth_y (None: any)
    and at least ``min_below_ground`` under the local ground."""
    sx, sy, sz = world.shape
    n = int(round(per_1k_columns * sx * sz / 1000.0))
    for _ in range(n):
        x, z = int(rng.integers(sx)), int(rng.integers(sz))
        top = int(ground[x, z]) - min_below_ground
        high = top if max_depth_y is None else min(top, max_depth_y)
        if high < 1:
            rng.integers(1, 2, size=size * 2)  # keep the number of draws fixed
            continue
        y = int(rng.integers(1, high + 1))
        steps = rng.integers(0, 6, size=size * 2)
        for i in range(size * 2):
            if 0 <= x < sx and 1 <= y <= high and y < sy and 0 <= z < sz and world[x, y, z] == B.STONE:
                world[x, y, z] = ore
            d = int(steps[i])
            x, y, z = x + (d == 0) - (d == 1), y + (d == 2) - (d == 3), z + (d == 4) - (d == 5)


def _plant_tree(world: np.ndarray, x: int, z: int, base: int, trunk: int, rng: np.random.Generator) -> None:
    """An oak: logs from ``base`` up ``trunk`` blocks; leaves radius 2 on the two
    layers below the top log, radius 1 on the top log's layer and the one above
    (random corners dropped, as Minecraft's oaks)."""
    sx, sy, sz = world.shape
    top = base + trunk - 1
    corners = rng.random(16)
    k = 0
    for y in range(top - 2, top + 2):
        radius = 2 if y < top else 1
        for dx in range(-radius, radius + 1):
            for dz in range(-radius, radius + 1):
                corner = abs(dx) == radius and abs(dz) == radius
                if corner:
                    drop = (y == top + 1) or corners[k % 16] < 0.5
                    k += 1
                    if drop:
                        continue
                xx, zz = x + dx, z + dz
                if 0 <= xx < sx and 0 <= y < sy and 0 <= zz < sz and world[xx, y, zz] == B.AIR:
                    world[xx, y, zz] = B.LEAVES
    for y in range(base, min(base + trunk, sy)):
        world[x, y, z] = B.LOG


def _trees(
    world: np.ndarray, ground: np.ndarray, spec: WorldSpec, rng: np.random.Generator
) -> list[tuple[int, int, int, int]]:
    sx, sy, sz = world.shape
    chance = rng.random((sx, sz))
    heights = rng.integers(4, 7, size=(sx, sz))
    taken = np.zeros((sx, sz), bool)
    trees = []
    for x, z in np.argwhere(chance < spec.tree_density):
        x, z = int(x), int(z)
        if x < 2 or z < 2 or x >= sx - 2 or z >= sz - 2:
            continue
        g = int(ground[x, z])
        if world[x, g, z] != B.GRASS or g + int(heights[x, z]) + 2 >= sy:
            continue
        if taken[max(x - 2, 0) : x + 3, max(z - 2, 0) : z + 3].any():
            continue
        taken[x, z] = True
        _plant_tree(world, x, z, g + 1, int(heights[x, z]), rng)
        trees.append((x, z, g + 1, int(heights[x, z])))
    return trees


def generate(spec: WorldSpec, rng: np.random.Generator) -> World:
    """A new world (see module doc). Deterministic given ``rng``'s state."""
    world, ground = _terrain(spec, rng)
    if spec.ores:
        # Minecraft 1.11's ore heights, relative to a sea level of 63 here mapped to the ground:
        # coal anywhere in stone, iron up to ~a third of the way to the surface and below,
        # diamond only in the lowest 12 layers.
        _ore_clusters(world, ground, rng, B.COAL_ORE, per_1k_columns=12.0, size=8, max_depth_y=None, min_below_ground=4)
        _ore_clusters(
            world,
            ground,
            rng,
            B.IRON_ORE,
            per_1k_columns=10.0,
            size=5,
            max_depth_y=max(spec.surface - 8, 2),
            min_below_ground=5,
        )
        _ore_clusters(world, ground, rng, B.DIAMOND_ORE, per_1k_columns=2.0, size=4, max_depth_y=12, min_below_ground=6)
    trees = _trees(world, ground, spec, rng)
    return World(spec, world, ground, trees)
