"""Items: the inventory, tools, how long a block takes to mine, crafting and smelting.

Rules follow Minecraft 1.11 as MineRL 0.4.4's Obtain tasks expose them:

* **Mining time** (:func:`break_ticks`): ``ceil(hardness * k / speed)`` ticks
  with ``k = 30`` when the held tool can harvest the block and 100 when it
  cannot (then the block drops nothing), ``speed`` 1 by hand and 2 / 4 / 6
  for a wooden / stone / iron tool of the block's kind (axe: wood; pickaxe:
  stone, ores, furnace). A log takes 60 ticks by hand, 10 with the iron axe
  Treechop starts with; stone needs a pickaxe, iron ore a stone pickaxe,
  diamond ore an iron pickaxe.
* **craft** (MineRL's 2x2 inventory crafting, no table): planks (1 log -> 4),
  stick (2 planks -> 4), crafting_table (4 planks), torch (coal + stick -> 4).
* **nearbyCraft** (a crafting table within reach): wooden/stone/iron
  axe and pickaxe (3 planks / cobblestone / iron ingots + 2 sticks), furnace (8 cobblestone).
* **nearbySmelt** (a furnace within reach): iron_ingot (1 iron ore), coal
  (charcoal, 1 log); each uses one fuel item (coal, else planks, else log).
  Minecraft burns one coal for 8 items; here each smelt takes one fuel item.
* A tool wears by 1 per block broken with it and breaks at its maximum damage
  (59 wood, 131 stone, 250 iron).

Failed actions (missing ingredients, no table nearby, an item not held) do
nothing, as in MineRL.
"""

from __future__ import annotations

import math
from collections import Counter

from craftlab.envs.voxel import blocks as B

TIER = {"wooden": 1, "stone": 2, "iron": 3}
"""tool material -> harvest tier"""
SPEED = {0: 1.0, 1: 2.0, 2: 4.0, 3: 6.0}
"""harvest tier -> mining speed on the tool's own kind of block"""
MAX_DAMAGE = {f"{m}_{k}": d for m, d in (("wooden", 59), ("stone", 131), ("iron", 250)) for k in ("axe", "pickaxe")}
"""tool -> uses before it breaks (MineRL's ``maxDamage``)"""

CRAFT: dict[str, tuple[dict[str, int], int]] = {
    "planks": ({"log": 1}, 4),
    "stick": ({"planks": 2}, 4),
    "crafting_table": ({"planks": 4}, 1),
    "torch": ({"coal": 1, "stick": 1}, 4),
}
"""MineRL ``craft``: item -> (ingredients, count made)"""
NEARBY_CRAFT: dict[str, tuple[dict[str, int], int]] = {
    "wooden_axe": ({"planks": 3, "stick": 2}, 1),
    "wooden_pickaxe": ({"planks": 3, "stick": 2}, 1),
    "stone_axe": ({"cobblestone": 3, "stick": 2}, 1),
    "stone_pickaxe": ({"cobblestone": 3, "stick": 2}, 1),
    "iron_axe": ({"iron_ingot": 3, "stick": 2}, 1),
    "iron_pickaxe": ({"iron_ingot": 3, "stick": 2}, 1),
    "furnace": ({"cobblestone": 8}, 1),
}
"""MineRL ``nearbyCraft`` (needs a crafting table within reach)"""
SMELT: dict[str, dict[str, int]] = {"iron_ingot": {"iron_ore": 1}, "coal": {"log": 1}}
"""MineRL ``nearbySmelt`` (needs a furnace within reach): item -> input"""
FUELS = ("coal", "planks", "log")
"""fuel, in the order it is used"""


def tool_of(item: str) -> tuple[str | None, int]:
    """``'stone_pickaxe'`` -> ('pickaxe', 2); anything else -> (None, 0)."""
    material, _, kind = item.partition("_")
    if kind in ("axe", "pickaxe") and material in TIER:
        return kind, TIER[material]
    return None, 0


