"""The Crafter Gymnasium environment: checkers, seeding, terminated vs truncated, achievements."""

from __future__ import annotations

import numpy as np
import pytest

from craftlab.envs.crafter import ACHIEVEMENTS, CrafterEnv, crafter_score


def rollout(env: CrafterEnv, seed: int, steps: int, action_seed: int = 0):
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    frames, rewards = [obs], []
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(int(rng.integers(17)))
        frames.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            obs, _ = env.reset()
            frames.append(obs)
    return np.stack(frames), np.array(rewards)


def test_gymnasium_and_sb3_checkers_pass():
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    gym_check(CrafterEnv(), skip_render_check=True)
    sb3_check(CrafterEnv(), warn=True)


def test_same_seed_same_episode_and_other_seed_differs():
    a, ra = rollout(CrafterEnv(), seed=3, steps=300)
    b, rb = rollout(CrafterEnv(), seed=3, steps=300)
    c, _ = rollout(CrafterEnv(), seed=4, steps=300)
    assert np.array_equal(a, b) and np.array_equal(ra, rb)
    assert not np.array_equal(a[0], c[0])


def test_reset_with_seed_restarts_the_world_sequence():
    env = CrafterEnv()
    first, _ = env.reset(seed=11)
    env.reset()  # episode 2 of seed 11: another world
    again, _ = env.reset(seed=11)
    assert np.array_equal(first, again)


def test_time_limit_is_truncation():
    env = CrafterEnv(length=20)
    env.reset(seed=0)
    for t in range(20):
        _, _, terminated, truncated, _ = env.step(0)  # noop: cannot die in 20 steps
    assert truncated and not terminated


def test_death_is_termination():
    env = CrafterEnv()
    env.reset(seed=0)
    env._env._player.health = 0  # the player's health runs out
    _, reward, terminated, truncated, _ = env.step(0)
    assert terminated and not truncated
    assert reward < 0  # health lost is negative reward


def test_info_reports_achievements_and_render_size():
    env = CrafterEnv(render_mode="rgb_array", render_size=(320, 320))
    obs, info = env.reset(seed=0)
    assert set(info["achievements"]) == set(ACHIEVEMENTS) and len(ACHIEVEMENTS) == 22
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    frame = env.render()
    assert frame.shape == (320, 320, 3)
    _, _, _, _, info = env.step(5)
    assert set(info["achievements"]) == set(ACHIEVEMENTS)


def test_crafter_score_formula():
    assert crafter_score([0.0] * 22) == pytest.approx(0.0)
    assert crafter_score([100.0] * 22) == pytest.approx(100.0)
    rates = np.linspace(0, 50, 22)
    assert crafter_score(rates) == pytest.approx(np.exp(np.mean(np.log(1 + rates))) - 1)
