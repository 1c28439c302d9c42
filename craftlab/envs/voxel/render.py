"""First-person rendering: one ray per pixel through the block grid (numba).

:func:`render_pov` draws what the player sees into ``uint8[H, W, 3]`` with a
perspective camera (Minecraft's default 70 degree field of view, square
image): for each pixel a ray leaves the eye and walks the grid cell by cell
(Amanatides & Woo's DDA) until it enters a visible block or the fog distance.
The colour of the face it hit comes from the block tables in
:mod:`craftlab.envs.voxel.blocks`: an 8x8 texel pattern per face (bark
stripes, ore spots, the grass edge...), Minecraft's per-face shading (top 1.0,
z sides 0.8, x sides 0.6, bottom 0.5), cracks on the block being mined, a blue
tint for rays through water, daylight, and distance fog into the sky colour.

Camera conventions are Minecraft's (and so MineRL's): yaw 0 looks south (+z)
and grows turning right; pitch 0 is level, +90 looks straight down.

:func:`overlay` adds what a person watching wants (crosshair, the held item,
the inventory) on a larger frame; the agent's ``pov`` never has it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from PIL import Image, ImageDraw, ImageFont

from craftlab.envs.voxel import blocks as B

FOV_DEGREES = 70.0
"""Minecraft's default vertical field of view"""
FOG_END = 40.0
"""blocks; rays stop here (sky colour)"""

_SHADE = np.array([0.6, 1.0, 0.8], np.float32)  # x sides, top, z sides (bottom: 0.5)
B_WATER = B.WATER
B_TORCH = B.TORCH
EMPTY_BRICK = 255
"""render-grid value of air in a 4x4x4 brick that holds no block at all"""


@njit(cache=True, inline="always")
def _hash(x: int, y: int, z: int, face: int, u: int, v: int) -> float:
    """A pseudo-random number in [0, 1) for one texel of one face."""
    h = (x * 73856093) ^ (y * 19349663) ^ (z * 83492791) ^ (face * 2654435761) ^ (u * 40503) ^ (v * 97103)
    h &= 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x846CA68B) & 0xFFFFFFFF
    h ^= h >> 16
    return (h & 0xFFFFFF) / 16777216.0


