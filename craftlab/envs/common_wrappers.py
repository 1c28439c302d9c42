"""Small observation and reward wrappers that Gymnasium does not ship."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class SignReward(gym.RewardWrapper):
    """Replace each reward by its sign (-1, 0, +1), as DQN did on Atari."""

    def reward(self, reward):
        return float(np.sign(reward))


class OneHotObservation(gym.ObservationWrapper):
    """``Discrete(n)`` observation -> ``float32[n]`` one-hot vector, so deep agents
    can run on tabular environments."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        if not isinstance(env.observation_space, gym.spaces.Discrete):
            raise TypeError(f"one_hot needs a Discrete observation space, got {env.observation_space}")
        self.n = int(env.observation_space.n)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.n,), np.float32)

    def observation(self, observation):
        out = np.zeros(self.n, np.float32)
        out[int(observation)] = 1.0
        return out
