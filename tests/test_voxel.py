"""The voxel world (envs/voxel/): MineRL's spaces, determinism, physics and block/item rules."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from craftlab.envs.minerl.adapter import make_minerl
from craftlab.envs.minerl.spaces import NamedDiscrete
from craftlab.envs.minerl.specs import spec
from craftlab.envs.voxel import blocks as B
from craftlab.envs.voxel.env import VoxelMineRLEnv, make_voxel
from craftlab.envs.voxel.game import Game
from craftlab.envs.voxel.ids import VOXEL_IDS
from craftlab.envs.voxel.items import Inventory, break_ticks
from craftlab.envs.voxel.player import EYE_HEIGHT, Player
from craftlab.envs.voxel.tasks import TASK_IDS
from craftlab.envs.voxel.world import World, WorldSpec, generate

GROUND = 4


def flat_game(
    size: int = 16,
    height: int = 16,
    hand: str = "air",
    items: dict | None = None,
    pos: tuple[float, float, float] | None = None,
    yaw: float = 0.0,
) -> Game:
    """A flat grass world, the player standing at its centre looking south (+z)."""
    blocks = np.zeros((size, height, size), np.uint8)
    blocks[:, :GROUND, :] = B.STONE
    blocks[:, GROUND, :] = B.GRASS
    world = World(WorldSpec(size=size, height=height, surface=GROUND), blocks, np.full((size, size), GROUND), [])
    player = Player(pos or (size / 2 + 0.5, GROUND + 1.0, size / 2 + 0.5), yaw=yaw)
    player.on_ground = True
    return Game(world, player, Inventory(items or {}, mainhand=hand))


def act(**keys) -> dict:
    out = {k: 0 for k in ("attack", "back", "forward", "jump", "left", "right", "sneak", "sprint")}
    out["camera"] = np.zeros(2)
    out.update(keys)
    return out


# ---------------------------------------------------------------- interface


def _assert_same_space(a: gym.Space, b: gym.Space, path: str = "") -> None:
    assert type(a) is type(b), path
    if isinstance(a, gym.spaces.Dict):
        assert list(a.spaces) == list(b.spaces), path
        for k in a.spaces:
            _assert_same_space(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, NamedDiscrete):
        assert a.values == b.values and a.default == b.default, path
    elif isinstance(a, gym.spaces.Box):
        assert a.shape == b.shape and a.dtype == b.dtype, path
        assert np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high), path
    else:
        assert a == b, path


@pytest.mark.parametrize("minerl_id", TASK_IDS)
def test_spaces_are_minerls_key_by_key(minerl_id):
    """Old-gym spaces are the spec tables' objects; after the adapter they equal the
    MineRL stand-in's (checked against MineRL 0.4.4) key by key: dtypes, bounds, Enum values."""
    voxel = make_voxel(minerl_id)
    standin = make_minerl(minerl_id, standin=True)
    _assert_same_space(voxel.observation_space, standin.observation_space)
    _assert_same_space(voxel.action_space, standin.action_space)
    inner = voxel.voxel
    table = spec(minerl_id)
    assert list(inner.observation_space.spaces) == list(table.observation_space.spaces)
    assert list(inner.action_space.spaces) == list(table.action_space.spaces)
    assert voxel.observation_space["pov"].shape == (64, 64, 3) and voxel.observation_space["pov"].dtype == np.uint8
    assert voxel.time_limit == table.max_episode_steps
    obs, _ = voxel.reset(seed=0)
    assert voxel.observation_space.contains(obs)
    assert "voxel/" + minerl_id in VOXEL_IDS


def test_raw_observations_have_minerls_uncast_types():
    env = VoxelMineRLEnv("MineRLObtainDiamondDense-v0")
    env.seed(3)
    obs = env.reset()
    assert obs["pov"].dtype == np.uint8 and obs["pov"].shape == (64, 64, 3)
    assert obs["inventory"]["log"].dtype == np.int64 and obs["inventory"]["log"].shape == ()
    assert type(obs["equipped_items"]["mainhand"]["type"]) is str and obs["equipped_items"]["mainhand"]["type"] == "air"
    nav = VoxelMineRLEnv("MineRLNavigate-v0")
    nav.seed(0)
    assert nav.reset()["compass"]["angle"].dtype == np.float64
    _, reward, done, info = env.step({"forward": 1})  # a partial dict is fine
    assert type(reward) is float and info == {} and done is False
    with pytest.raises(ValueError, match="must be one of"):
        env.step({"craft": 2})  # Enum actions are strings, as MineRL sends them
    with pytest.raises(KeyError):
        env.step({"fly": 1})


