"""The voxel world's Navigate and Obtain tasks: MineRL's rewards, ends and observations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from craftlab.core.config import EnvConfig, WrapperConfig
from craftlab.envs.factory import make_env
from craftlab.envs.voxel import blocks as B
from craftlab.envs.voxel.env import VoxelMineRLEnv, make_voxel
from craftlab.envs.voxel.tasks import OBTAIN_REWARDS

NOOP: dict = {}


def _env(minerl_id: str, seed: int = 0) -> VoxelMineRLEnv:
    env = VoxelMineRLEnv(minerl_id)
    env.seed(seed)
    env.reset()
    return env


# ---------------------------------------------------------------- Navigate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_navigate_goal_is_a_diamond_block_64_to_72_blocks_away(seed):
    env = _env("MineRLNavigate-v0", seed)
    task, game = env.task, env.game
    gx, gy, gz = task.goal
    assert game.world.blocks[gx, gy, gz] == B.DIAMOND_BLOCK and B.SOLID[game.world.blocks[gx, gy - 1, gz]]
    p = game.player.pos
    assert 63.0 <= math.hypot(gx + 0.5 - p[0], gz + 0.5 - p[2]) <= 73.5
    assert math.hypot(task.compass_target[0] - gx - 0.5, task.compass_target[1] - gz - 0.5) <= 8.0 + 1e-9
    assert game.inventory["dirt"] == 0


def test_compass_points_at_the_target_and_turns_with_the_view():
    env = _env("MineRLNavigateDense-v0", 3)
    angle = float(env._observation()["compass"]["angle"])
    obs, _, _, _ = env.step({"camera": np.array([0.0, angle], np.float32)})  # face it
    assert abs(float(obs["compass"]["angle"])) < 1e-6
    obs, _, _, _ = env.step({"camera": np.array([0.0, 30.0], np.float32)})  # turn right: it is now left
    assert float(obs["compass"]["angle"]) == pytest.approx(-30.0)
    # the yaw that the compass says faces the target looks at it: walking there closes the distance
    env.step({"camera": np.array([0.0, -30.0], np.float32)})
    d0 = env.task.distance(env.game)
    rewards = [env.step({"forward": 1, "jump": 1})[1] for _ in range(40)]
    assert env.task.distance(env.game) < d0 - 2.0
    assert sum(rewards) == pytest.approx(d0 - env.task.distance(env.game), abs=1e-6)  # dense: per block closer


def test_dense_reward_is_the_distance_gained_sparse_has_none():
    for minerl_id, dense in (("MineRLNavigateDense-v0", True), ("MineRLNavigate-v0", False)):
        env = _env(minerl_id, 4)
        game, task = env.game, env.task
        target = task.compass_target
        step = np.array([target[0] - game.player.pos[0], target[1] - game.player.pos[2]])
        step /= np.linalg.norm(step)
        game.player.pos[0] -= step[0]  # one block further away
        game.player.pos[2] -= step[1]
        game.player.pos[1] += 20  # in the air, nothing in the way
        _, reward, _, _ = env.step(NOOP)
        assert reward == pytest.approx(-1.0 if dense else 0.0, abs=1e-6)


@pytest.mark.parametrize("minerl_id", ["MineRLNavigate-v0", "MineRLNavigateExtremeDense-v0"])
def test_touching_the_goal_pays_100_once_and_ends(minerl_id):
    env = make_voxel(minerl_id)
    env.reset(seed=5)
    voxel = env.voxel
    gx, gy, gz = voxel.task.goal
    d0 = voxel.task.distance(voxel.game)
    voxel.game.player.pos[:] = (gx + 0.5, gy + 1.0, gz + 0.5)  # standing on it
    obs, reward, terminated, truncated, _ = env.step({})
    assert terminated and not truncated
    gained = d0 - voxel.task.distance(voxel.game) if "Dense" in minerl_id else 0.0
    assert reward == pytest.approx(100.0 + gained)
    with pytest.raises(RuntimeError):
        env.step({})


def test_extreme_hills_are_steeper_and_dirt_can_be_placed():
    plain = _env("MineRLNavigate-v0", 0).game.world.ground
    extreme = _env("MineRLNavigateExtreme-v0", 0).game.world.ground
    assert extreme.std() > 2 * plain.std()
    env = _env("MineRLNavigate-v0", 1)
    env.game.inventory.add("dirt", 2)
    env.game.player.pitch = 60.0
    before = env.game.world.count(B.DIRT)
    obs, _, _, _ = env.step({"place": "dirt"})
    assert int(obs["inventory"]["dirt"]) == 1 and env.game.world.count(B.DIRT) == before + 1


# ---------------------------------------------------------------- Obtain


def _gain(env: VoxelMineRLEnv, item: str, n: int = 1) -> float:
    """Reward of a step in which ``n`` of ``item`` entered the inventory."""
    env.game.inventory.start_step()
    env.game.inventory.add(item, n)
    return env.task.reward(env.game)


def test_obtain_milestones_once_each_sparse_every_item_dense():
    sparse, dense = _env("MineRLObtainIronPickaxe-v0"), _env("MineRLObtainIronPickaxeDense-v0")
    assert _gain(sparse, "log") == 1 and _gain(sparse, "log") == 0 and _gain(sparse, "planks", 4) == 2
    assert _gain(dense, "log") == 1 and _gain(dense, "log") == 1 and _gain(dense, "planks", 4) == 8
    assert _gain(sparse, "dirt") == 0 and _gain(sparse, "iron_ingot") == 128
    assert _gain(sparse, "diamond") == 0  # not in ObtainIronPickaxe's schedule
    diamond = _env("MineRLObtainDiamond-v0")
    assert _gain(diamond, "diamond") == OBTAIN_REWARDS["diamond"] == 1024 and diamond.task.done(diamond.game)
    assert sum(OBTAIN_REWARDS.values()) == 1571


def test_the_tech_tree_from_logs_to_an_iron_pickaxe_ends_obtain_iron_pickaxe():
    """Crafting, placing, smelting and equipping through the env's actions, MineRL's rewards on the way."""
    env = _env("MineRLObtainIronPickaxe-v0", 2)
    inv = env.game.inventory
    inv.add("log", 4)
    total = 0.0
    env.game.player.pitch = 50.0  # the ground in front is within reach for placing

    def step(**action) -> dict:
        nonlocal total
        obs, reward, done, _ = env.step(action)
        total += reward
        return {"obs": obs, "done": done, "reward": reward}

    for _ in range(3):
        step(craft="planks")
    step(craft="stick")
    step(craft="crafting_table")
    step(place="crafting_table")
    out = step(nearbyCraft="wooden_pickaxe")
    assert int(out["obs"]["inventory"]["wooden_pickaxe"]) == 1 and out["reward"] == 8
    step(equip="wooden_pickaxe")
    obs = step()["obs"]
    hand = obs["equipped_items"]["mainhand"]
    assert hand["type"] == "wooden_pickaxe" and int(hand["maxDamage"]) == 59 and int(hand["damage"]) == 0
    inv.add("cobblestone", 11)  # as if mined
    inv.add("iron_ore", 3)
    inv.add("planks", 3)
    env.game.player.yaw += 90.0
    out = step(nearbyCraft="furnace")
    assert out["reward"] == 32
    step(place="furnace")
    step(nearbyCraft="stone_pickaxe")
    step(craft="stick")
    for _ in range(3):
        out = step(nearbySmelt="iron_ingot")
    assert int(out["obs"]["inventory"]["iron_ingot"]) == 3
    out = step(nearbyCraft="iron_pickaxe")
    assert out["done"] and out["reward"] == 256
    # planks 2, stick 4, table 4, wooden pickaxe 8, furnace 32, stone pickaxe 32, iron ingot 128, iron pickaxe 256
    # (log, cobblestone and iron ore were added by hand, outside a step's gains)
    assert total == 2 + 4 + 4 + 8 + 32 + 32 + 128 + 256


def test_obtain_world_has_iron_and_diamonds_below_and_night_falls():
    env = _env("MineRLObtainDiamond-v0", 0)
    world = env.game.world
    ys_iron = np.argwhere(world.blocks == B.IRON_ORE)[:, 1]
    ys_diamond = np.argwhere(world.blocks == B.DIAMOND_ORE)[:, 1]
    assert len(ys_iron) > 10 and len(ys_diamond) > 0
    assert ys_diamond.max() <= 12 and ys_iron.max() < world.ground.min()
    day = env._observation()["pov"].astype(float).mean()
    env.game.time = 18000  # midnight
    night = env._observation()["pov"].astype(float).mean()
    assert night < 0.6 * day
    assert env.game.light == 0.0 and VoxelMineRLEnv("MineRLTreechop-v0").daylight_cycle is False


def test_minerl_wrappers_for_obtain_work_unchanged():
    """pov + vector observations and MultiDiscrete actions over Obtain's Enums, as for real MineRL."""
    env = make_env(
        EnvConfig(
            id="voxel/MineRLObtainDiamondDense-v0",
            wrappers=[WrapperConfig("minerl_multidiscrete", {"camera_bins": 5}), WrapperConfig("minerl_pov_vector")],
        )
    )
    obs, _ = env.reset(seed=0)
    assert obs["pov"].shape == (64, 64, 3)
    labels = env.get_wrapper_attr("labels")
    assert "inventory.log" in labels and "equipped_items.mainhand.type=air" in labels
    assert obs["vector"][labels.index("equipped_items.mainhand.type=air")] == 1.0
    env.action_space.seed(0)
    for _ in range(20):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and not terminated
