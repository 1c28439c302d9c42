"""Probe environments: tiny tasks with exactly known answers, for debugging deep RL
agents one piece at a time (after Andy Jones, "Debugging RL, without the agonizing
pain", 2021). If an agent fails a probe, the bug is in the piece that probe isolates.

==========================================  =====================================  =========================
id                                          what it checks                         exact answer
==========================================  =====================================  =========================
``probe/constant_reward``                   value learning at all                  V(0) = 1
``probe/observation_reward``                value depends on the observation      V(-1) = -1, V(+1) = +1
``probe/two_step``                          discounting / bootstrapping            V(s0) = gamma, V(s1) = 1
``probe/action_reward``                     the policy gradient                    pi(a=1) -> 1, V = 1
``probe/observation_action_reward``         policy conditioned on observation      a = obs side, V = 1
``probe/image_observation_action_reward``   the same through a CNN on uint8 images a = bright side, V = 1
``probe/memory``                            recurrence: act on a cue seen earlier  a = cue, V(s0) = gamma^k
``probe/sparse_corridor``                   exploration (RND): a far, sparse goal  reach the end: return 1
``probe/maximization_bias``                 overestimation of max-based targets    Q(A, left) = -0.1 gamma
==========================================  =====================================  =========================

All are episodic with at most a few steps; observations are ``float32`` vectors
(``uint8`` HxWx3 images for the image probe), actions ``Discrete`` (the
observation-action probe also has a ``continuous=True`` Box variant).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class _Probe(gym.Env):
    """Shared plumbing: a 1-d float observation and ``Discrete(n_actions)`` actions."""

    metadata = {"render_modes": []}

    def __init__(self, n_actions: int = 2, obs_dim: int = 1):
        self.observation_space = spaces.Box(-1.0, 1.0, (obs_dim,), np.float32)
        self.action_space: gym.Space = spaces.Discrete(n_actions)

    @staticmethod
    def _obs(value: float) -> np.ndarray:
        return np.array([value], dtype=np.float32)


class ConstantReward(_Probe):
    """One step, observation 0, reward +1 whatever the action. Exact: V(0) = 1.
    Fails: the value loss or the value head is broken."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return self._obs(0.0), {}

    def step(self, action: Any):
        return self._obs(0.0), 1.0, True, False, {}


class ObservationReward(_Probe):
    """One step, observation -1 or +1 at random, reward = observation.
    Exact: V(-1) = -1, V(+1) = +1. Fails: the value does not see the observation."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._o = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(self._o), {}

    def step(self, action: Any):
        return self._obs(self._o), self._o, True, False, {}


class TwoStep(_Probe):
    """Two steps: observation 0 (reward 0), then observation 1 (reward +1, end).
    Exact: V(s0) = gamma, V(s1) = 1. Fails: discounting or bootstrapping is broken."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(0.0), {}

    def step(self, action: Any):
        self._t += 1
        if self._t == 1:
            return self._obs(1.0), 0.0, False, False, {}
        return self._obs(1.0), 1.0, True, False, {}


