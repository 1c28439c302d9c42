"""A faster Crafter whose observations are bit-identical to the ``crafter`` package's.

:class:`FastCrafter` is a drop-in for ``crafter.Env`` (same constructor, same
``reset``/``step``/``render`` and the attributes craftlab's wrapper touches). It
subclasses ``crafter.Env`` and keeps crafter's game logic (the ``objects``
module's ``Player``, ``Cow``, ``Zombie`` ... and their ``update`` methods run
unchanged); what it replaces is *how* the same results are computed:

* **World generation** (stock: ~50 ms a reset, 4,096 cells of Python with a
  dozen noise calls each). The noise fields are evaluated by a numba loop that
  calls opensimplex's own jitted ``_noise3`` with the same arguments, the float
  formulas (``start``, ``water``, ``mountain``) use the same numpy ufuncs in
  the same order, and the per-cell decision chain runs in numba over a block
  of uniforms drawn ahead from the world's ``RandomState``; the generator is
  then rewound and advanced by exactly the number of draws the chain consumed,
  so every later random number (creatures, night noise) is the same
  (``envs/crafter_worldgen.py``).
* **Rendering** (stock: ~70% of a step, per-tile PIL resizes, float blending
  and a full-frame float64 light overlay). The 9x7 local view is assembled by
  one numpy fancy-index from a cache of tiles pre-rendered *with crafter's own
  drawing functions* (a material tile, or a creature alpha-blended onto a
  material tile); the day-light overlay, which is a per-pixel function, is
  applied to the cached tiles instead of the frame and memoised per daylight
  value; at night (when the overlay adds noise drawn from the world's
  generator and is no longer per tile) one numba pass does stock's float64
  operations in stock's order, with PIL's colour enhancement reproduced by
  tables taken from PIL itself (the tile cache and the night pass:
  ``envs/crafter_render.py``); the inventory strip is memoised per inventory.
* **Step bookkeeping**: which creatures are near enough to update, the chunk
  balancing's cell counts and the semantic map are computed in one pass
  instead of per-object numpy calls; the order of updates and of random draws
  is the stock one.

One deliberate difference: crafter keeps the creatures of each 12x12 chunk in
a ``set`` of objects hashed by memory address, and picks the creature to
despawn by indexing the list made from that set, so stock crafter is not
reproducible -- two ``crafter.Env(seed=0)`` fed the same actions diverge within
a hundred steps. FastCrafter keeps those chunk sets in insertion order, so it is
reproducible; it is bit-identical to stock crafter whose chunk sets iterate in
insertion order (one of the orders stock crafter itself can produce), which is
what ``tests/test_crafter_fast.py`` compares against.
"""

from __future__ import annotations

import crafter
import numpy as np
from crafter import constants, engine, objects
from numba import njit

from craftlab.envs.crafter_render import (
    LIT_CACHE_MAX_UNIT_PIXELS,
    NIGHT_TINT,
    SLEEP_TINT,
    Tiles,
    night_light,
    night_luts,
)
from craftlab.envs.crafter_world import OrderedChunksWorld
from craftlab.envs.crafter_worldgen import generate_world

# --------------------------------------------------------------------------------------
# World: insertion-ordered chunk sets, cheaper lookups.
# --------------------------------------------------------------------------------------