@pytest.mark.parametrize(
    "env_id", ["voxel/MineRLTreechop-v0", "voxel/MineRLNavigateDense-v0", "voxel/MineRLObtainIronPickaxe-v0"]
)
def test_gymnasium_check_env_passes(env_id):
    env = make_voxel(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the camera Box is [-180, 180] in MineRL itself
        check_env(env, skip_render_check=True)


def test_mineRL_only_kwargs_are_accepted_or_refused_clearly():
    from craftlab.core.config import ConfigError

    make_voxel("voxel/MineRLTreechop-v0", standin=False, crash_recovery={"step_timeout": 120}, server_start_timeout=600)
    for kwargs in ({"standin": True}, {"python": "python3"}, {"minerl_version": "1.0"}):
        with pytest.raises(ConfigError):
            make_voxel("MineRLTreechop-v0", **kwargs)
    with pytest.raises(ConfigError, match="mirrors"):
        make_voxel("MineRLBasaltFindCave-v0")


# ---------------------------------------------------------------- determinism


def _play(env: gym.Env, seed: int, steps: int) -> tuple[list[np.ndarray], list[float]]:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    frames, rewards = [obs["pov"]], []
    for _ in range(steps):
        a = env.action_space.sample()
        a["camera"] = (a["camera"] / 18.0).astype(np.float32)  # look around, not spin
        a["attack"] = 1
        obs, r, term, trunc, _ = env.step(a)
        frames.append(obs["pov"])
        rewards.append(r)
        if term or trunc:
            obs, _ = env.reset()
    return frames, rewards


def test_same_seed_same_frames_and_rewards_other_seed_other_world():
    a = _play(make_voxel("voxel/MineRLTreechop-v0", max_episode_steps=150), seed=7, steps=300)
    b = _play(make_voxel("voxel/MineRLTreechop-v0", max_episode_steps=150), seed=7, steps=300)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0])) and a[1] == b[1]
    assert len({f.tobytes() for f in a[0]}) > 100  # the view changes
    c = _play(make_voxel("voxel/MineRLTreechop-v0", max_episode_steps=150), seed=8, steps=1)
    assert not np.array_equal(a[0][0], c[0][0])
    w1, w2 = generate(WorldSpec(), np.random.default_rng(1)), generate(WorldSpec(), np.random.default_rng(1))
    assert np.array_equal(w1.blocks, w2.blocks) and w1.count(B.LOG) > 50 and w1.count(B.IRON_ORE) > 0


# ---------------------------------------------------------------- physics


def test_cannot_walk_through_blocks():
    g = flat_game()
    g.world.blocks[:, GROUND + 1 : GROUND + 3, 12] = B.STONE  # a two-high wall across the path
    g = Game(g.world, g.player, g.inventory)
    for _ in range(60):
        g.tick(act(forward=1))
    z = g.player.pos[2]
    assert 11.69 < z <= 12 - 0.3 + 1e-9  # walked up to the wall and stopped at its face
    for _ in range(40):
        g.tick(act(forward=1, jump=1))  # a two-block wall cannot be jumped
    assert g.player.pos[2] <= 12 - 0.3 + 1e-9


def test_one_block_step_is_climbed_by_jumping_only():
    g = flat_game()
    g.world.blocks[:, GROUND + 1, 12:] = B.STONE  # a one-high step
    g = Game(g.world, g.player, g.inventory)
    for _ in range(40):
        g.tick(act(forward=1))
    assert g.player.pos[1] == GROUND + 1 and g.player.pos[2] < 12
    for _ in range(40):
        g.tick(act(forward=1, jump=1))
    for _ in range(20):
        g.tick(act(forward=1))
    assert g.player.pos[1] == GROUND + 2 and g.player.pos[2] > 12.3