class ActionReward(_Probe):
    """One step, observation 0, reward +1 for action 1 and -1 for action 0.
    Exact at the optimum: pi(1|0) = 1, V(0) = 1. Fails: the policy gradient is broken."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return self._obs(0.0), {}

    def step(self, action: Any):
        return self._obs(0.0), (1.0 if int(action) == 1 else -1.0), True, False, {}


class ObservationActionReward(_Probe):
    """One step, observation -1 or +1 at random; reward +1 for the action on the same
    side (action 0 for -1, action 1 for +1), else -1. With ``continuous=True`` the
    action is a number in [-1, 1] and the reward is ``1 - (a - obs)^2`` (best a = obs).
    Exact at the optimum: V(-1) = V(+1) = 1. Fails: the policy ignores the observation
    (or advantages and observations are misaligned in the batch)."""

    def __init__(self, continuous: bool = False):
        super().__init__()
        self.continuous = continuous
        if continuous:
            self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._o = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(self._o), {}

    def step(self, action: Any):
        if self.continuous:
            a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
            reward = 1.0 - (a - self._o) ** 2
        else:
            reward = 1.0 if int(action) == int(self._o > 0) else -1.0
        return self._obs(self._o), reward, True, False, {}


class ImageObservationActionReward(gym.Env):
    """The observation-action probe through pixels: a ``size`` x ``size`` RGB image,
    black except its left or right half, which is bright; reward +1 for the action
    naming the bright side (0 left, 1 right), else -1. Exact at the optimum: V = 1."""

    metadata = {"render_modes": []}

    def __init__(self, size: int = 40):
        self.size = size
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = spaces.Discrete(2)

    def image(self, side: int) -> np.ndarray:
        """``uint8[size, size, 3]``: half ``side`` (0 left, 1 right) bright."""
        img = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        half = self.size // 2
        img[:, side * half : (side + 1) * half] = 255
        return img

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._side = int(self.np_random.integers(2))
        return self.image(self._side), {}

    def step(self, action: Any):
        reward = 1.0 if int(action) == self._side else -1.0
        return self.image(self._side), reward, True, False, {}


class Memory(_Probe):
    """A cue (-1 or +1) shown at step 0 only, then ``delay`` steps of observation 0;
    at the last step the action must name the cue (0 for -1, 1 for +1): reward +1,
    else -1 (reward 0 before). Observation: ``[cue or 0, is-last-step flag]``.
    Exact at the optimum: V(s_last) = 1 and V(s0) = gamma^delay. A feed-forward policy
    can do no better than chance (mean return 0): this probe needs memory (an LSTM)."""

    def __init__(self, delay: int = 2):
        super().__init__(n_actions=2, obs_dim=2)
        self.delay = delay

    def _observation(self) -> np.ndarray:
        cue = self._cue if self._t == 0 else 0.0
        return np.array([cue, 1.0 if self._t == self.delay else 0.0], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._cue = float(self.np_random.choice([-1.0, 1.0]))
        self._t = 0
        return self._observation(), {}

    def step(self, action: Any):
        if self._t < self.delay:
            self._t += 1
            return self._observation(), 0.0, False, False, {}
        reward = 1.0 if int(action) == int(self._cue > 0) else -1.0
        return self._observation(), reward, True, False, {}


class SparseCorridor(gym.Env):
    """Exploration probe: a corridor of ``length`` cells, start in cell 0. Of the
    ``n_actions`` actions only action 0 steps right; all others step left (a wall
    stops at 0). Reaching the last cell gives +1 and ends the episode; otherwise
    reward 0 until ``max_steps`` (truncation). A uniformly random policy reaches
    the end with probability about ``(1/n_actions)^(length-1)`` per episode
    (~1e-6 by default), so undirected exploration does not find the reward,
    while a novelty bonus (RND) pulls the agent to ever further cells.
    Observation: the one-hot cell index."""

    metadata = {"render_modes": []}

    def __init__(self, length: int = 12, n_actions: int = 4, max_steps: int = 30):
        self.length, self.max_steps = length, max_steps
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = spaces.Discrete(n_actions)

    def _observation(self) -> np.ndarray:
        obs = np.zeros(self.length, dtype=np.float32)
        obs[self._pos] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._pos, self._t = 0, 0
        return self._observation(), {}

    def step(self, action: Any):
        self._t += 1
        self._pos = min(self._pos + 1, self.length - 1) if int(action) == 0 else max(self._pos - 1, 0)
        reached = self._pos == self.length - 1
        return self._observation(), float(reached), reached, (not reached) and self._t >= self.max_steps, {}


class MaximizationBias(gym.Env):
    """Sutton & Barto, Example 6.7 (Figure 6.5): the maximisation-bias MDP.

    Start in state A. Action 0 ("left") moves to state B with reward 0; any other
    action ("right") ends the episode with reward 0. In B every action ends the
    episode with a reward drawn from N(``mean``, ``std``^2), -0.1 and 1 by default.
    Exact: Q(B, b) = mean for every b, Q(A, left) = gamma * mean < 0 = Q(A, right),
    so the optimal policy goes right. A learner whose targets take the max over
    noisy estimates of Q(B, .) (Q-learning, DQN) overestimates Q(A, left) and goes
    left too often; Double Q-learning's targets do not.
    Observation: the one-hot state ``[A, B]``; actions ``Discrete(n_actions)`` in both."""

    metadata = {"render_modes": []}

    def __init__(self, n_actions: int = 10, mean: float = -0.1, std: float = 1.0):
        self.mean, self.std = mean, std
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(n_actions)

    @staticmethod
    def state_obs(state: int) -> np.ndarray:
        """The observation of state 0 (A) or 1 (B)."""
        obs = np.zeros(2, dtype=np.float32)
        obs[state] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = 0
        return self.state_obs(0), {}

    def step(self, action: Any):
        if self._state == 0:
            if int(action) == 0:  # left, to B
                self._state = 1
                return self.state_obs(1), 0.0, False, False, {}
            return self.state_obs(0), 0.0, True, False, {}  # right: the end
        reward = float(self.np_random.normal(self.mean, self.std))
        return self.state_obs(1), reward, True, False, {}
