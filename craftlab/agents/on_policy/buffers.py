"""The rollout buffer of on-policy agents and its typed minibatches.

:class:`RolloutBuffer` holds one rollout as ``[T, N, ...]`` tensors (T =
``num_steps``, N = ``num_envs``); :meth:`RolloutBuffer.minibatches` yields
:class:`RolloutBufferSamples`, ``[B, ...]`` tensors named as in Stable-Baselines3.

Recurrent policies: the LSTM state at the start of the rollout is kept with
``episode_starts`` (1 where ``obs[t]`` is an episode's first observation, where
the state is reset to zeros). The update re-runs the LSTM over whole env
sequences, so their minibatches are sets of envs (``by_env``), as in CleanRL's
``ppo_atari_lstm``.
"""

from __future__ import annotations

from typing import Callable, Iterator, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.networks import is_image_space
from craftlab.agents.on_policy.gae import gae
from craftlab.agents.on_policy.policies import LSTMState


class RolloutBufferSamples(NamedTuple):
    """One minibatch of a rollout: ``[B, ...]`` tensors (time-major ``[L * S, ...]``
    when it holds whole env sequences)."""

    observations: torch.Tensor
    """s_t (the env's dtype: uint8 images stay bytes)"""
    actions: torch.Tensor
    """a_t: ``long[B]`` (Discrete) or ``float32[B, act_dim]`` (Box)"""
    old_values: torch.Tensor
    """V_old(s_t) from the rollout, in return units"""
    old_log_probs: torch.Tensor
    """log pi_theta_old(a_t|s_t) from the rollout"""
    advantages: torch.Tensor
    """A_t"""
    returns: torch.Tensor
    """R_t, the value target"""
    episode_starts: torch.Tensor
    """1 where ``observations[t]`` is an episode's first observation"""
    lstm_states: LSTMState | None
    """whole env sequences of a recurrent policy: their LSTM state before step 0; else None"""
    extra: dict[str, torch.Tensor]
    """the algorithm's own tensors (:attr:`RolloutBuffer.extra`, e.g. PPO-RND's ``int_returns``)"""


class RolloutBuffer:
    """Preallocated on-device storage for one rollout: tensors ``[T, N, ...]``
    (T = num_steps, N = num_envs). Observations keep the env's dtype (uint8
    images stay bytes: 4x less memory and copying)."""

    def __init__(
        self, num_steps: int, num_envs: int, observation_space: gym.Space, action_space: gym.Space, device: torch.device
    ):
        T, N = num_steps, num_envs
        obs_dtype = torch.uint8 if is_image_space(observation_space) else torch.float32
        self.obs = torch.zeros((T, N, *observation_space.shape), dtype=obs_dtype, device=device)
        act_shape = () if isinstance(action_space, gym.spaces.Discrete) else tuple(action_space.shape)
        act_dtype = torch.long if isinstance(action_space, gym.spaces.Discrete) else torch.float32
        self.actions = torch.zeros((T, N, *act_shape), dtype=act_dtype, device=device)
        self.log_probs = torch.zeros((T, N), device=device)
        self.rewards = torch.zeros((T, N), device=device)
        self.dones = torch.zeros((T, N), device=device)
        """1 where the episode ended (terminated or truncated) at this step"""
        self.episode_starts = torch.zeros((T, N), device=device)
        """1 where ``obs[t]`` is the first observation of an episode"""
        self.values = torch.zeros((T, N), device=device)
        self.advantages = torch.zeros((T, N), device=device)
        self.returns = torch.zeros((T, N), device=device)
        self.initial_state: LSTMState | None = None
        """recurrent policies: the LSTM state before ``obs[0]``"""
        self.extra: dict[str, torch.Tensor] = {}
        """algorithm-specific ``[T, N]`` tensors (RND's intrinsic returns ...), minibatched too"""

    def compute_gae(self, last_value: torch.Tensor, gamma: float, gae_lambda: float) -> None:
        """``advantages`` and ``returns`` by generalised advantage estimation
        (:func:`craftlab.agents.on_policy.gae.gae`), bootstrapped with ``last_value`` = V(s_T)."""
        self.advantages, self.returns = gae(self.rewards, self.values, self.dones, last_value, gamma, gae_lambda)

    def _samples(
        self, take: Callable[[torch.Tensor], torch.Tensor], lstm_states: LSTMState | None = None
    ) -> RolloutBufferSamples:
        """``take`` (selecting and reshaping ``[T, N, ...]`` -> ``[B, ...]``) of every tensor."""
        return RolloutBufferSamples(
            observations=take(self.obs),
            actions=take(self.actions),
            old_values=take(self.values),
            old_log_probs=take(self.log_probs),
            advantages=take(self.advantages),
            returns=take(self.returns),
            episode_starts=take(self.episode_starts),
            lstm_states=lstm_states,
            extra={k: take(v) for k, v in self.extra.items()},
        )

    def flat(self) -> RolloutBufferSamples:
        """The rollout as ``[T * N, ...]`` tensors (time-major)."""
        T, N = self.rewards.shape
        return self._samples(lambda v: v.reshape(T * N, *v.shape[2:]))

    def minibatches(
        self, num_minibatches: int, rng: np.random.Generator, by_env: bool = False
    ) -> Iterator[RolloutBufferSamples]:
        """One epoch of shuffled minibatches.

        ``by_env`` (recurrent policies): each minibatch holds whole env sequences,
        ``[T * n, ...]`` time-major, with ``lstm_states``, their LSTM state at ``t = 0``.
        Otherwise samples are shuffled individually."""
        T, N = self.rewards.shape
        if not by_env:
            size = max(1, (T * N) // num_minibatches)
            order = torch.from_numpy(rng.permutation(T * N)).to(self.obs.device)
            for start in range(0, T * N, size):
                mb = order[start : start + size]
                yield self._samples(lambda v, mb=mb: v.reshape(T * N, *v.shape[2:])[mb])
            return
        per = max(1, N // num_minibatches)
        envs = torch.from_numpy(rng.permutation(N)).to(self.obs.device)
        for start in range(0, N, per):
            idx = envs[start : start + per]
            state = None
            if self.initial_state is not None:
                state = (self.initial_state[0][:, idx], self.initial_state[1][:, idx])
            yield self._samples(lambda v, idx=idx: v[:, idx].reshape(T * len(idx), *v.shape[2:]), state)
