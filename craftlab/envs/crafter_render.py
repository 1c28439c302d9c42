"""Crafter's local-view rendering pieces, bit-identical to ``crafter.engine``'s (used by
:class:`craftlab.envs.crafter_fast.FastCrafter`): the cache of pre-drawn tiles, and the
night light and sleep overlays in one numba pass with PIL's colour enhancement
reproduced by tables taken from PIL itself.
"""

from __future__ import annotations

import numpy as np
from crafter import constants, engine
from numba import njit
from PIL import Image


def _pil_blend_lut(alpha):
    """``lut[a, b]`` = the byte ``Image.blend(a, b, alpha)`` gives, taken from PIL itself.

    ``ImageEnhance.Color(img).enhance(f)`` is ``Image.blend(degenerate, img, f)``
    with ``degenerate`` = img converted to L and back to RGB, and PIL blends
    byte by byte, so this table reproduces it exactly for every input pair.
    """
    a = np.repeat(np.arange(256, dtype=np.uint8), 256).reshape(256, 256)
    b = np.ascontiguousarray(a.T)
    out = np.array(Image.blend(Image.fromarray(np.stack([a] * 3, -1)), Image.fromarray(np.stack([b] * 3, -1)), alpha))
    return np.ascontiguousarray(out[..., 0])


def rgb_to_l(rgb):
    """PIL's RGB -> L conversion (ITU-R 601-2 luma in 16-bit fixed point, Convert.c's L24)."""
    rgb = rgb.astype(np.uint32)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


_NIGHT_LUTS = None


def night_luts():
    """The blend tables of stock ``_light`` (0.4) and ``_sleep`` (0.0), or None when
    this PIL's RGB -> L conversion is not the formula ``night_light`` uses (checked
    once, on 2^18 colours; tests/test_crafter_fast.py checks all 2^24). With None,
    the night frames go through stock's ``_light`` itself."""
    global _NIGHT_LUTS
    if _NIGHT_LUTS is None:
        colors = np.random.RandomState(0).randint(0, 256, (512, 512, 3)).astype(np.uint8)
        colors[0, :256, :] = np.arange(256, dtype=np.uint8)[:, None]  # the grey ramp
        ok = np.array_equal(np.array(Image.fromarray(colors).convert("L")), rgb_to_l(colors))
        _NIGHT_LUTS = (_pil_blend_lut(0.4), _pil_blend_lut(0.0)) if ok else False
    return _NIGHT_LUTS or None


@njit(cache=True)
def night_light(
    canvas, vignette, noise, amount, daylight, sleeping, blend_color, blend_sleep, night_tint, sleep_tint, out
):
    """engine.LocalView's ``_light`` for daylight < 0.5 (and ``_sleep``), cast to uint8, in one pass.

    Each pixel goes through the stock float64 operations in the stock order --
    ``(1 - mask) * c + mask * noise``; uint8 cast; colour enhancement 0.4 (PIL's
    L of the pixel, then the blend table); tint ``0.5 * x + 0.5 * colour``;
    ``daylight * c + (1 - daylight) * night``; then, asleep, the uint8 cast,
    enhancement 0.0 and tint -- with no fast-math, so every IEEE operation rounds
    as numpy's does. ``night_tint`` and ``sleep_tint`` are ``0.5 * colour``.
    """
    w, h = canvas.shape[0], canvas.shape[1]
    inv_day = 1 - daylight
    night = np.empty(3, np.uint8)
    lit = np.empty(3)
    for x in range(w):
        for y in range(h):
            mask = amount * vignette[x, y]
            inv_mask = 1 - mask
            term = mask * noise[x, y]
            for k in range(3):
                night[k] = np.uint8(inv_mask * canvas[x, y, k] + term)
            lum = (np.int64(night[0]) * 19595 + np.int64(night[1]) * 38470 + np.int64(night[2]) * 7471 + 0x8000) >> 16
            for k in range(3):
                tinted = 0.5 * blend_color[lum, night[k]] + night_tint[k]
                lit[k] = daylight * canvas[x, y, k] + inv_day * tinted
            if sleeping:
                for k in range(3):
                    night[k] = np.uint8(lit[k])
                lum = (
                    np.int64(night[0]) * 19595 + np.int64(night[1]) * 38470 + np.int64(night[2]) * 7471 + 0x8000
                ) >> 16
                for k in range(3):
                    lit[k] = 0.5 * blend_sleep[lum, night[k]] + sleep_tint[k]
            for k in range(3):
                out[x, y, k] = np.uint8(lit[k])


# Lit tiles are memoised per daylight value for units up to this many pixels
# (the 64x64 observation has 7x7 units; a 576x576 human view has 64x64 ones).
LIT_CACHE_MAX_UNIT_PIXELS = 16 * 16
# engine.LocalView._tint's ``amount * color`` for the night and the sleep tints.
NIGHT_TINT = 0.5 * np.array((0, 16, 64))
SLEEP_TINT = 0.5 * np.array((0, 0, 16))


class Tiles:
    """The local view's cells at one unit size, drawn with crafter's own functions.

    A cell of the stock local view is a material texture drawn with
    ``engine._draw`` onto the grey (127) canvas, or left grey outside the world,
    and then at most one object (objects never share a cell) alpha-blended onto
    it with ``engine._draw_alpha``. Both are elementwise in the cell's pixels,
    so drawing them onto a unit-sized tile gives the very pixels stock draws
    onto the canvas. Tile ids 0..len(materials) are the materials (by material
    id), then the grey outside tile, then composites added as they appear.
    """

    def __init__(self, textures, unit):
        self.textures = textures
        self.unit = unit
        self.blank = np.zeros((unit[0], unit[1], 3), np.uint8) + 127
        self.tiles = []
        for name in [None] + constants.materials:
            tile = self.blank.copy()
            engine._draw(tile, np.array([0, 0]), textures.get(name, unit))
            self.tiles.append(tile)
        self.outside = len(self.tiles)
        self.tiles.append(self.blank)
        self.ids = {}
        self.stack = np.stack(self.tiles)
        self.lit = {}  # (daylight, sleeping) -> lit uint8 tiles

    def composite(self, mat_id, texture):
        key = (mat_id, texture)
        tile_id = self.ids.get(key)
        if tile_id is None:
            tile = self.tiles[mat_id].copy()
            engine._draw_alpha(tile, np.array([0, 0]), self.textures.get(texture, self.unit))
            tile_id = self.ids[key] = len(self.tiles)
            self.tiles.append(tile)
            self.stack = np.stack(self.tiles)
        return tile_id
