"""The player's body: walking, jumping, gravity, collision, camera, reach.

One :meth:`Player.tick` is one Minecraft tick (50 ms, one MineRL step).
Numbers are Minecraft 1.11's:

* the body is a 0.6 x 1.8 x 0.6 box, the eye 1.62 above the feet;
* walking 4.317 blocks/s (0.216 a tick), sprinting 5.612 (forward only),
  sneaking 1.31 (and sneaking does not walk off an edge);
* gravity: after each move ``vy = (vy - 0.08) * 0.98``; a jump sets
  ``vy = 0.42``, which peaks 1.2522 blocks up (one block can be climbed by
  jumping, two cannot); terminal speed 3.92 blocks a tick;
* in water: half speed, ``vy = (vy - 0.02) * 0.8``, and jump swims up;
* the camera: pitch clamped to [-90, 90] (+ looks down), yaw wrapped to
  [-180, 180) (+ turns right);
* reach: the look ray picks the first solid-looking block within 4.5 blocks.

Simplified: horizontal speed is set each tick (Minecraft accelerates over a
few ticks and slides with friction), no step-up onto half blocks, no fall damage.

Collision moves the box one axis at a time (y, then x, then z) and stops it at
the first solid block it would enter (:func:`move_axis`, numba).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from craftlab.envs.voxel import blocks as B

HALF_WIDTH = 0.3
HEIGHT = 1.8
EYE_HEIGHT = 1.62
WALK_SPEED = 4.317 / 20
SPRINT_SPEED = 5.612 / 20
SNEAK_SPEED = 1.31 / 20
GRAVITY = 0.08
DRAG = 0.98
JUMP_VELOCITY = 0.42
TERMINAL_VELOCITY = 3.92
WATER_SPEED = 0.5
REACH = 4.5
_EPS = 1e-6


def wrap_degrees(angle: float) -> float:
    """An angle in degrees -> [-180, 180)."""
    return (angle + 180.0) % 360.0 - 180.0


def look_direction(yaw: float, pitch: float) -> np.ndarray:
    """Unit vector the camera looks along (Minecraft: yaw 0 = +z, pitch + = down)."""
    ry, rp = math.radians(yaw), math.radians(pitch)
    return np.array([-math.sin(ry) * math.cos(rp), -math.sin(rp), math.cos(ry) * math.cos(rp)])


@njit(cache=True)
def _solid(world: np.ndarray, solid: np.ndarray, x: int, y: int, z: int) -> bool:
    sx, sy, sz = world.shape
    if y >= sy:
        return False
    if y < 0 or x < 0 or x >= sx or z < 0 or z >= sz:
        return True  # bedrock below, an invisible wall around
    return solid[world[x, y, z]]


@njit(cache=True)
def _box_hits(world: np.ndarray, solid: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int, cell: int) -> bool:
    """Is any solid block in layer ``cell`` (along ``axis``) across the box's other two extents?"""
    a1, a2 = (axis + 1) % 3, (axis + 2) % 3
    c = np.empty(3, np.int64)
    c[axis] = cell
    for i in range(int(math.floor(lo[a1] + _EPS)), int(math.floor(hi[a1] - _EPS)) + 1):
        for j in range(int(math.floor(lo[a2] + _EPS)), int(math.floor(hi[a2] - _EPS)) + 1):
            c[a1] = i
            c[a2] = j
            if _solid(world, solid, c[0], c[1], c[2]):
                return True
    return False


@njit(cache=True)
def move_axis(
    world: np.ndarray, solid: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int, delta: float
) -> tuple[float, bool]:
    """Move the box [lo, hi] by ``delta`` along ``axis`` until it would enter a
    solid block. Returns (the distance moved, whether it was stopped)."""
    if delta > 0:
        lead = hi[axis]
        first = int(math.floor(lead - _EPS)) + 1
        last = int(math.floor(lead + delta - _EPS))
        for cell in range(first, last + 1):
            if _box_hits(world, solid, lo, hi, axis, cell):
                return max(cell - lead, 0.0), True
        return delta, False
    if delta < 0:
        lead = lo[axis]
        first = int(math.floor(lead + _EPS)) - 1
        last = int(math.floor(lead + delta + _EPS))
        for cell in range(first, last - 1, -1):
            if _box_hits(world, solid, lo, hi, axis, cell):
                return min(cell + 1 - lead, 0.0), True
        return delta, False
    return 0.0, False


