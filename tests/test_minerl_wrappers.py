"""MineRL action and observation wrappers on the stand-in."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from craftlab.envs.minerl.actions import KMeansActions, MultiDiscreteActions, SerialDiscreteActions, fit_kmeans
from craftlab.envs.minerl.adapter import make_minerl
from craftlab.envs.minerl.observations import FrameSkip, FrameStack, PovOnly, PovTransform, PovWithVector

TREECHOP_RECIPE = dict(
    always_keys=["attack"], reverse_keys=["forward"], exclude_keys=["back", "left", "right", "sneak", "sprint"]
)


def _check(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)


def test_pfrl_treechop_recipe_gives_discrete5_with_both_turns():
    env = SerialDiscreteActions(make_minerl("MineRLTreechop-v0", standin=True), **TREECHOP_RECIPE)
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.labels == ["noop(attack+forward)", "forward=0", "jump=1", "yaw-10", "yaw+10"]
    noop = env.action(0)
    assert noop["attack"] == 1 and noop["forward"] == 1 and noop["jump"] == 0
    assert np.allclose(env.action(4)["camera"], [0, 10]) and env.action(4)["attack"] == 1
    assert np.allclose(env.action(3)["camera"], [0, -10])
    _check(env)


def test_camera_steps_are_symmetric_and_pitch_optional():
    env = SerialDiscreteActions(
        make_minerl("MineRLTreechop-v0", standin=True),
        camera_angle=10,
        camera_steps=2,
        allow_pitch=True,
        exclude_keys=["back", "left", "right", "sneak", "sprint", "jump"],
    )
    turns = sorted(lab for lab in env.labels if lab.startswith(("yaw", "pitch")))
    assert turns == sorted(["yaw-5", "yaw+5", "yaw-10", "yaw+10", "pitch-5", "pitch+5", "pitch-10", "pitch+10"])


def test_enum_actions_are_sent_by_name():
    base = make_minerl("MineRLObtainDiamond-v0", standin=True)
    env = SerialDiscreteActions(
        base,
        always_keys=["attack"],
        exclude_keys=["equip", "nearbySmelt"],
        enum_values={"place": ["dirt", "crafting_table"], "craft": ["planks"]},
    )
    labels = env.labels
    assert "place=dirt" in labels and "place=crafting_table" in labels and "craft=planks" in labels
    assert not any(lab.startswith(("equip", "nearbySmelt", "place=none")) for lab in labels)
    nearby = [lab for lab in labels if lab.startswith("nearbyCraft=")]
    assert len(nearby) == 7 and "nearbyCraft=none" not in nearby
    env.reset(seed=0)
    for i in range(env.action_space.n):  # the strict stand-in rejects an int Enum action
        env.step(i)
    with pytest.raises(ValueError):
        SerialDiscreteActions(make_minerl("MineRLObtainDiamond-v0", standin=True), enum_values={"place": ["lava"]})


def test_serial_reverse_action_maps_demonstrations():
    env = SerialDiscreteActions(
        make_minerl("MineRLNavigateDense-v0", standin=True),
        always_keys=["forward", "sprint", "attack"],
        exclude_keys=["back", "left", "right", "sneak"],
    )
    from craftlab.envs.minerl.spaces import action_to_gymnasium

    space = env.dict_space
    rev = lambda a: env.labels[env.reverse_action(action_to_gymnasium(a, space))]  # noqa: E731
    assert rev({"camera": [0.0, 12.0], "jump": 1}) == "yaw+10"
    assert rev({"camera": [0.0, -3.0]}) == "noop(forward+sprint+attack)"
    assert rev({"camera": [0.0, -6.0]}) == "yaw-10"
    assert rev({"place": "dirt", "jump": 1}) == "place=dirt"
    assert rev({"jump": 1}) == "jump=1"
    for i in range(env.action_space.n):  # each table action maps back to itself
        assert env.reverse_action(env.action(i)) == i


def test_multidiscrete_has_zero_and_both_turns_and_round_trips():
    env = MultiDiscreteActions(make_minerl("MineRLObtainDiamond-v0", standin=True), camera_bins=5, camera_max=10)
    assert env.dims[:8] == ["attack", "back", "forward", "jump", "left", "right", "sneak", "sprint"]
    assert env.dims[-2:] == ["camera_pitch", "camera_yaw"]
    assert env.bins.tolist() == [-10, -5, 0, 5, 10]
    assert list(env.action_space.nvec) == [2] * 8 + [5, 8, 8, 3, 7] + [5, 5]
    for _ in range(20):
        a = env.action_space.sample()
        assert np.array_equal(env.reverse_action(env.action(a)), a)
    with pytest.raises(ValueError):
        MultiDiscreteActions(make_minerl("MineRLTreechop-v0", standin=True), camera_bins=4)
    _check(env)


def test_kmeans_actions_on_vectorobf():
    rng = np.random.default_rng(0)
    true = rng.uniform(-1, 1, (4, 64))
    data = np.concatenate([c + rng.normal(0, 0.01, (50, 64)) for c in true])
    centers = fit_kmeans(data, 4, seed=0)
    assert sorted(np.abs(centers[:, None] - true[None]).sum(-1).min(1).round(0)) == [0, 0, 0, 0]
    env = KMeansActions(make_minerl("MineRLTreechopVectorObf-v0", standin=True), centers=centers.tolist())
    assert env.action_space == gym.spaces.Discrete(4)
    for i in range(4):
        assert env.reverse_action(env.action(i)) == i
    _check(env)


def test_pov_only_and_pov_vector():
    env = PovOnly(make_minerl("MineRLTreechop-v0", standin=True))
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    _check(env)
    env = PovWithVector(make_minerl("MineRLObtainDiamond-v0", standin=True))
    n = 18 + 9 + 1  # inventory, held item one-hot, wear
    assert env.observation_space["vector"].shape == (n,)
    assert "inventory.log" in env.labels and "equipped_items.mainhand.type=air" in env.labels
    obs, _ = env.reset(seed=0)
    assert obs["vector"][env.labels.index("equipped_items.mainhand.type=air")] == 1.0
    _check(env)
    nav = PovWithVector(make_minerl("MineRLNavigateDense-v0", standin=True))
    obs, _ = nav.reset(seed=0)
    raw = nav.env.unwrapped.inner.unwrapped._world.compass_angle()
    assert obs["vector"][nav.labels.index("compass.angle")] == pytest.approx(raw / 180, abs=1e-5)
    vec = PovWithVector(make_minerl("MineRLTreechopVectorObf-v0", standin=True))
    assert vec.observation_space["vector"].shape == (64,)
    _check(vec)


def test_grayscale_resize_frame_skip_and_stack():
    env = PovTransform(PovOnly(make_minerl("MineRLTreechop-v0", standin=True)), grayscale=True, size=32)
    assert env.observation_space.shape == (32, 32, 1)
    _check(env)
    env = PovTransform(make_minerl("MineRLNavigateDense-v0", standin=True), size=[48, 40])
    assert env.observation_space["pov"].shape == (48, 40, 3)
    _check(env)
    stacked = FrameStack(PovOnly(make_minerl("MineRLTreechop-v0", standin=True)), k=3)
    obs, _ = stacked.reset(seed=0)
    assert obs.shape == (64, 64, 9) and np.array_equal(obs[..., :3], obs[..., 6:])
    obs2, *_ = stacked.step({"camera": np.array([0, 30], np.float32)})
    assert np.array_equal(obs2[..., :3], obs[..., 3:6]) and not np.array_equal(obs2[..., 6:], obs[..., 6:])
    _check(stacked)
    base = make_minerl("MineRLTreechop-v0", standin=True, standin_kwargs={"max_episode_steps": 10})
    skip = FrameSkip(base, skip=4)
    skip.reset(seed=0)
    ends = [skip.step({})[3] for _ in range(3)]
    assert ends == [False, False, True]  # 4 + 4 + 2 (stopped at the limit)


def test_yaml_pipeline_through_the_factory():
    from craftlab.core.config import EnvConfig, WrapperConfig
    from craftlab.envs.factory import EnvFactory
    from craftlab.envs.registry import check_env_config

    cfg = EnvConfig(
        id="MineRLTreechop-v0",
        kwargs={"standin": True},
        wrappers=[
            WrapperConfig("minerl_discrete", TREECHOP_RECIPE),
            WrapperConfig("minerl_pov"),
            WrapperConfig("minerl_frame_skip", {"skip": 4}),
            WrapperConfig("minerl_pov_transform", {"grayscale": True}),
            WrapperConfig("minerl_frame_stack", {"k": 4}),
        ],
    )
    check_env_config(cfg)
    factory = EnvFactory(cfg, num_envs=2, seed=0, vector="sync")
    assert factory.observation_space.shape == (64, 64, 4) and factory.action_space.n == 5
    venv = factory.make_vector()
    obs, _ = venv.reset(seed=0)
    obs, reward, terminated, truncated, info = venv.step(np.array([0, 4]))
    assert obs.shape == (2, 64, 64, 4) and reward.dtype == np.float64
    venv.close()