@njit(cache=True, inline="always")
def _texel_kind(p: int, spot_fraction: float, x: int, y: int, z: int, axis: int, top: bool, iu: int, iv: int) -> int:
    """Which colour of its block a texel (iu, iv) of a face takes: 0 the side colour,
    1 the top colour, 2 the spot colour, -1 transparent (pattern ``p``, see blocks.py).
    Scalars only: numba reference-counts arrays passed to a function, which costs
    more than the whole texel in the per-pixel loop."""
    h = _hash(x, y, z, axis * 2 + (1 if top else 0), iu, iv)
    horizontal = axis == 1
    if p == 1:  # BARK: vertical stripes on the sides, rings on top
        if horizontal:
            r = max(abs(iu - 3.5), abs(iv - 3.5))
            return 2 if (r > 3.0 or (int(r) % 2 == 1 and h < 0.7)) else 1
        return 2 if (iu % 3 == 0 or h < 0.12) else 0
    if p == 2:  # GRASS: green top, dirt sides with a green edge
        if horizontal:
            return 1 if top else 0
        return 2 if (iv >= 6 or (iv == 5 and h < 0.45)) else 0
    if p == 3:  # PLANK_LINES
        spot = iv % 4 == 0 or (iu == (iv // 4) * 3 + 2 and h < 0.8)
        return 2 if spot else (1 if horizontal else 0)
    if p == 4:  # TABLE_TOP: a grid on top, tools on the sides
        if horizontal and top:
            return 2 if (iu == 0 or iu == 7 or iv == 0 or iv == 7 or iu == 4 or iv == 4) else 1
        return 2 if ((iv >= 5 and h < 0.5) or iv == 7) else 0
    if p == 5:  # SPOTS
        return 2 if h < spot_fraction else (1 if horizontal else 0)
    if p == 6:  # FURNACE_FRONT: a dark mouth on the sides
        return 2 if ((not horizontal) and 2 <= iu <= 5 and 1 <= iv <= 3) else 0
    if p == 7:  # TORCH: a stick in the middle of each side, flame on top
        if horizontal:
            return 2 if (3 <= iu <= 4 and 3 <= iv <= 4) else -1
        if not (3 <= iu <= 4) or iv > 5:
            return -1
        return 2 if iv >= 5 else 0
    return 1 if horizontal else 0  # PLAIN


@njit(cache=True, fastmath=True, error_model="numpy")
def render_pov(
    grid: np.ndarray,
    sx: int,
    sy: int,
    sz: int,
    eye: np.ndarray,
    yaw: float,
    pitch: float,
    fov: float,
    light: float,
    target: np.ndarray,
    crack: float,
    out: np.ndarray,
    palette: np.ndarray,
    pattern: np.ndarray,
    spot_fraction: np.ndarray,
    noise: np.ndarray,
    shade: np.ndarray,
    fog_end: float,
) -> None:
    """Ray-march the view from ``eye`` (float64[3]) into ``out`` (uint8[H, W, 3]).

    ``grid``: the flattened ``uint8[sx, sy, sz]`` render grid of :class:`RenderGrid`
    (block ids, with air in an empty 4x4x4 brick marked :data:`EMPTY_BRICK`:
    rays cross such bricks in one step).

    ``yaw``/``pitch`` in degrees (Minecraft's conventions), ``fov`` the vertical
    field of view in degrees, ``light`` the daylight in [0, 1], ``target`` the
    block being mined (int64[3]) and ``crack`` its progress in [0, 1].
    ``palette``: float32[blocks, 3 (side, top, spot), 3 (RGB)]; ``pattern``,
    ``spot_fraction``, ``noise``: per block (see blocks.py); ``shade``: per axis.
    """
    h_px, w_px = out.shape[0], out.shape[1]
    ry, rp = math.radians(yaw), math.radians(pitch)
    sin_y, cos_y, sin_p, cos_p = math.sin(ry), math.cos(ry), math.sin(rp), math.cos(rp)
    fx, fy, fz = -sin_y * cos_p, -sin_p, cos_y * cos_p  # forward
    rx, rz = -cos_y, -sin_y  # right (horizontal)
    ux, uy, uz = -sin_y * sin_p, cos_p, cos_y * sin_p  # up
    tan_half = math.tan(math.radians(fov) * 0.5)
    aspect = w_px / h_px
    # the ray loop assumes the eye inside the world box (the player cannot leave it)
    ex = min(max(eye[0], 1e-3), sx - 1e-3)
    ey = min(max(eye[1], 1e-3), sy - 1e-3)
    ez = min(max(eye[2], 1e-3), sz - 1e-3)
    fog_start = fog_end * 0.55
    day = 0.25 + 0.75 * light
    # sky: horizon and zenith colours, dimmed at night
    hor_r, hor_g, hor_b = 190.0 * day, 212.0 * day, 255.0 * day
    zen_r, zen_g, zen_b = 112.0 * day, 158.0 * day, 255.0 * day
    water_r, water_g, water_b = palette[B_WATER, 0, 0], palette[B_WATER, 0, 1], palette[B_WATER, 0, 2]
    ix0, iy0, iz0 = int(math.floor(ex)), int(math.floor(ey)), int(math.floor(ez))
    eye_block = grid[(ix0 * sy + iy0) * sz + iz0]
    stride_x, stride_y = sy * sz, sz
    tx, ty, tz = target[0], target[1], target[2]
    for i in range(h_px):
        py = (1.0 - 2.0 * (i + 0.5) / h_px) * tan_half
        for j in range(w_px):
            px = (2.0 * (j + 0.5) / w_px - 1.0) * tan_half * aspect
            dx = fx + px * rx + py * ux
            dy = fy + py * uy
            dz = fz + px * rz + py * uz
            norm = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz)
            dx *= norm
            dy *= norm
            dz *= norm
            # sky colour of this direction (also the fog colour)
            s = math.sqrt(max(dy, 0.0))
            sky_r = hor_r + (zen_r - hor_r) * s
            sky_g = hor_g + (zen_g - hor_g) * s
            sky_b = hor_b + (zen_b - hor_b) * s
            # DDA set-up
            x, y, z = ix0, iy0, iz0
            step_x = 1 if dx > 0 else -1
            step_y = 1 if dy > 0 else -1
            step_z = 1 if dz > 0 else -1
            inv_x = 1.0 / abs(dx) if dx != 0.0 else 1e30
            inv_y = 1.0 / abs(dy) if dy != 0.0 else 1e30
            inv_z = 1.0 / abs(dz) if dz != 0.0 else 1e30
            t_x = ((x + 1 - ex) if dx > 0 else (ex - x)) * inv_x
            t_y = ((y + 1 - ey) if dy > 0 else (ey - y)) * inv_y
            t_z = ((z + 1 - ez) if dz > 0 else (ez - z)) * inv_z
            t = 0.0
            water_t = 0.0
            in_water = eye_block == B_WATER
            water_since = 0.0
            r, g, b = sky_r, sky_g, sky_b
            hit = False
            idx = (x * sy + y) * sz + z
            while True:
                # step to the next cell along the axis whose boundary is nearest
                if t_x < t_y and t_x < t_z:
                    x += step_x
                    idx += step_x * stride_x
                    t = t_x
                    t_x += inv_x
                    axis = 0
                    if x < 0 or x >= sx:
                        break
                elif t_y < t_z:
                    y += step_y
                    idx += step_y * stride_y
                    t = t_y
                    t_y += inv_y
                    axis = 1
                    if y < 0 or y >= sy:  # the eye is clamped into the world box above
                        break
                else:
                    z += step_z
                    idx += step_z
                    t = t_z
                    t_z += inv_z
                    axis = 2
                    if z < 0 or z >= sz:
                        break
                if t > fog_end:
                    break
                blk = grid[idx]
                if blk == 0 or blk == EMPTY_BRICK:
                    if in_water:
                        water_t += t - water_since
                        in_water = False
                    if blk == EMPTY_BRICK:
                        # an empty 4x4x4 brick: jump to the cell where the ray leaves it
                        bx, by, bz = (x >> 2) << 2, (y >> 2) << 2, (z >> 2) << 2
                        out_x = ((bx + 4 - ex) if dx > 0 else (ex - bx)) * inv_x
                        out_y = ((by + 4 - ey) if dy > 0 else (ey - by)) * inv_y
                        out_z = ((bz + 4 - ez) if dz > 0 else (ez - bz)) * inv_z
                        t_out = min(out_x, out_y, out_z)
                        x = min(max(int(math.floor(ex + dx * t_out)), bx), min(bx + 3, sx - 1))
                        y = min(max(int(math.floor(ey + dy * t_out)), by), min(by + 3, sy - 1))
                        z = min(max(int(math.floor(ez + dz * t_out)), bz), min(bz + 3, sz - 1))
                        idx = (x * sy + y) * sz + z
                        t_x = ((x + 1 - ex) if dx > 0 else (ex - x)) * inv_x
                        t_y = ((y + 1 - ey) if dy > 0 else (ey - y)) * inv_y
                        t_z = ((z + 1 - ez) if dz > 0 else (ez - z)) * inv_z
                    continue
                if blk == B_WATER:
                    if not in_water:
                        in_water = True
                        water_since = t
                    continue
                if in_water:
                    water_t += t - water_since
                    in_water = False
                # the entry point on the face
                hx, hy, hz = ex + dx * t, ey + dy * t, ez + dz * t
                if axis == 0:
                    u, v = hz - math.floor(hz), hy - math.floor(hy)
                elif axis == 1:
                    u, v = hx - math.floor(hx), hz - math.floor(hz)
                else:
                    u, v = hx - math.floor(hx), hy - math.floor(hy)
                top = axis == 1 and step_y < 0
                iu, iv = min(int(u * 8.0), 7), min(int(v * 8.0), 7)
                kind = _texel_kind(pattern[blk], spot_fraction[blk], x, y, z, axis, top, iu, iv)
                if kind < 0:
                    continue
                f = shade[axis] if not (axis == 1 and step_y > 0) else 0.5
                f *= 1.0 + noise[blk] * (2.0 * _hash(y, z, x, axis + 7, iv, iu) - 1.0)
                if x == tx and y == ty and z == tz and crack > 0.0:
                    if _hash(iv, x, iu, axis + 11, y, z) < crack * 0.85:
                        f *= 0.4
                f *= day if blk != B_TORCH else 1.0
                r, g, b = palette[blk, kind, 0] * f, palette[blk, kind, 1] * f, palette[blk, kind, 2] * f
                hit = True
                break
            if in_water:
                water_t += min(t, fog_end) - water_since
            if hit and t > fog_start:
                k = min((t - fog_start) / (fog_end - fog_start), 1.0)
                r += (sky_r - r) * k
                g += (sky_g - g) * k
                b += (sky_b - b) * k
            if water_t > 0.0:
                k = min(0.35 + 0.06 * water_t, 0.85)
                r += (water_r * day - r) * k
                g += (water_g * day - g) * k
                b += (water_b * day - b) * k
            out[i, j, 0] = min(max(r, 0.0), 255.0)
            out[i, j, 1] = min(max(g, 0.0), 255.0)
            out[i, j, 2] = min(max(b, 0.0), 255.0)


class Camera:
    """Renders a world's first-person view at one resolution (the block tables bound once)."""

    def __init__(self, height: int = 64, width: int = 64, fov: float = FOV_DEGREES, fog_end: float = FOG_END):
        self.height, self.width, self.fov, self.fog_end = height, width, float(fov), float(fog_end)
        palette = np.stack([B.COLOR, B.TOP_COLOR, B.SPOT_COLOR], axis=1).astype(np.float32)
        self.tables = (
            palette,
            B.PATTERN.astype(np.int64),
            B.SPOT_FRACTION.astype(np.float64),
            B.NOISE.astype(np.float64),
            _SHADE.astype(np.float64),
        )

    def render(
        self,
        grid: "RenderGrid",
        eye: np.ndarray,
        yaw: float,
        pitch: float,
        light: float = 1.0,
        target: np.ndarray | None = None,
        crack: float = 0.0,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``uint8[height, width, 3]``: the view from ``eye`` (see :func:`render_pov`)."""
        if out is None:
            out = np.empty((self.height, self.width, 3), np.uint8)
        tgt = target if target is not None else _NO_TARGET
        sx, sy, sz = grid.shape
        render_pov(
            grid.flat,
            sx,
            sy,
            sz,
            np.asarray(eye, np.float64),
            float(yaw),
            float(pitch),
            self.fov,
            float(light),
            tgt,
            float(crack),
            out,
            *self.tables,
            self.fog_end,
        )
        return out


_NO_TARGET = np.array([-1, -1, -1], np.int64)


class RenderGrid:
    """What the renderer reads: the world's blocks, with the air of empty 4x4x4
    bricks marked :data:`EMPTY_BRICK`, kept in step with the world by :meth:`set`."""

    def __init__(self, world: np.ndarray):
        self.world = world
        self.shape = world.shape
        sx, sy, sz = world.shape
        padded = np.zeros(((sx + 3) // 4 * 4, (sy + 3) // 4 * 4, (sz + 3) // 4 * 4), np.int32)
        padded[:sx, :sy, :sz] = world != B.AIR
        px, py, pz = padded.shape
        self.bricks = padded.reshape(px // 4, 4, py // 4, 4, pz // 4, 4).sum(axis=(1, 3, 5)).astype(np.int32)
        """non-air blocks per brick"""
        empty = np.repeat(np.repeat(np.repeat(self.bricks == 0, 4, 0), 4, 1), 4, 2)[:sx, :sy, :sz]
        self.grid = np.where(empty, EMPTY_BRICK, world).astype(np.uint8)
        self.flat = self.grid.reshape(-1)

    def set(self, x: int, y: int, z: int, old: int, new: int) -> None:
        """Block (x, y, z) changed from ``old`` to ``new`` (the world array already holds ``new``)."""
        bx, by, bz = x >> 2, y >> 2, z >> 2
        before = self.bricks[bx, by, bz]
        self.bricks[bx, by, bz] += int(new != B.AIR) - int(old != B.AIR)
        brick = self.grid[4 * bx : 4 * bx + 4, 4 * by : 4 * by + 4, 4 * bz : 4 * bz + 4]
        if before == 0 and self.bricks[bx, by, bz] > 0:
            brick[brick == EMPTY_BRICK] = B.AIR
        if self.bricks[bx, by, bz] == 0:
            brick[...] = EMPTY_BRICK
        else:
            self.grid[x, y, z] = new


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def overlay(frame: np.ndarray, lines: list[str], crosshair: bool = True) -> np.ndarray:
    """A frame for people: a crosshair in the centre and ``lines`` of text (the
    held item, the inventory) in a translucent box at the bottom left."""
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img, "RGBA")
    h, w = frame.shape[:2]
    if crosshair:
        c, r = (w // 2, h // 2), max(3, w // 64)
        draw.line([(c[0] - r, c[1]), (c[0] + r, c[1])], fill=(255, 255, 255, 200), width=1)
        draw.line([(c[0], c[1] - r), (c[0], c[1] + r)], fill=(255, 255, 255, 200), width=1)
    if lines:
        size = max(9, h // 28)
        font = _font(size)
        step = size + 3
        box_h = step * len(lines) + 6
        draw.rectangle([(0, h - box_h), (w, h)], fill=(0, 0, 0, 110))
        for k, line in enumerate(lines):
            draw.text((5, h - box_h + 3 + k * step), line, fill=(255, 255, 255, 255), font=font)
    return np.asarray(img)
