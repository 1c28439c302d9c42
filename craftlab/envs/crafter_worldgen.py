"""Crafter's world generation, bit-identical to ``crafter.worldgen.generate_world`` and
about 10x faster (one of :class:`craftlab.envs.crafter_fast.FastCrafter`'s parts).

The noise fields are evaluated by a numba loop that calls opensimplex's own
jitted ``_noise3`` with the same arguments; the float formulas (``start``,
``water``, ``mountain``) use the same numpy ufuncs in the same order; the
per-cell decision chain runs in numba over a block of uniforms drawn ahead from
the world's ``RandomState``, which is then rewound and advanced by exactly the
number of draws the chain consumed, so every later random number is the same.
"""

from __future__ import annotations

import numpy as np
import opensimplex
from crafter import constants, objects
from numba import njit
from opensimplex.internals import _noise3

__all__ = ["generate_world"]

# Material ids in engine.World (index 0 is None).
_MAT = {name: i + 1 for i, name in enumerate(constants.materials)}
_WALKABLE = np.zeros(len(constants.materials) + 1, np.bool_)
for _name in constants.walkable:
    _WALKABLE[_MAT[_name]] = True
# Module constants are frozen into the jitted passes below.
_WATER, _GRASS, _STONE, _PATH, _SAND, _TREE = (_MAT[n] for n in ("water", "grass", "stone", "path", "sand", "tree"))
_LAVA, _COAL, _IRON, _DIAMOND = (_MAT[n] for n in ("lava", "coal", "iron", "diamond"))
_COW, _ZOMBIE, _SKELETON = 1, 2, 3  # creature kinds chosen by _creature_kinds


@njit(cache=True)
def _noise_field(perm, pgi, w, h, z, sx, sy):
    """``_simplex(simplex, x, y, z, size)`` for every cell: ``noise3(x / size, y / size, z)``.

    The arguments are the stock call's: x / size and y / size as float64 (the
    same correctly rounded division as Python's), z an integer, so opensimplex's
    jitted ``_noise3`` computes the same float operations.
    """
    out = np.empty((w, h))
    for x in range(w):
        for y in range(h):
            out[x, y] = _noise3(x / sx, y / sy, z, perm, pgi)
    return out


@njit(cache=True)
def _materials(perm, pgi, start, water, mountain, mat, tunnels, uniforms):
    """worldgen._set_material's decision chain for all cells, x-major like stock.

    ``uniforms`` are the world RandomState's next uniform() draws; each
    ``uniform()`` of the stock chain consumes the next one, and only where the
    stock ``and`` would evaluate it. Returns how many were consumed, or -1 when
    the buffer was too short (the caller retries with more).
    """
    w, h = start.shape
    n = 0
    total = uniforms.shape[0]
    for x in range(w):
        for y in range(h):
            if n + 3 > total:  # a cell draws at most three uniforms
                return -1
            st = start[x, y]
            mo = mountain[x, y]
            wa = water[x, y]
            if st > 0.5:
                mat[x, y] = _GRASS
            elif mo > 0.15:
                if _noise3(x / 7, y / 7, 6, perm, pgi) > 0.15 and mo > 0.3:  # cave
                    mat[x, y] = _PATH
                elif _noise3((2 * x) / 3, (y / 5) / 3, 7, perm, pgi) > 0.4:  # horizontal tunnel
                    mat[x, y] = _PATH
                    tunnels[x, y] = True
                elif _noise3((x / 5) / 3, (2 * y) / 3, 7, perm, pgi) > 0.4:  # vertical tunnel
                    mat[x, y] = _PATH
                    tunnels[x, y] = True
                else:
                    u = -1.0
                    if _noise3(x / 8, y / 8, 1, perm, pgi) > 0:
                        u = uniforms[n]
                        n += 1
                    if u > 0.85:
                        mat[x, y] = _COAL
                        continue
                    u = -1.0
                    if _noise3(x / 6, y / 6, 2, perm, pgi) > 0.4:
                        u = uniforms[n]
                        n += 1
                    if u > 0.75:
                        mat[x, y] = _IRON
                        continue
                    u = -1.0
                    if mo > 0.18:
                        u = uniforms[n]
                        n += 1
                    if u > 0.994:
                        mat[x, y] = _DIAMOND
                    elif mo > 0.3 and _noise3(x / 5, y / 5, 6, perm, pgi) > 0.35:
                        mat[x, y] = _LAVA
                    else:
                        mat[x, y] = _STONE
            elif 0.25 < wa and wa <= 0.35 and _noise3(x / 9, y / 9, 4, perm, pgi) > -0.2:
                mat[x, y] = _SAND
            elif 0.3 < wa:
                mat[x, y] = _WATER
            else:  # grassland
                u = -1.0
                if _noise3(x / 7, y / 7, 5, perm, pgi) > 0:
                    u = uniforms[n]
                    n += 1
                if u > 0.8:
                    mat[x, y] = _TREE
                else:
                    mat[x, y] = _GRASS
    return n