def test_sneaking_does_not_walk_off_an_edge_walking_does():
    for sneak in (1, 0):
        g = flat_game()
        g.world.blocks[:, 1 : GROUND + 1, 11:] = B.AIR  # a cliff from z = 11
        g = Game(g.world, g.player, g.inventory)
        for _ in range(60):
            g.tick(act(forward=1, sneak=sneak))
        if sneak:
            assert g.player.pos[1] == GROUND + 1 and 11.0 < g.player.pos[2] <= 11.3 + 1e-9  # hangs over by < 0.3
        else:
            assert g.player.pos[1] == 1.0 and g.player.pos[2] > 12  # fell to the floor


def test_gravity_and_jump_height_are_minecrafts():
    g = flat_game()
    start = g.player.pos[1]
    heights = []
    g.tick(act(jump=1))
    heights.append(g.player.pos[1] - start)
    for _ in range(20):
        g.tick(act())
        heights.append(g.player.pos[1] - start)
    assert max(heights) == pytest.approx(1.2522, abs=1e-3)  # vy 0.42, -0.08 then *0.98 each tick
    assert heights[-1] == 0.0 and g.player.on_ground
    # a fall of 10 blocks follows v <- (v - 0.08) * 0.98 tick by tick
    g = flat_game(pos=(8.5, GROUND + 11.0, 8.5))
    g.player.on_ground = False
    y, v, ticks = GROUND + 11.0, 0.0, 0
    while y > GROUND + 1:
        y, v, ticks = max(y + v, GROUND + 1.0), (v - 0.08) * 0.98, ticks + 1
    for _ in range(ticks - 1):
        g.tick(act())
    assert g.player.pos[1] > GROUND + 1
    g.tick(act())
    assert g.player.pos[1] == GROUND + 1


def test_camera_pitch_clamps_and_yaw_wraps():
    g = flat_game()
    g.tick(act(camera=np.array([100.0, 0.0])))
    assert g.player.pitch == 90.0
    g.tick(act(camera=np.array([-400.0, 0.0])))
    assert g.player.pitch == -90.0
    g.player.yaw = 170.0
    g.tick(act(camera=np.array([0.0, 20.0])))
    assert g.player.yaw == pytest.approx(-170.0)
    env = make_voxel("voxel/MineRLTreechop-v0")
    env.reset(seed=0)
    env.step({"camera": np.array([135.0, 0.0], np.float32)})
    assert env.voxel.game.player.pitch == 90.0


# ---------------------------------------------------------------- blocks and items


def _log_in_front(g: Game) -> tuple[int, int, int]:
    """A log at eye level one block in front (south) of the player."""
    x, z = int(g.player.pos[0]), int(g.player.pos[2]) + 1
    y = int(math.floor(g.player.pos[1] + EYE_HEIGHT))
    g.set_block(x, y, z, B.LOG)
    return x, y, z


@pytest.mark.parametrize("hand,ticks", [("iron_axe", 10), ("air", 60), ("wooden_axe", 30)])
def test_breaking_a_log_takes_minecrafts_ticks_and_gives_one_log(hand, ticks):
    g = flat_game(hand=hand, items={hand: 1} if hand != "air" else {})
    x, y, z = _log_in_front(g)
    assert break_ticks(B.LOG, hand) == ticks
    for _ in range(ticks - 1):
        g.tick(act(attack=1))
    assert g.world.blocks[x, y, z] == B.LOG and g.inventory["log"] == 0
    g.tick(act(attack=1))
    assert g.world.blocks[x, y, z] == B.AIR and g.inventory["log"] == 1 and g.inventory.gained["log"] == 1


def test_releasing_attack_resets_progress():
    g = flat_game(hand="iron_axe", items={"iron_axe": 1})
    x, y, z = _log_in_front(g)
    for _ in range(9):
        g.tick(act(attack=1))
    g.tick(act())
    for _ in range(9):
        g.tick(act(attack=1))
    assert g.world.blocks[x, y, z] == B.LOG


