"""The MineRL tasks in the voxel world: where the player starts, rewards, the end.

Each task mirrors a MineRL 0.4.4 env (its spaces come from
:func:`craftlab.envs.minerl.specs.spec`, so they are MineRL's exactly):

* **Treechop** (``MineRLTreechop-v0``): a forest; the player holds an iron axe;
  +1 for every log collected; the episode ends at 64 logs (or the time limit).
* **Navigate** (``MineRLNavigate{,Dense,Extreme,ExtremeDense}-v0``): a diamond
  block stands on the surface 64-72 blocks away; the compass points at a spot
  within 8 blocks of it (MineRL randomises the compass location). +100 on
  touching the block, which ends the episode; Dense also pays each tick the
  decrease of the horizontal distance to the compass spot. Extreme: steep hills.
  The player starts with no dirt and can dig and ``place`` it.
* **Obtain** (``MineRLObtain{IronPickaxe,Diamond}{,Dense}-v0``): an empty
  inventory and hand; MineRL's milestone rewards (log 1, planks 2, stick 4,
  crafting_table 4, wooden_pickaxe 8, cobblestone 16, furnace 32,
  stone_pickaxe 32, iron_ore 64, iron_ingot 128, iron_pickaxe 256, diamond
  1024): once per item type (sparse) or for every item gained (Dense). The
  episode ends on obtaining the iron pickaxe / a diamond. The day passes.

Observations are built in MineRL's raw form, as the real env returns them
(the adapter casts them): inventory counts and damage as 0-d int64 arrays,
the compass angle a 0-d float64 array, the held item's name a ``str``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from craftlab.envs.minerl.specs import OBTAIN_REWARDS, spec
from craftlab.envs.voxel import blocks as B
from craftlab.envs.voxel.items import Inventory
from craftlab.envs.voxel.player import HALF_WIDTH, HEIGHT, Player, wrap_degrees
from craftlab.envs.voxel.world import World, WorldSpec

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.envs.voxel.game import Game


TASK_IDS: tuple[str, ...] = (
    "MineRLTreechop-v0",
    "MineRLNavigate-v0",
    "MineRLNavigateDense-v0",
    "MineRLNavigateExtreme-v0",
    "MineRLNavigateExtremeDense-v0",
    "MineRLObtainIronPickaxe-v0",
    "MineRLObtainIronPickaxeDense-v0",
    "MineRLObtainDiamond-v0",
    "MineRLObtainDiamondDense-v0",
)
"""the MineRL ids the voxel world mirrors"""


def _spawn_columns(world: World, margin: int) -> np.ndarray:
    """(x, z) of grass columns with two free blocks above, ``margin`` from the edge."""
    blocks, ground = world.blocks, world.ground
    sx, sy, sz = blocks.shape
    xs, zs = np.meshgrid(np.arange(sx), np.arange(sz), indexing="ij")
    g = np.clip(ground, 0, sy - 3)
    ok = (blocks[xs, g, zs] == B.GRASS) & (blocks[xs, g + 1, zs] == B.AIR) & (blocks[xs, g + 2, zs] == B.AIR)
    ok &= (xs >= margin) & (xs < sx - margin) & (zs >= margin) & (zs < sz - margin)
    return np.argwhere(ok)


class Task:
    """A MineRL task in the voxel world (see module doc)."""

    base = ""
    world_spec = WorldSpec()
    daylight_cycle = False

    def __init__(self, minerl_id: str):
        self.minerl_id = minerl_id
        self.spec = spec(minerl_id)
        self.dense = "Dense" in minerl_id

    def start(self, world: World, rng: np.random.Generator) -> tuple[Player, Inventory]:
        """The player (on a random grass column, random yaw, level pitch) and its inventory."""
        cols = _spawn_columns(world, margin=4)
        if len(cols) == 0:
            cols = np.array([[world.blocks.shape[0] // 2, world.blocks.shape[2] // 2]])
        x, z = (int(v) for v in cols[rng.integers(len(cols))])
        y = world.top_solid(x, z) + 1
        player = Player((x + 0.5, float(y), z + 0.5), yaw=float(rng.uniform(-180.0, 180.0)), pitch=0.0)
        player.on_ground = True
        return player, self.start_inventory()

    def start_inventory(self) -> Inventory:
        return Inventory()

    def reset(self, game: "Game", rng: np.random.Generator) -> None:
        """Task state set up after the player is placed (Navigate's goal)."""

    def reward(self, game: "Game") -> float:
        raise NotImplementedError

    def done(self, game: "Game") -> bool:
        raise NotImplementedError

    def observation(self, game: "Game", pov: np.ndarray) -> OrderedDict:
        """MineRL's raw observation (see module doc), keys in the spec's order."""
        obs: OrderedDict[str, Any] = OrderedDict()
        inv = game.inventory
        for key, space in self.spec.observation_space.spaces.items():
            if key == "pov":
                obs[key] = pov
            elif key == "inventory":
                obs[key] = OrderedDict((k, np.array(inv[k], dtype=np.int64)) for k in space.spaces)
            elif key == "equipped_items":
                obs[key] = OrderedDict(
                    mainhand=OrderedDict(
                        damage=np.array(inv.damage, dtype=np.int64),
                        maxDamage=np.array(inv.max_damage, dtype=np.int64),
                        type=str(inv.mainhand),
                    )
                )
            elif key == "compass":
                obs[key] = OrderedDict(angle=np.array(self.compass_angle(game), dtype=np.float64))
        return obs

    def compass_angle(self, game: "Game") -> float:
        return 0.0

    def status(self, game: "Game") -> list[str]:
        """Task lines for the watching overlay."""
        return []


class Treechop(Task):
    base = "Treechop"
    world_spec = WorldSpec(size=64, height=32, surface=12, hills=3.0, tree_density=0.06)

    def start_inventory(self) -> Inventory:
        return Inventory({"iron_axe": 1}, mainhand="iron_axe")

    def reward(self, game: "Game") -> float:
        return float(game.inventory.gained["log"])

    def done(self, game: "Game") -> bool:
        return game.inventory["log"] >= 64


class Navigate(Task):
    base = "Navigate"
    world_spec = WorldSpec(
        size=160, height=40, surface=14, hills=4.0, hill_scale=40.0, tree_density=0.012, water_level=12
    )
    goal_distance = (64.0, 72.0)
    compass_noise = 8.0

    def __init__(self, minerl_id: str):
        super().__init__(minerl_id)
        if "Extreme" in minerl_id:
            self.world_spec = WorldSpec(
                size=160, height=64, surface=26, hills=13.0, hill_scale=48.0, tree_density=0.01, water_level=0
            )

    def start(self, world: World, rng: np.random.Generator) -> tuple[Player, Inventory]:
        sx, _, sz = world.blocks.shape
        centre = np.array([sx / 2.0, sz / 2.0])
        cols = _spawn_columns(world, margin=4)
        if len(cols) == 0:
            cols = np.array([[sx // 2, sz // 2]])
        # one of the 16 grass columns nearest the centre, so the goal fits 64-72 blocks away
        nearest = np.argsort(np.linalg.norm(cols + 0.5 - centre, axis=1), kind="stable")[:16]
        cols = cols[nearest]
        x, z = (int(v) for v in cols[rng.integers(len(cols))])
        y = world.top_solid(x, z) + 1
        player = Player((x + 0.5, float(y), z + 0.5), yaw=float(rng.uniform(-180.0, 180.0)), pitch=0.0)
        player.on_ground = True
        return player, Inventory({"compass": 1}, mainhand="none")

    def reset(self, game: "Game", rng: np.random.Generator) -> None:
        w = game.world
        sx, sy, sz = w.blocks.shape
        px, pz = game.player.pos[0], game.player.pos[2]
        for _ in range(100):
            bearing = rng.uniform(-math.pi, math.pi)
            dist = rng.uniform(*self.goal_distance)
            gx, gz = int(math.floor(px + math.sin(bearing) * dist)), int(math.floor(pz + math.cos(bearing) * dist))
            if 1 <= gx < sx - 1 and 1 <= gz < sz - 1:
                break
        gx, gz = int(np.clip(gx, 1, sx - 2)), int(np.clip(gz, 1, sz - 2))
        gy = min(int(w.ground[gx, gz]) + 1, sy - 3)
        for y in range(gy, min(gy + 3, sy)):
            game.set_block(gx, y, gz, B.AIR)
        game.set_block(gx, gy, gz, B.DIAMOND_BLOCK)
        self.goal = (gx, gy, gz)
        offset = rng.uniform(-1, 1, 2)
        offset *= rng.uniform(0, self.compass_noise) / max(float(np.linalg.norm(offset)), 1e-9)
        self.compass_target = np.array([gx + 0.5 + offset[0], gz + 0.5 + offset[1]])
        self.prev_distance = self.distance(game)
        self.reached = False

    def distance(self, game: "Game") -> float:
        """Horizontal distance from the player to the compass spot."""
        p = game.player.pos
        return float(math.hypot(self.compass_target[0] - p[0], self.compass_target[1] - p[2]))

    def compass_angle(self, game: "Game") -> float:
        """Where the compass spot is relative to the view, degrees; + to the right."""
        p = game.player.pos
        dx, dz = self.compass_target[0] - p[0], self.compass_target[1] - p[2]
        bearing = math.degrees(math.atan2(-dx, dz))  # the yaw that faces it
        return wrap_degrees(bearing - game.player.yaw)

    def touching_goal(self, game: "Game") -> bool:
        """MineRL's AgentQuitFromTouchingBlockType: the body box, grown by 0.05, meets the goal block."""
        gx, gy, gz = self.goal
        p = game.player.pos
        grow = 0.05
        return (
            p[0] - HALF_WIDTH - grow < gx + 1
            and p[0] + HALF_WIDTH + grow > gx
            and p[1] - grow < gy + 1
            and p[1] + HEIGHT + grow > gy
            and p[2] - HALF_WIDTH - grow < gz + 1
            and p[2] + HALF_WIDTH + grow > gz
        )

    def reward(self, game: "Game") -> float:
        reward = 0.0
        if self.dense:
            d = self.distance(game)
            reward += self.prev_distance - d
            self.prev_distance = d
        if not self.reached and self.touching_goal(game):
            self.reached = True
            reward += 100.0
        return reward

    def done(self, game: "Game") -> bool:
        return self.reached

    def status(self, game: "Game") -> list[str]:
        return [f"goal {self.distance(game):.0f} blocks, compass {self.compass_angle(game):+.0f} deg"]


class Obtain(Task):
    world_spec = WorldSpec(size=64, height=64, surface=40, hills=4.0, tree_density=0.04, water_level=37)
    daylight_cycle = True

    def __init__(self, minerl_id: str):
        super().__init__(minerl_id)
        self.target = "diamond" if "Diamond" in minerl_id else "iron_pickaxe"
        self.base = "ObtainDiamond" if self.target == "diamond" else "ObtainIronPickaxe"
        self.schedule = dict(OBTAIN_REWARDS)
        if self.target != "diamond":
            self.schedule.pop("diamond")
        self.obtained: set[str] = set()

    def reset(self, game: "Game", rng: np.random.Generator) -> None:
        self.obtained = set()

    def reward(self, game: "Game") -> float:
        reward = 0.0
        for item, n in game.inventory.gained.items():
            value = self.schedule.get(item)
            if value is None or n <= 0:
                continue
            if self.dense:
                reward += value * n
            elif item not in self.obtained:
                reward += value
            self.obtained.add(item)
        return reward

    def done(self, game: "Game") -> bool:
        return game.inventory[self.target] >= 1


def make_task(minerl_id: str) -> Task:
    """The task object of a MineRL id (see :data:`TASK_IDS`)."""
    if minerl_id not in TASK_IDS:
        raise KeyError(f"the voxel world has no task {minerl_id!r}; it mirrors {list(TASK_IDS)}")
    name = minerl_id.split("-")[0].removeprefix("MineRL")
    if name.startswith("Treechop"):
        return Treechop(minerl_id)
    if name.startswith("Navigate"):
        return Navigate(minerl_id)
    return Obtain(minerl_id)