@njit(cache=True)
def raycast(
    world: np.ndarray, targetable: np.ndarray, eye: np.ndarray, direction: np.ndarray, reach: float
) -> tuple[bool, int, int, int, int, int, int]:
    """The first targetable block the ray from ``eye`` meets within ``reach``:
    (hit, x, y, z, nx, ny, nz) with (nx, ny, nz) the normal of the face it entered
    (where a placed block goes)."""
    sx, sy, sz = world.shape
    ex, ey, ez = eye[0], eye[1], eye[2]
    dx, dy, dz = direction[0], direction[1], direction[2]
    x, y, z = int(math.floor(ex)), int(math.floor(ey)), int(math.floor(ez))
    step_x = 1 if dx > 0 else -1
    step_y = 1 if dy > 0 else -1
    step_z = 1 if dz > 0 else -1
    inv_x = 1.0 / abs(dx) if dx != 0.0 else 1e30
    inv_y = 1.0 / abs(dy) if dy != 0.0 else 1e30
    inv_z = 1.0 / abs(dz) if dz != 0.0 else 1e30
    t_x = ((x + 1 - ex) if dx > 0 else (ex - x)) * inv_x
    t_y = ((y + 1 - ey) if dy > 0 else (ey - y)) * inv_y
    t_z = ((z + 1 - ez) if dz > 0 else (ez - z)) * inv_z
    nx, ny, nz = 0, 0, 0
    t = 0.0
    while t <= reach:
        if 0 <= x < sx and 0 <= y < sy and 0 <= z < sz and targetable[world[x, y, z]]:
            return True, x, y, z, nx, ny, nz
        if t_x < t_y and t_x < t_z:
            x += step_x
            t = t_x
            t_x += inv_x
            nx, ny, nz = -step_x, 0, 0
        elif t_y < t_z:
            y += step_y
            t = t_y
            t_y += inv_y
            nx, ny, nz = 0, -step_y, 0
        else:
            z += step_z
            t = t_z
            t_z += inv_z
            nx, ny, nz = 0, 0, -step_z
    return False, 0, 0, 0, 0, 0, 0


@njit(cache=True)
def _in_water(world: np.ndarray, pos: np.ndarray) -> bool:
    sx, sy, sz = world.shape
    x, z = int(math.floor(pos[0])), int(math.floor(pos[2]))
    if not (0 <= x < sx and 0 <= z < sz):
        return False
    for y in (int(math.floor(pos[1] + 0.1)), int(math.floor(pos[1] + EYE_HEIGHT))):
        if 0 <= y < sy and world[x, y, z] == B_WATER:
            return True
    return False