def can_harvest(block: int, held: str) -> bool:
    """Does breaking ``block`` with ``held`` in hand drop its item?"""
    need = int(B.HARVEST_LEVEL[block])
    if need == 0:
        return True
    kind, tier = tool_of(held)
    return kind == "pickaxe" and tier >= need


def break_ticks(block: int, held: str) -> int:
    """Ticks of continuous attack that break ``block`` holding ``held`` (-1: never)."""
    hardness = float(B.HARDNESS[block])
    if hardness < 0:
        return -1
    if hardness == 0:
        return 1
    kind, tier = tool_of(held)
    speed = SPEED[tier] if kind is not None and kind == B.EFFECTIVE_TOOL.get(block) else 1.0
    k = 30.0 if can_harvest(block, held) else 100.0
    return max(1, math.ceil(hardness * k / speed - 1e-9))


class Inventory:
    """Item counts, the held item and its wear, and what was gained this step.

    ``gained`` counts every item that entered the inventory since
    :meth:`start_step` (mined, crafted, smelted): MineRL's dense Obtain
    rewards and Treechop's log reward pay per item gained.
    """

    def __init__(self, items: dict[str, int] | None = None, mainhand: str = "air"):
        self.counts: Counter = Counter(items or {})
        self.mainhand = mainhand
        self.damage = 0
        self.gained: Counter = Counter()

    def start_step(self) -> None:
        self.gained = Counter()

    def __getitem__(self, item: str) -> int:
        return int(self.counts.get(item, 0))

    def add(self, item: str, n: int = 1) -> None:
        self.counts[item] += n
        self.gained[item] += n

    def has(self, cost: dict[str, int]) -> bool:
        return all(self[k] >= v for k, v in cost.items())

    def remove(self, item: str, n: int = 1) -> None:
        self.counts[item] -= n
        if self.counts[item] <= 0:
            del self.counts[item]
            if self.mainhand == item:
                self.mainhand, self.damage = "air", 0

    def pay(self, cost: dict[str, int]) -> None:
        for k, v in cost.items():
            self.remove(k, v)

    @property
    def max_damage(self) -> int:
        return MAX_DAMAGE.get(self.mainhand, 0)

    # ------------------------------------------------------------ actions

    def craft(self, item: str) -> bool:
        """MineRL ``craft``: 2x2 crafting from the inventory. True if it happened."""
        if item not in CRAFT or not self.has(CRAFT[item][0]):
            return False
        self.pay(CRAFT[item][0])
        self.add(item, CRAFT[item][1])
        return True

    def nearby_craft(self, item: str, table_nearby: bool) -> bool:
        if item not in NEARBY_CRAFT or not table_nearby or not self.has(NEARBY_CRAFT[item][0]):
            return False
        self.pay(NEARBY_CRAFT[item][0])
        self.add(item, NEARBY_CRAFT[item][1])
        return True

    def smelt(self, item: str, furnace_nearby: bool) -> bool:
        if item not in SMELT or not furnace_nearby or not self.has(SMELT[item]):
            return False
        needed = dict(SMELT[item])
        for fuel in FUELS:
            if self[fuel] >= needed.get(fuel, 0) + 1:
                needed[fuel] = needed.get(fuel, 0) + 1
                break
        else:
            return False
        self.pay(needed)
        self.add(item)
        return True

    def equip(self, item: str) -> bool:
        """MineRL ``equip``: hold ``item`` (must be in the inventory; ``air``: empty hand)."""
        if item == "air" or self[item] > 0:
            if item != self.mainhand:
                self.mainhand, self.damage = item, 0
            return True
        return False

    def wear(self) -> None:
        """One use of the held tool; it breaks at its maximum damage."""
        top = self.max_damage
        if top <= 0:
            return
        self.damage += 1
        if self.damage >= top:
            tool = self.mainhand
            self.damage = 0
            self.remove(tool)
            if self[tool] <= 0:
                self.mainhand = "air"