def test_treechop_pays_one_per_log():
    env = make_voxel("voxel/MineRLTreechop-v0")
    env.reset(seed=1)
    g = env.voxel.game
    g.player.pitch, g.player.yaw = 0.0, 0.0  # look south, where the log goes
    _log_in_front(g)
    rewards = [env.step({"attack": 1})[1] for _ in range(12)]
    assert rewards[9] == 1.0 and sum(rewards) == 1.0  # 10 ticks with the iron axe


def test_stone_needs_a_pickaxe_and_tools_wear():
    g = flat_game()
    g.player.pitch = 90.0  # look at the grass block under the feet
    for _ in range(break_ticks(B.GRASS, "air")):
        g.tick(act(attack=1))
    assert g.inventory["dirt"] == 1
    for _ in range(5 + 150):  # the hit delay, then stone by hand: 1.5 * 100 ticks, no drop
        g.tick(act(attack=1))
    assert g.inventory["cobblestone"] == 0 and g.world.blocks[8, GROUND - 1, 8] == B.AIR
    g = flat_game(hand="wooden_pickaxe", items={"wooden_pickaxe": 1})
    g.player.pitch = 90.0
    g.world.blocks[8, GROUND, 8] = B.STONE
    g = Game(g.world, g.player, g.inventory)
    assert break_ticks(B.STONE, "wooden_pickaxe") == 23
    for _ in range(23):
        g.tick(act(attack=1))
    assert g.inventory["cobblestone"] == 1 and g.inventory.damage == 1
    assert break_ticks(B.IRON_ORE, "wooden_pickaxe") == 150 and break_ticks(B.IRON_ORE, "stone_pickaxe") == 23


def test_crafting_needs_its_ingredients_and_a_table_nearby():
    g = flat_game()
    g.tick(act(craft="planks"))
    assert g.inventory["planks"] == 0
    g.inventory.add("log", 2)
    g.tick(act(craft="planks"))
    assert g.inventory["planks"] == 4 and g.inventory["log"] == 1
    g.tick(act(craft="stick"))
    assert g.inventory["stick"] == 4 and g.inventory["planks"] == 2
    g.tick(act(nearbyCraft="wooden_pickaxe"))  # 3 planks needed, and a table
    assert g.inventory["wooden_pickaxe"] == 0
    g.inventory.add("planks", 5)
    g.tick(act(nearbyCraft="wooden_pickaxe"))
    assert g.inventory["wooden_pickaxe"] == 0  # no crafting table nearby
    g.tick(act(craft="crafting_table"))
    assert g.inventory["crafting_table"] == 1 and g.inventory["planks"] == 3
    g.player.pitch = 60.0  # look at the ground in front and place the table there
    g.tick(act(place="crafting_table"))
    assert g.inventory["crafting_table"] == 0 and g.world.count(B.CRAFTING_TABLE) == 1
    g.tick(act(nearbyCraft="wooden_pickaxe"))
    assert g.inventory["wooden_pickaxe"] == 1 and g.inventory["planks"] == 0 and g.inventory["stick"] == 2
    g.tick(act(equip="wooden_pickaxe"))
    assert g.inventory.mainhand == "wooden_pickaxe" and g.inventory.max_damage == 59
    g.tick(act(equip="stone_pickaxe"))  # not held: nothing happens
    assert g.inventory.mainhand == "wooden_pickaxe"


def test_smelting_needs_a_furnace_and_fuel():
    g = flat_game(items={"iron_ore": 2, "furnace": 1})
    g.tick(act(nearbySmelt="iron_ingot"))
    assert g.inventory["iron_ingot"] == 0
    g.player.pitch = 60.0
    g.tick(act(place="furnace"))
    g.tick(act(nearbySmelt="iron_ingot"))
    assert g.inventory["iron_ingot"] == 0  # no fuel
    g.inventory.add("planks", 1)
    g.tick(act(nearbySmelt="iron_ingot"))
    assert g.inventory["iron_ingot"] == 1 and g.inventory["planks"] == 0 and g.inventory["iron_ore"] == 1


def test_render_size_frame_for_people_and_64px_pov():
    env = make_voxel("voxel/MineRLTreechop-v0", render_mode="rgb_array", render_size=128)
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8 and obs["pov"].shape == (64, 64, 3)
    # the pov shows the world: a forest has sky, leaves/grass green and bark
    assert obs["pov"].std() > 10
