"""MineRL adapter, spaces and stand-in: interface facts and reward rules."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from craftlab.envs.minerl.adapter import MineRLNotInstalledError, make_minerl
from craftlab.envs.minerl.ids import ALL_IDS, MINERL_044_IDS, max_episode_steps
from craftlab.envs.minerl.spaces import NamedDiscrete
from craftlab.envs.minerl.specs import spec
from craftlab.envs.minerl.standin import make_standin


def _world(env):
    return env.unwrapped.inner.unwrapped._world


def test_registry_has_every_id_without_importing_minerl():
    import craftlab.envs.registry as registry

    assert len(MINERL_044_IDS) == 33
    for env_id in ALL_IDS:
        assert env_id in registry.ENVS and "minerl-standin/" + env_id in registry.ENVS
    assert "MineRLNavigateExtremeDense-v0" in registry.ENVS and "MineRLNavigateDenseExtreme-v0" not in registry.ENVS
    for name in (
        "minerl_discrete",
        "minerl_multidiscrete",
        "minerl_kmeans",
        "minerl_pov",
        "minerl_pov_vector",
        "minerl_pov_transform",
        "minerl_frame_skip",
        "minerl_frame_stack",
        "minerl_crash_recovery",
    ):
        assert name in registry.WRAPPERS
    assert "minerl" not in sys.modules and "gym" not in sys.modules


@pytest.mark.skipif(importlib.util.find_spec("minerl") is not None, reason="minerl is installed")
def test_missing_minerl_says_how_to_install():
    from craftlab.core.config import ConfigError

    with pytest.raises(MineRLNotInstalledError) as err:
        make_minerl("MineRLTreechop-v0")
    text = str(err.value)
    assert "pip install minerl==0.4.4" in text and "JDK 8" in text and "standin: true" in text
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ImportError)


def test_spec_tables_match_the_minerl_facts():
    assert [
        max_episode_steps(i)
        for i in (
            "MineRLTreechop-v0",
            "MineRLNavigateDense-v0",
            "MineRLObtainDiamond-v0",
            "MineRLObtainIronPickaxe-v0",
            "MineRLBasaltFindCave-v0",
        )
    ] == [8000, 6000, 18000, 6000, 3600]
    treechop = spec("MineRLTreechop-v0")
    assert list(treechop.action_space.spaces) == [
        "attack",
        "back",
        "camera",
        "forward",
        "jump",
        "left",
        "right",
        "sneak",
        "sprint",
    ]
    assert list(treechop.observation_space.spaces) == ["pov"] and treechop.reward_threshold == 64.0
    obtain = spec("MineRLObtainDiamond-v0").action_space
    assert obtain["place"].values.tolist() == [
        "cobblestone",
        "crafting_table",
        "dirt",
        "furnace",
        "none",
        "stone",
        "torch",
    ]
    assert obtain["nearbySmelt"].values.tolist() == ["coal", "iron_ingot", "none"] and obtain["craft"].default == "none"
    assert (
        "other" not in obtain["equip"].values
        and "other" in spec("MineRLObtainDiamond-v0").observation_space["equipped_items"]["mainhand"]["type"].values
    )
    vec = spec("MineRLTreechopVectorObf-v0")
    assert vec.action_space["vector"].shape == (64,) and vec.observation_space["vector"].shape == (64,)
    assert spec("MineRLBasaltFindCaveHighRes-v0").observation_space["pov"].shape == (1024, 1024, 3)
    basalt10 = spec("MineRLBasaltFindCave-v0", "1.0")
    assert basalt10.observation_space["pov"].shape == (360, 640, 3)
    assert len(basalt10.action_space.spaces) == 24 and "hotbar.9" in basalt10.action_space.spaces  # 23 buttons + camera


@pytest.mark.parametrize(
    "env_id,version",
    [
        ("MineRLTreechop-v0", "0.4.4"),
        ("MineRLNavigateDense-v0", "0.4.4"),
        ("MineRLObtainDiamondDense-v0", "0.4.4"),
        ("MineRLObtainIronPickaxe-v0", "0.4.4"),
        ("MineRLTreechopVectorObf-v0", "0.4.4"),
        ("MineRLBasaltBuildVillageHouse-v0", "0.4.4"),
        ("MineRLObtainTestVector-v0", "0.4.4"),
        ("MineRLBasaltFindCave-v0", "1.0"),
    ],
)
def test_gymnasium_check_env_passes(env_id, version):
    env = make_minerl(env_id, standin=True, minerl_version=version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the camera Box is [-180, 180] in MineRL itself
        check_env(env, skip_render_check=True)


def test_standin_emits_the_real_uncast_types_and_old_api():
    env = make_standin("MineRLObtainDiamond-v0")
    env.seed(1)
    obs = env.reset()
    assert isinstance(obs, dict) and list(obs) == ["equipped_items", "inventory", "pov"]
    assert obs["inventory"]["log"].dtype == np.int64 and obs["inventory"]["log"].shape == ()
    assert type(obs["equipped_items"]["mainhand"]["type"]) is str
    assert obs["equipped_items"]["mainhand"]["damage"].dtype == np.int64
    assert obs["pov"].dtype == np.uint8 and obs["pov"].shape == (64, 64, 3)
    obs, reward, done, info = env.step({"attack": 1})  # partial dict
    assert type(reward) is float and info == {} and done is False
    with pytest.raises(ValueError, match="place 2"):
        env.step({"place": 2})  # MineRL would send "place 2"
    env.step({"place": "dirt", "craft": np.str_("planks")})
    space = env.action_space["place"]
    assert space.contains("dirt") and not space.contains(2)
    assert type(space.no_op()) is str and space.no_op() == "none"
    assert isinstance(space.sample(), np.str_)
    with pytest.warns(DeprecationWarning):
        env.action_space.noop()
    nav = make_standin("MineRLNavigateDense-v0")
    nav.seed(0)
    assert nav.reset()["compass"]["angle"].dtype == np.float64


def test_step_after_done_raises_runtime_error():
    env = make_standin("MineRLTreechop-v0", max_episode_steps=3)
    env.seed(0)
    env.reset()
    for _ in range(3):
        _, _, done, _ = env.step(env.noop_action())
    assert done
    with pytest.raises(RuntimeError, match="done=True"):
        env.step(env.noop_action())


def test_adapter_casts_to_declared_dtypes_and_names_enums():
    env = make_minerl("MineRLObtainDiamond-v0", standin=True)
    obs, info = env.reset(seed=0)
    assert info == {}
    assert obs["inventory"]["log"].dtype == np.int32
    hand = env.observation_space["equipped_items"]["mainhand"]["type"]
    assert isinstance(hand, NamedDiscrete) and hand.values[int(obs["equipped_items"]["mainhand"]["type"])] == "air"
    place = env.action_space["place"]
    assert isinstance(place, NamedDiscrete) and place.values[place.default_index] == "none"
    action = {k: v for k, v in env.action_space.sample().items()}
    obs, reward, terminated, truncated, info = env.step(action)  # indices become strings for the strict stand-in
    assert env.observation_space.contains(obs) and type(reward) is float
    nav = make_minerl("MineRLNavigateDense-v0", standin=True)
    obs, _ = nav.reset(seed=0)
    assert obs["compass"]["angle"].dtype == np.float32 and nav.observation_space.contains(obs)


def test_reset_seed_goes_through_env_seed_before_reset():
    env = make_minerl("MineRLNavigateDense-v0", standin=True)
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=7)
    c, _ = env.reset(seed=8)
    assert np.array_equal(a["pov"], b["pov"]) and a["compass"]["angle"] == b["compass"]["angle"]
    assert a["compass"]["angle"] != c["compass"]["angle"]
    calls = []
    inner = env.unwrapped.inner
    orig_seed, orig_reset = inner.seed, inner.reset
    inner.seed = lambda s=None: (calls.append(("seed", s)), orig_seed(s))[1]
    inner.reset = lambda: (calls.append(("reset",)), orig_reset())[1]
    env.reset(seed=5)
    env.reset()
    assert calls == [("seed", 5), ("reset",), ("reset",)]


def test_terminated_truncated_split():
    # gym's TimeLimit first (flag set)
    env = make_minerl(
        "MineRLTreechop-v0", standin=True, standin_kwargs={"max_episode_steps": 5, "server_max_steps": 100}
    )
    env.reset(seed=0)
    outs = [env.step({"camera": np.zeros(2, np.float32)}) for _ in range(5)]
    assert [o[3] for o in outs] == [False] * 4 + [True] and not any(o[2] for o in outs)
    # Malmo's time-up on the same step: gym's flag is False, the adapter still calls it truncation
    env = make_minerl("MineRLTreechop-v0", standin=True, standin_kwargs={"max_episode_steps": 5})
    env.reset(seed=0)
    outs = [env.step({}) for _ in range(5)]
    assert outs[-1][3] and not outs[-1][2]
    env = make_minerl(
        "MineRLTreechop-v0", standin=True, standin_kwargs={"max_episode_steps": 5}, time_up_is_truncation=False
    )
    env.reset(seed=0)
    outs = [env.step({}) for _ in range(5)]
    assert outs[-1][2] and not outs[-1][3]


def _face(env, angle: float) -> None:
    w = _world(env)
    delta = (angle - w.yaw + 180) % 360 - 180
    env.step({"camera": np.array([0.0, delta], np.float32)})


def test_treechop_pays_one_per_log_and_ends_at_64():
    env = make_minerl("MineRLTreechop-v0", standin=True)
    env.reset(seed=3)
    total, steps, terminated = 0.0, 0, False
    while not terminated and steps < 3000:
        w = _world(env)
        alive = [i for i in range(len(w.tree_logs)) if w.tree_logs[i] > 0]
        tree = alive[0]
        _face(env, w.tree_angle[tree])
        while w.tree_dist[tree] > 1.0:
            env.step({"forward": 1})
        while w.tree_logs[tree] > 0 and not terminated:
            _, r, terminated, truncated, _ = env.step({"attack": 1})
            total += r
            steps += 1
            assert r in (0.0, 1.0)
    assert terminated and total == 64.0


def test_navigate_dense_pays_distance_and_100_at_the_target():
    env = make_minerl("MineRLNavigateDense-v0", standin=True)
    obs, _ = env.reset(seed=1)
    w = _world(env)
    d0 = w.target_distance()
    env.step({"camera": np.array([0.0, obs["compass"]["angle"]], np.float32)})
    total, terminated = 0.0, False
    for _ in range(200):
        obs, r, terminated, truncated, _ = env.step(
            {"forward": 1, "camera": np.array([0.0, obs["compass"]["angle"]], np.float32)}
        )
        total += r
        if terminated:
            break
    assert terminated and r >= 100.0
    assert total == pytest.approx(100.0 + d0 - w.target_distance(), abs=1e-6)
    sparse = make_minerl("MineRLNavigate-v0", standin=True)
    sparse.reset(seed=1)
    assert sparse.step({"forward": 1})[1] == 0.0


def _chop_logs(env, n: int) -> float:
    total = 0.0
    w = _world(env)
    _face(env, w.tree_angle[0])
    while w.tree_dist[0] > 1.0:
        total += env.step({"forward": 1})[1]
    while env.unwrapped.inner.unwrapped._inv["log"] < n:
        total += env.step({"attack": 1})[1]
    return total


def test_obtain_sparse_pays_each_item_once_dense_per_unit():
    idx = lambda env, key, value: env.action_space[key].index[value]  # noqa: E731
    sparse = make_minerl("MineRLObtainDiamond-v0", standin=True)
    sparse.reset(seed=0)
    assert _chop_logs(sparse, 3) == 1.0
    r1 = sparse.step({"craft": idx(sparse, "craft", "planks")})[1]
    r2 = sparse.step({"craft": idx(sparse, "craft", "planks")})[1]
    assert (r1, r2) == (2.0, 0.0)
    dense = make_minerl("MineRLObtainDiamondDense-v0", standin=True)
    dense.reset(seed=0)
    assert _chop_logs(dense, 3) == 3.0
    assert dense.step({"craft": idx(dense, "craft", "planks")})[1] == 8.0  # 4 planks x 2
    assert dense.step({})[1] == 0.0
    assert dense.step({"craft": idx(dense, "craft", "crafting_table")})[1] == 4.0
    # running maximum: planks went 4 -> 0; getting 4 back pays nothing
    r = dense.step({"craft": idx(dense, "craft", "planks")})[1]
    assert r == 0.0


def test_minerl_10_basalt_ends_on_esc():
    env = make_minerl("MineRLBasaltFindCave-v0", standin=True, minerl_version="1.0")
    obs, _ = env.reset(seed=0)
    assert obs["pov"].shape == (360, 640, 3)
    assert env.step({"forward": 1})[2] is False
    _, r, terminated, truncated, _ = env.step({"ESC": 1})
    assert terminated and not truncated and r == 0.0