@njit(cache=True)
def _box(pos: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    lo[0], lo[1], lo[2] = pos[0] - HALF_WIDTH, pos[1], pos[2] - HALF_WIDTH
    hi[0], hi[1], hi[2] = pos[0] + HALF_WIDTH, pos[1] + HEIGHT, pos[2] + HALF_WIDTH


@njit(cache=True)
def physics_tick(
    world: np.ndarray,
    solid: np.ndarray,
    pos: np.ndarray,
    state: np.ndarray,
    yaw: float,
    forward: int,
    back: int,
    left: int,
    right: int,
    jump: int,
    sneak: int,
    sprint: int,
) -> None:
    """One tick of movement (see module doc). ``pos``: feet centre, float64[3], moved in place;
    ``state``: float64[3] = (vertical velocity, on ground 0/1, in water 0/1), updated in place."""
    lo, hi = np.empty(3), np.empty(3)
    vy, on_ground = state[0], state[1] > 0.5
    in_water = _in_water(world, pos)
    if jump and in_water:
        vy = min(vy + 0.06, 0.12)
    elif jump and on_ground:
        vy = JUMP_VELOCITY
    f = forward - back
    s = right - left
    speed = WALK_SPEED
    if sneak:
        speed = SNEAK_SPEED
    elif sprint and f > 0:
        speed = SPRINT_SPEED
    if in_water:
        speed *= WATER_SPEED
    if f != 0 and s != 0:
        speed /= math.sqrt(2.0)
    ry = math.radians(yaw)
    mx = (-math.sin(ry) * f - math.cos(ry) * s) * speed
    mz = (math.cos(ry) * f - math.sin(ry) * s) * speed
    # the vertical move, then gravity (Minecraft's order)
    _box(pos, lo, hi)
    moved, hit = move_axis(world, solid, lo, hi, 1, vy)
    pos[1] += moved
    falling = vy < 0
    if hit:
        vy = 0.0
    on_ground = hit and falling
    if in_water:
        vy = (vy - 0.02) * 0.8
    else:
        vy = max((vy - GRAVITY) * DRAG, -TERMINAL_VELOCITY)
    # horizontal moves, one axis at a time; sneaking keeps the feet on a block
    for axis in (0, 2):
        delta = mx if axis == 0 else mz
        if delta == 0.0:
            continue
        _box(pos, lo, hi)
        moved, _ = move_axis(world, solid, lo, hi, axis, delta)
        if moved == 0.0:
            continue
        pos[axis] += moved
        if sneak and on_ground:
            _box(pos, lo, hi)
            if not _box_hits(world, solid, lo, hi, 1, int(math.floor(pos[1] - 0.05))):
                pos[axis] -= moved
    state[0], state[1], state[2] = vy, 1.0 if on_ground else 0.0, 1.0 if in_water else 0.0


@njit(cache=True)
def target_block(
    world: np.ndarray, targetable: np.ndarray, pos: np.ndarray, yaw: float, pitch: float, reach: float
) -> tuple[bool, int, int, int, int, int, int]:
    """:func:`raycast` from the eye of a player standing at ``pos`` looking along (yaw, pitch)."""
    ry, rp = math.radians(yaw), math.radians(pitch)
    eye = np.array([pos[0], pos[1] + EYE_HEIGHT, pos[2]])
    d = np.array([-math.sin(ry) * math.cos(rp), -math.sin(rp), math.cos(ry) * math.cos(rp)])
    return raycast(world, targetable, eye, d, reach)


B_WATER = B.WATER


class Player:
    """Position (feet centre), vertical velocity, camera; see module doc."""

    def __init__(self, pos: tuple[float, float, float], yaw: float = 0.0, pitch: float = 0.0):
        self.pos = np.array(pos, dtype=np.float64)
        self.yaw = wrap_degrees(float(yaw))
        self.pitch = float(np.clip(pitch, -90.0, 90.0))
        self.state = np.zeros(3)
        """(vertical velocity, on ground, in water)"""

    @property
    def vy(self) -> float:
        return float(self.state[0])

    @vy.setter
    def vy(self, value: float) -> None:
        self.state[0] = value

    @property
    def on_ground(self) -> bool:
        return bool(self.state[1] > 0.5)

    @on_ground.setter
    def on_ground(self, value: bool) -> None:
        self.state[1] = 1.0 if value else 0.0

    @property
    def in_water(self) -> bool:
        return bool(self.state[2] > 0.5)

    # ------------------------------------------------------------ geometry

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.empty(3), np.empty(3)
        _box(self.pos, lo, hi)
        return lo, hi

    @property
    def eye(self) -> np.ndarray:
        return np.array([self.pos[0], self.pos[1] + EYE_HEIGHT, self.pos[2]])

    @property
    def direction(self) -> np.ndarray:
        return look_direction(self.yaw, self.pitch)

    def overlaps_block(self, x: int, y: int, z: int) -> bool:
        """Does the body box intersect block (x, y, z)?"""
        lo, hi = self.box()
        return bool(
            lo[0] < x + 1 - _EPS
            and hi[0] > x + _EPS
            and lo[1] < y + 1 - _EPS
            and hi[1] > y + _EPS
            and lo[2] < z + 1 - _EPS
            and hi[2] > z + _EPS
        )

    # ------------------------------------------------------------ control

    def turn(self, pitch_delta: float, yaw_delta: float) -> None:
        """MineRL's camera action: degrees, pitch + looks down (clamped), yaw + turns right (wrapped)."""
        self.pitch = min(max(self.pitch + pitch_delta, -90.0), 90.0)
        self.yaw = wrap_degrees(self.yaw + yaw_delta)

    def tick(
        self, world: np.ndarray, forward: int, back: int, left: int, right: int, jump: int, sneak: int, sprint: int
    ) -> None:
        """One tick of movement from MineRL's movement keys (0/1 each)."""
        physics_tick(world, B.SOLID, self.pos, self.state, self.yaw, forward, back, left, right, jump, sneak, sprint)

    def target(self, world: np.ndarray, reach: float = REACH) -> tuple[bool, int, int, int, int, int, int]:
        """The block under the crosshair (see :func:`raycast`)."""
        return target_block(world, B.TARGETABLE, self.pos, self.yaw, self.pitch, reach)


def pitch_yaw_to(eye: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """The (pitch, yaw) in degrees that look from ``eye`` at ``point`` (Minecraft conventions)."""
    d = np.asarray(point, np.float64) - np.asarray(eye, np.float64)
    yaw = math.degrees(math.atan2(-d[0], d[2]))
    pitch = -math.degrees(math.atan2(d[1], math.hypot(d[0], d[2])))
    return pitch, yaw
