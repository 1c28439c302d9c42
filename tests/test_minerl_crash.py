"""Crash and hang recovery: one crash costs one episode, never the run."""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

from craftlab.envs.minerl.actions import SerialDiscreteActions
from craftlab.envs.minerl.adapter import make_minerl
from craftlab.envs.minerl.crash import CrashRecovery
from craftlab.envs.minerl.observations import PovOnly


def _faulty(**faults):
    return make_minerl(
        "MineRLTreechop-v0",
        standin=True,
        standin_kwargs={"fault_seed": 0, **faults},
        crash_recovery={"step_timeout": 0.2, "backoff": 0.0},
    )


def test_crash_ends_episode_truncated_and_restarts():
    env = _faulty(crash_probability=0.05)
    env.reset(seed=0)
    crashes, steps, restarts_seen = 0, 0, []
    inner_before = env.unwrapped.inner
    while crashes < 3:
        obs, reward, terminated, truncated, info = env.step({"attack": 1})
        steps += 1
        assert env.observation_space.contains(obs)
        restarts_seen.append(info["crash_restarts"])
        if "crash" in info:
            crashes += 1
            assert truncated and not terminated and reward == 0.0
            assert "ConnectionError" in info["crash"]
            with pytest.raises(RuntimeError, match="reset"):
                env.step({})
            obs, info = env.reset()
            assert info["crash_restarts"] == crashes
        assert steps < 1000
    assert env.unwrapped.inner is not inner_before and env.unwrapped.restarts == 3
    assert restarts_seen == sorted(restarts_seen)


def test_hang_is_timed_out():
    env = _faulty(hang_probability=0.1, hang_seconds=1.0)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(200):
        obs, reward, terminated, truncated, info = env.step({})
        if "crash" in info:
            break
    assert "timed out" in info["crash"] and truncated
    assert time.perf_counter() - start < 1.0  # did not wait for the hang
    obs, info = env.reset()
    assert info["crash_restarts"] == 1
    env.step({})  # the restarted env works; the abandoned step does not disturb it


def test_socket_error_info_counts_as_crash():
    env = CrashRecovery(make_minerl("MineRLTreechop-v0", standin=True), step_timeout=None, backoff=0.0)
    env.reset(seed=0)
    inner = env.unwrapped.inner
    real_step = inner.step
    inner.step = lambda a: (lambda r: (r[0], r[1], r[2], {"error": "Connection timed out!"}))(real_step(a))
    _, _, terminated, truncated, info = env.step({})
    assert truncated and not terminated and "Connection timed out!" in info["crash"]
    env.reset()
    assert env.crash_restarts == 1


class _NeverStarts(gym.Env):
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        raise ConnectionRefusedError("Minecraft did not start")


def test_failing_restarts_are_bounded():
    made = []
    env = CrashRecovery(_NeverStarts(), max_retries=3, backoff=0.001, env_fn=lambda: made.append(1) or _NeverStarts())
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="after 3 retries"):
        env.reset()
    assert len(made) == 3 and time.perf_counter() - start < 2.0


def test_sb3_ppo_trains_through_injected_crashes_and_hangs():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    def make():
        env = _faulty(crash_probability=0.02, hang_probability=0.01, hang_seconds=0.5)
        return PovOnly(
            SerialDiscreteActions(
                env,
                always_keys=["attack"],
                reverse_keys=["forward"],
                exclude_keys=["back", "left", "right", "sneak", "sprint"],
            )
        )

    venv = DummyVecEnv([make, make])
    model = PPO(
        "CnnPolicy",
        venv,
        n_steps=64,
        batch_size=64,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs={"features_extractor_kwargs": {"features_dim": 64}},
    )
    model.learn(256)
    restarts = sum(e.env.env.crash_restarts for e in venv.envs)  # PovOnly > Serial > CrashRecovery
    assert model.num_timesteps >= 256 and restarts >= 2
