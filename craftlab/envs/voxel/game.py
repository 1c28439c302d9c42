"""One tick of the voxel world: the state and the rules joining player, blocks and items.

:class:`Game` holds a :class:`~craftlab.envs.voxel.world.World`, a
:class:`~craftlab.envs.voxel.player.Player`, an
:class:`~craftlab.envs.voxel.items.Inventory`, the clock and the block being
mined. :meth:`Game.tick` applies one MineRL action (already parsed into plain
values) in MineRL's order: camera, movement, attack, then the inventory
commands (craft, nearbyCraft, nearbySmelt, place, equip).

* **attack** held on the block under the crosshair accumulates mining
  progress; it resets when the crosshair moves to another block or the key is
  released. When progress reaches :func:`~craftlab.envs.voxel.items.break_ticks`
  the block becomes air, its drop (if the held tool can harvest it) goes
  straight into the inventory, the held tool wears, and attacking pauses for
  5 ticks (Minecraft's block-hit delay). Minecraft drops an item entity the
  player then picks up; here it is collected at once.
* **place** puts the item's block against the face under the crosshair (within
  reach), if that cell is free and not inside the player.
* **nearbyCraft** / **nearbySmelt** need a crafting table / furnace within 4
  blocks of the player's eye (Chebyshev distance).
* The clock (``time``, Minecraft ticks, 6000 = noon) gives the daylight when
  ``daylight_cycle`` is on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from craftlab.envs.voxel import blocks as B
from craftlab.envs.voxel.items import Inventory, break_ticks, can_harvest
from craftlab.envs.voxel.player import Player
from craftlab.envs.voxel.render import RenderGrid
from craftlab.envs.voxel.world import World

HIT_DELAY = 5
"""ticks after breaking a block before the next one starts (Minecraft's blockHitDelay)"""
NEARBY = 4
"""a crafting table / furnace counts as nearby within this many blocks of the eye"""


@dataclass
class Mining:
    """The block being mined and how far along it is."""

    target: tuple[int, int, int] | None = None
    progress: int = 0
    needed: int = 0
    delay: int = 0

    @property
    def fraction(self) -> float:
        return self.progress / self.needed if self.target is not None and self.needed > 0 else 0.0


@dataclass
class Game:
    """The state of one episode (see module doc)."""

    world: World
    player: Player
    inventory: Inventory
    time: int = 6000
    daylight_cycle: bool = False
    mining: Mining = field(default_factory=Mining)
    grid: RenderGrid = field(default=None)  # type: ignore[assignment]
    """what the renderer reads, kept in step with the world by :meth:`set_block`"""
    broken: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(x, y, z, block) of the blocks broken this tick"""

    def __post_init__(self) -> None:
        if self.grid is None:
            self.grid = RenderGrid(self.world.blocks)

    # ------------------------------------------------------------ world edits

    def set_block(self, x: int, y: int, z: int, block: int) -> None:
        old = int(self.world.blocks[x, y, z])
        self.world.blocks[x, y, z] = block
        self.grid.set(x, y, z, old, block)

    @property
    def light(self) -> float:
        """Daylight in [0, 1]: 1 at noon (time 6000), 0 from dusk to dawn."""
        if not self.daylight_cycle:
            return 1.0
        s = math.cos(2.0 * math.pi * ((self.time - 6000) % 24000) / 24000.0)
        return float(min(max(0.5 + s, 0.0), 1.0))

    def nearby(self, block: int) -> bool:
        """Is ``block`` within :data:`NEARBY` blocks of the eye?"""
        w = self.world.blocks
        e = np.floor(self.player.eye).astype(int)
        lo = np.maximum(e - NEARBY, 0)
        hi = e + NEARBY + 1
        return bool((w[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] == block).any())

    # ------------------------------------------------------------ one tick

    def tick(self, act: dict) -> None:
        """Apply one parsed MineRL action (keys 0/1, ``camera`` float[2], Enum names)."""
        self.inventory.start_step()
        self.broken = []
        p = self.player
        cam = act["camera"]
        p.turn(float(cam[0]), float(cam[1]))
        p.tick(
            self.world.blocks,
            act["forward"],
            act["back"],
            act["left"],
            act["right"],
            act["jump"],
            act["sneak"],
            act["sprint"],
        )
        self._attack(bool(act["attack"]))
        inv = self.inventory
        item = act.get("craft", "none")
        if item != "none":
            inv.craft(item)
        item = act.get("nearbyCraft", "none")
        if item != "none":
            inv.nearby_craft(item, self.nearby(B.CRAFTING_TABLE))
        item = act.get("nearbySmelt", "none")
        if item != "none":
            inv.smelt(item, self.nearby(B.FURNACE))
        item = act.get("place", "none")
        if item != "none":
            self.place(item)
        item = act.get("equip", "none")
        if item != "none":
            inv.equip(item)
        self.time += 1

    def _attack(self, attack: bool) -> None:
        m = self.mining
        if m.delay > 0:
            m.delay -= 1
        if not attack:
            m.target, m.progress = None, 0
            return
        hit, x, y, z, _, _, _ = self.player.target(self.world.blocks)
        if not hit:
            m.target, m.progress = None, 0
            return
        if m.target != (x, y, z):
            block = int(self.world.blocks[x, y, z])
            m.target, m.progress, m.needed = (x, y, z), 0, break_ticks(block, self.inventory.mainhand)
        if m.needed < 0 or m.delay > 0:
            return
        m.progress += 1
        if m.progress >= m.needed:
            self.break_block(x, y, z)
            m.target, m.progress, m.delay = None, 0, HIT_DELAY

    def break_block(self, x: int, y: int, z: int) -> None:
        """Remove a block; its drop goes to the inventory if the held item harvests it."""
        block = int(self.world.blocks[x, y, z])
        self.set_block(x, y, z, B.AIR)
        self.broken.append((x, y, z, block))
        drop = B.DROPS.get(block)
        if drop is not None and can_harvest(block, self.inventory.mainhand):
            self.inventory.add(drop)
        if B.HARDNESS[block] > 0:
            self.inventory.wear()

    def place(self, item: str) -> bool:
        """Put ``item``'s block against the targeted face. True if placed."""
        block = B.PLACEABLE.get(item)
        if block is None or self.inventory[item] <= 0:
            return False
        hit, x, y, z, nx, ny, nz = self.player.target(self.world.blocks)
        if not hit:
            return False
        cx, cy, cz = x + nx, y + ny, z + nz
        if not self.world.inside(cx, cy, cz) or self.world.blocks[cx, cy, cz] not in (B.AIR, B.WATER):
            return False
        if B.SOLID[block] and self.player.overlaps_block(cx, cy, cz):
            return False
        self.set_block(cx, cy, cz, block)
        self.inventory.remove(item)
        return True