class _World(OrderedChunksWorld):
    """``engine.World`` with insertion-ordered chunk sets and cheaper bookkeeping.

    ``move``, ``chunk_key`` and ``__getitem__`` make the same changes and return
    the same values as engine.World's, with Python ints instead of numpy
    temporaries. ``add`` also records each object's semantic type id by object
    index (``_tid``), for :meth:`FastCrafter._semantic`.
    """

    sem_ids: dict = {}  # type -> semantic id, set by FastCrafter

    def reset(self, seed=None):
        super().reset(seed)  # insertion-ordered chunk sets
        self._tid = np.zeros(64, np.uint8)  # semantic id by object index (0: no object)
        self._unknown_types = False

    def add(self, obj):
        index = len(self._objects)
        super().add(obj)
        if index >= len(self._tid):
            self._tid = np.concatenate([self._tid, np.zeros_like(self._tid)])
        tid = self.sem_ids.get(type(obj))
        if tid is None:  # e.g. a Fence: stock's SemanticView raises on it; so will we
            self._unknown_types = True
        else:
            self._tid[index] = tid

    def move(self, obj, pos):
        if obj.removed:
            return
        pos = np.array(pos)
        x, y = pos.tolist()
        ox, oy = obj.pos.tolist()
        obj_map = self._obj_map
        assert obj_map[x, y] == 0
        obj_map[x, y] = obj_map[ox, oy]
        obj_map[ox, oy] = 0
        csx, csy = self._chunk_size
        # Stock compares the two chunk keys; they differ iff the chunk origins do.
        if ox // csx != x // csx or oy // csy != y // csy:
            self._chunks[self.chunk_key((ox, oy))].remove(obj)
            self._chunks[self.chunk_key((x, y))].add(obj)
        obj.pos = pos

    def chunk_key(self, pos):
        # Equal (and equally hashed) to stock's key, as Python ints.
        x, y = int(pos[0]), int(pos[1])
        csx, csy = self._chunk_size
        xmin, ymin = (x // csx) * csx, (y // csy) * csy
        return (xmin, min(xmin + csx, self.area[0]), ymin, min(ymin + csy, self.area[1]))

    def __getitem__(self, pos):
        # Same bounds test and lookups as engine.World.__getitem__, without the
        # helper calls and tuple conversions.
        x, y = pos
        if not (0 <= x < self.area[0] and 0 <= y < self.area[1]):
            return None, None
        return self._mat_names[self._mat_map[x, y]], self._objects[self._obj_map[x, y]]


@njit(cache=True)
def _live_objects(obj_map):
    """The live objects' indices (= ``World.objects``' order) and cells, sorted by index."""
    w, h = obj_map.shape
    n = 0
    for x in range(w):
        for y in range(h):
            if obj_map[x, y]:
                n += 1
    idx = np.empty(n, np.int64)
    xs = np.empty(n, np.int64)
    ys = np.empty(n, np.int64)
    k = 0
    for x in range(w):
        for y in range(h):
            if obj_map[x, y]:
                idx[k] = obj_map[x, y]
                xs[k] = x
                ys[k] = y
                k += 1
    order = np.argsort(idx)
    return idx[order], xs[order], ys[order]


@njit(cache=True)
def _semantic_map(mat_map, obj_map, tid):
    """SemanticView: the material map with each live object's type id at its cell."""
    out = mat_map.copy()
    w, h = mat_map.shape
    for x in range(w):
        for y in range(h):
            if obj_map[x, y]:
                out[x, y] = tid[obj_map[x, y]]
    return out


# --------------------------------------------------------------------------------------
class FastCrafter(crafter.Env):
    """``crafter.Env`` with faster world generation, rendering and bookkeeping."""

    def __init__(self, area=(64, 64), view=(9, 9), size=(64, 64), reward=True, length=10000, seed=None):
        super().__init__(area=area, view=view, size=size, reward=reward, length=length, seed=seed)
        # Rebuild the world and its views with the faster World (same arguments as crafter.Env).
        self._world = _World(area, constants.materials, (12, 12))
        item_rows = int(np.ceil(len(constants.items) / self._view[0]))
        self._local_view = engine.LocalView(self._world, self._textures, [self._view[0], self._view[1] - item_rows])
        self._item_view = engine.ItemView(self._textures, [self._view[0], item_rows])
        self._sem_view = engine.SemanticView(
            self._world, [objects.Player, objects.Cow, objects.Zombie, objects.Skeleton, objects.Arrow, objects.Plant]
        )
        self._world.sem_ids = self._sem_view._obj_ids
        self._grid = np.array(self._local_view._grid)
        self._tiles: dict[tuple[int, int], Tiles] = {}
        self._items: dict[tuple, np.ndarray] = {}
        self._max_dist = 2 * max(self._view)

    # ---- episode ---------------------------------------------------------------------

    def reset(self):
        # crafter.Env.reset, with the fast generator.
        center = (self._world.area[0] // 2, self._world.area[1] // 2)
        self._episode += 1
        self._step = 0
        self._world.reset(seed=hash((self._seed, self._episode)) % (2**31 - 1))
        self._update_time()
        self._player = objects.Player(self._world, center)
        self._last_health = self._player.health
        self._world.add(self._player)
        self._unlocked = set()
        generate_world(self._world, self._player)
        return self._obs()

    def step(self, action):
        # crafter.Env.step; only the object loop, the chunk balancing and the
        # semantic map are computed differently (see the helpers' comments).
        self._step += 1
        self._update_time()
        self._player.action = constants.actions[action]
        self._update_objects()
        if self._step % 10 == 0:
            self._balance_chunks()
        obs = self._obs()
        reward = (self._player.health - self._last_health) / 10
        self._last_health = self._player.health
        unlocked = {
            name for name, count in self._player.achievements.items() if count > 0 and name not in self._unlocked
        }
        if unlocked:
            self._unlocked |= unlocked
            reward += 1.0
        dead = self._player.health <= 0
        over = self._length and self._step >= self._length
        done = dead or over
        info = {
            "inventory": self._player.inventory.copy(),
            "achievements": self._player.achievements.copy(),
            "discount": 1 - float(dead),
            "semantic": self._semantic(),
            "player_pos": self._player.pos,
            "reward": reward,
        }
        if not self._reward:
            reward = 0.0
        return obs, reward, done, info

    def _update_objects(self):
        """Stock: ``for obj in world.objects: if player.distance(obj) < 2 * max(view): obj.update()``.

        ``world.objects`` is the live objects in index order, which is exactly
        the nonzero entries of ``_obj_map`` sorted by value. The player (index 1,
        added first at reset) updates first; afterwards nothing moves an object
        but the object's own ``update`` (``Object.move`` moves ``self`` only), so
        every other object's position at its turn is its position now, and the
        distance test can be done for all of them at once after the player's
        update. Objects added during the loop (arrows, plants) are not updated,
        and objects removed during it still are, as in stock.
        """
        world = self._world
        idx, xs, ys = _live_objects(world._obj_map)
        # A shallow copy holds the objects themselves, as stock's list does (one
        # may be removed from the world before its turn; it is still updated).
        snapshot = list(world._objects)
        player = self._player
        assert snapshot[idx[0]] is player
        player.update()  # distance 0
        px, py = player.pos.tolist()
        near = (np.abs(xs[1:] - px) + np.abs(ys[1:] - py)) < self._max_dist
        for i in idx[1:][near].tolist():
            snapshot[i].update()

    def _balance_chunks(self):
        """crafter.Env._balance_chunk for every chunk, in the stock order.

        Two things are computed up front instead of per call, both valid because
        balancing only adds and removes creatures: the chunks' grass and path
        cell counts (the map does not change), and each chunk's zombie, skeleton
        and cow lists (adding or removing a zombie leaves the skeleton and cow
        lists, and their order in the insertion-ordered chunk set, unchanged).
        """
        world = self._world
        grass = world._mat_map == world._mat_ids["grass"]
        path = world._mat_map == world._mat_ids["path"]
        csx, csy = world._chunk_size
        xedges = np.arange(0, world.area[0], csx)
        yedges = np.arange(0, world.area[1], csy)
        # Sums over [xmin:xmax, ymin:ymax] for every chunk (xmax = min(xmin + csx, area)).
        grass_counts = np.add.reduceat(np.add.reduceat(grass, xedges, 0), yedges, 1).tolist()
        path_counts = np.add.reduceat(np.add.reduceat(path, xedges, 0), yedges, 1).tolist()
        light = world.daylight
        Zombie, Skeleton, Cow = objects.Zombie, objects.Skeleton, objects.Cow
        for chunk, objs in world.chunks.items():
            xmin, xmax, ymin, ymax = chunk
            n_grass = grass_counts[xmin // csx][ymin // csy]
            n_path = path_counts[xmin // csx][ymin // csy]
            zombies, skeletons, cows = [], [], []
            for obj in objs:
                if isinstance(obj, Zombie):
                    zombies.append(obj)
                if isinstance(obj, Skeleton):
                    skeletons.append(obj)
                if isinstance(obj, Cow):
                    cows.append(obj)
            self._balance(
                chunk,
                zombies,
                grass,
                6,
                0,
                0.3,
                0.4,
                lambda pos: Zombie(world, pos, self._player),
                (0 if n_grass < 50 else 3.5 - 3 * light, 3.5 - 3 * light),
            )
            self._balance(
                chunk,
                skeletons,
                path,
                7,
                7,
                0.1,
                0.1,
                lambda pos: Skeleton(world, pos, self._player),
                (0 if n_path < 6 else 1, 2),
            )
            self._balance(
                chunk,
                cows,
                grass,
                5,
                5,
                0.01,
                0.1,
                lambda pos: Cow(world, pos),
                (0 if n_grass < 30 else 1, 1.5 + light),
            )

    def _balance(self, chunk, creatures, mask_map, span_dist, despan_dist, spawn_prob, despawn_prob, ctor, targets):
        """crafter.Env._balance_object with the creature list and targets precomputed (same draws)."""
        xmin, xmax, ymin, ymax = chunk
        random = self._world.random
        target_min, target_max = targets
        if len(creatures) < int(target_min) and random.uniform() < spawn_prob:
            # The stock tiling of coordinates, masked: the cells in x-major order.
            mask = mask_map[xmin:xmax, ymin:ymax]
            xs, ys = np.nonzero(mask)
            i = random.randint(0, len(xs))
            pos = np.array((xs[i] + xmin, ys[i] + ymin))
            empty = self._world[pos][1] is None
            away = self._player.distance(pos) >= span_dist
            if empty and away:
                self._world.add(ctor(pos))
        elif len(creatures) > int(target_max) and random.uniform() < despawn_prob:
            obj = creatures[random.randint(0, len(creatures))]
            away = self._player.distance(obj.pos) >= despan_dist
            if away:
                self._world.remove(obj)

    def _semantic(self):
        """engine.SemanticView's map; the type ids were recorded by _World.add."""
        world = self._world
        if world._unknown_types:
            return self._sem_view()  # stock (raises KeyError on a type it does not know)
        return _semantic_map(world._mat_map, world._obj_map, world._tid)

    # ---- rendering -------------------------------------------------------------------

    def render(self, size=None):
        # crafter.Env.render, with the two views computed by the cached paths.
        size = size or self._size
        unit = size // self._view
        canvas = np.zeros(tuple(size) + (3,), np.uint8)
        local_view = self._render_local(unit)
        item_view = self._render_items(unit)
        # Stock concatenates the float64 local view with the uint8 item view and
        # casts the result into the uint8 canvas; both views are uint8 here (the
        # local view cast already, with the same float64 -> uint8 truncation).
        border = (size - (size // self._view) * self._view) // 2
        x, y = border
        w1, h1 = local_view.shape[:2]
        canvas[x : x + w1, y : y + h1] = local_view
        w2, h2 = item_view.shape[:2]
        canvas[x : x + w2, y + h1 : y + h1 + h2] = item_view
        return canvas.transpose((1, 0, 2))

    def _render_items(self, unit):
        """engine.ItemView's strip, memoised per (unit, inventory): it depends on nothing else."""
        inventory = self._player.inventory
        key = (int(unit[0]), int(unit[1])) + tuple(inventory.items())
        view = self._items.get(key)
        if view is None:
            if len(self._items) > 4096:
                self._items.clear()
            view = self._items[key] = self._item_view(inventory, unit)
        return view

    def _render_local(self, unit):
        """engine.LocalView: the 9x7 cells around the player, lit, as uint8."""
        ukey = (int(unit[0]), int(unit[1]))
        tiles = self._tiles.get(ukey)
        if tiles is None:
            tiles = self._tiles[ukey] = Tiles(self._textures, np.array(unit))
        world = self._world
        player = self._player
        gx, gy = self._grid
        x0 = int(player.pos[0]) - gx // 2
        y0 = int(player.pos[1]) - gy // 2
        # Tile id per cell: the material id inside the world, the grey tile outside.
        ids = np.full((gx, gy), tiles.outside, np.intp)
        xa, xb = max(x0, 0), min(x0 + gx, world.area[0])
        ya, yb = max(y0, 0), min(y0 + gy, world.area[1])
        if xa < xb and ya < yb:
            ids[xa - x0 : xb - x0, ya - y0 : yb - y0] = world._mat_map[xa:xb, ya:yb]
            # Objects in view: the stock loop draws every live object whose cell is
            # in the grid; those are exactly the nonzero entries of _obj_map here.
            window = world._obj_map[xa:xb, ya:yb]
            for i, j in zip(*np.nonzero(window)):
                obj = world._objects[window[i, j]]
                cx, cy = i + xa - x0, j + ya - y0
                ids[cx, cy] = tiles.composite(int(ids[cx, cy]), obj.texture)
        ux, uy = ukey
        daylight = world.daylight
        if daylight < 0.5:
            # Night: the noise overlay draws world.random for the whole canvas and is
            # not per tile, so light the assembled canvas.
            canvas = self._assemble(tiles.stack, ids, ux, uy)
            luts = night_luts()
            if luts is None:  # stock's _light (and _sleep)
                canvas = self._local_view._light(canvas, daylight)
                if player.sleeping:
                    canvas = self._local_view._sleep(canvas)
                return canvas.astype(np.uint8)
            # The same draws and arguments as stock's _light -> _noise.
            amount = 2 * (0.5 - daylight)
            noise = world.random.uniform(32, 127, canvas.shape[:2])
            vignette = self._local_view._vignette(canvas.shape, 0.5)
            out = np.empty_like(canvas)
            night_light(
                canvas,
                vignette,
                noise,
                float(amount),
                float(daylight),
                bool(player.sleeping),
                luts[0],
                luts[1],
                NIGHT_TINT,
                SLEEP_TINT,
                out,
            )
            return out
        # Day: _light (without noise) and _sleep are per-pixel functions (numpy
        # elementwise ops, PIL's per-pixel L conversion and blend), so lighting the
        # tiles and assembling gives the pixels of lighting the assembled canvas.
        if ux * uy > LIT_CACHE_MAX_UNIT_PIXELS:
            # Big units: light only the tiles this frame uses.
            uniq, inverse = np.unique(ids, return_inverse=True)
            lit = self._light_stack(tiles.stack[uniq], daylight, player.sleeping)
            return self._assemble(lit, inverse.reshape(ids.shape), ux, uy)
        lit = self._lit_tiles(tiles, daylight, player.sleeping)
        return self._assemble(lit, ids, ux, uy)

    def _lit_tiles(self, tiles, daylight, sleeping):
        """All tiles lit for this daylight, memoised: daylight is a function of the
        step number, so the same values recur in every episode."""
        key = (float(daylight), bool(sleeping))
        lit = tiles.lit.get(key)
        n = len(tiles.tiles)
        if lit is None or len(lit) < n:
            done = 0 if lit is None else len(lit)
            new = self._light_stack(tiles.stack[done:n], daylight, sleeping)
            lit = new if lit is None else np.concatenate([lit, new])
            if len(tiles.lit) > 1024:
                tiles.lit.clear()
            tiles.lit[key] = lit
        return lit

    def _light_stack(self, stack, daylight, sleeping):
        """Stock _light (and _sleep) on a stack of tiles laid out as one tall image."""
        k, ux, uy, _ = stack.shape
        image = stack.reshape(k * ux, uy, 3)
        lit = self._local_view._light(image, daylight)
        if sleeping:
            lit = self._local_view._sleep(lit)
        return lit.astype(np.uint8).reshape(k, ux, uy, 3)

    @staticmethod
    def _assemble(stack, ids, ux, uy):
        gx, gy = ids.shape
        return stack[ids].transpose(0, 2, 1, 3, 4).reshape(gx * ux, gy * uy, 3)