@njit(cache=True)
def _creature_kinds(mat, tunnels, walkable, px, py, kinds, uniforms):
    """worldgen._set_object's decision chain for all cells (same draws as above)."""
    w, h = mat.shape
    n = 0
    total = uniforms.shape[0]
    for x in range(w):
        for y in range(h):
            if n + 3 > total:
                return -1
            m = mat[x, y]
            if not walkable[m]:
                continue
            # np.sqrt of the integer squared distance, as stock (sqrt is correctly rounded).
            dist = np.sqrt(float((x - px) ** 2 + (y - py) ** 2))
            if dist > 3 and m == _GRASS:
                u = uniforms[n]
                n += 1
                if u > 0.985:
                    kinds[x, y] = _COW
                    continue
            if dist > 10:
                u = uniforms[n]
                n += 1
                if u > 0.993:
                    kinds[x, y] = _ZOMBIE
                    continue
            if m == _PATH and tunnels[x, y]:
                u = uniforms[n]
                n += 1
                if u > 0.95:
                    kinds[x, y] = _SKELETON
    return n


def _run_with_uniforms(random, fn, *args, guess=4096):
    """Run ``fn(*args, uniforms)`` (a jitted pass above) on the next uniform() draws of ``random``,
    then leave ``random`` exactly as if those draws had been made one by one.

    ``RandomState.uniform(size=k)`` yields the same doubles, in the same order,
    as k calls of ``uniform()`` (both are ``0 + 1 * next_double``), so drawing a
    block, restoring the state and redrawing exactly the consumed count is
    equivalent to the stock sequence of scalar calls.
    """
    state = random.get_state()
    size = guess
    while True:
        used = fn(*args, random.uniform(size=size))
        if used >= 0:
            break
        random.set_state(state)
        size *= 2
    random.set_state(state)
    if used:
        random.uniform(size=used)
    return used


def generate_world(world, player):
    """Bit-identical replacement for ``crafter.worldgen.generate_world``."""
    simplex = opensimplex.OpenSimplex(seed=world.random.randint(0, 2**31 - 1))
    perm, pgi = simplex._perm, simplex._perm_grad_index3
    w, h = world.area
    px, py = int(player.pos[0]), int(player.pos[1])

    def noise(z, size):
        return _noise_field(perm, pgi, w, h, z, size, size)

    # The stock scalar formulas, evaluated with the same numpy ufuncs on arrays
    # (elementwise, so each cell gets the value the scalar expression gives).
    xs = np.arange(w, dtype=np.int64)[:, None]
    ys = np.arange(h, dtype=np.int64)[None, :]
    start = 4 - np.sqrt((xs - px) ** 2 + (ys - py) ** 2)
    start = start + 2 * noise(8, 3)
    start = 1 / (1 + np.exp(-start))
    # _simplex(..., {15: 1, 5: 0.15}, False): value = 0 + 1 * n15 + 0.15 * n5.
    water = (0 + 1 * noise(3, 15)) + 0.15 * noise(3, 5)
    water = water + 0.1
    water = water - 2 * start
    # _simplex(..., {15: 1, 5: 0.3}): the same sum divided by sum(weights).
    mountain = (0 + 1 * noise(0, 15)) + 0.3 * noise(0, 5)
    mountain = mountain / sum({15: 1, 5: 0.3}.values())
    mountain = mountain - (4 * start + 0.3 * water)

    mat = np.zeros((w, h), np.uint8)
    tunnels = np.zeros((w, h), np.bool_)
    _run_with_uniforms(world.random, _materials, perm, pgi, start, water, mountain, mat, tunnels)
    # World.__setitem__ would map names to these same ids (all materials are known).
    world._mat_map[...] = mat

    kinds = np.zeros((w, h), np.uint8)
    _run_with_uniforms(world.random, _creature_kinds, mat, tunnels, _WALKABLE, px, py, kinds)
    # Creatures are created and added in the stock (x-major) order: the order of
    # world._objects decides the update order, and the chunk sets' order.
    for x, y in zip(*np.nonzero(kinds)):
        x, y, kind = int(x), int(y), kinds[x, y]
        if kind == _COW:
            world.add(objects.Cow(world, (x, y)))
        elif kind == _ZOMBIE:
            world.add(objects.Zombie(world, (x, y), player))
        else:
            world.add(objects.Skeleton(world, (x, y), player))
