"""Model-Based Policy Optimization (Janner et al. 2019, "When to Trust Your Model:
Model-Based Policy Optimization", Algorithm 2), from scratch: SAC trained mostly on
short rollouts of a learned model, branched from real states::

    D_env: the off-policy replay buffer (real transitions); D_model: model transitions
    act uniformly at random for learning_starts env steps (D_env's warm-up)
    every env step after that:
        every model_train_freq env steps: fit the ensemble to D_env          (dynamics.py)
        take a_t ~ pi(.|s_t) in the env, add the transition to D_env
        M branched rollouts (rollout_batch_size): s ~ D_env uniformly, then k steps
            (rollout_length) of a ~ pi(.|s), (s', r) from a member drawn at random
            per rollout and step; add each step to D_model
        G SAC gradient steps (gradient_steps) on batches of real_ratio real and
            1 - real_ratio model transitions

SAC's networks, losses and temperature are :class:`craftlab.agents.sac.SAC`'s, run
unchanged on the mixed batches; this file adds the model, the rollouts and the mix.

Deviations from the paper (and its code, jannerm/mbpo):

- deterministic ensemble members (``dynamics.py``, CS285 hw4), not Gaussian ones:
  rollouts take the chosen member's mean prediction, with no sampled noise;
- every member is used (no "elites" chosen on a hold-out set), and each fit runs a
  fixed number of gradient steps (``model.train_steps``) instead of stopping early
  on hold-out loss;
- the rollout length k is fixed (the paper grows it linearly with the epoch on some
  tasks);
- the model predicts no episode ends (the paper hand-writes each task's termination
  function): model transitions never terminate, so use it on tasks without terminal
  states (Pendulum) or accept bootstrapping through them;
- rollouts start every env step (M per step) into a ring buffer of
  ``model_buffer_size`` transitions, instead of M * 250 every 250 steps into a buffer
  that keeps the last epochs' rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from craftlab.agents.model_based.dynamics import DynamicsConfig, DynamicsEnsemble, replay_transitions
from craftlab.agents.off_policy import ReplayBufferSamples, update_targets
from craftlab.agents.sac import SAC, SACConfig, SquashedGaussianActor
from craftlab.core.config import ConfigError, require


@dataclass
class MBPOConfig(SACConfig):
    """MBPO's settings: SAC's, plus the model and its rollouts (defaults: the paper's
    Table 2 and code where they apply; configs/levine/mbpo_*.yaml set them per task)."""

    gradient_steps: int = 20
    """G: SAC gradient steps per env step (the paper: 20 or 40)"""
    model: DynamicsConfig = field(default_factory=DynamicsConfig)
    """the ensemble of dynamics models (agents/model_based/dynamics.py)"""
    model_train_freq: int = 250
    """refit the model to all real data every this many env steps (the first fit when
    training starts, after learning_starts random steps)"""
    rollout_batch_size: int = 400
    """M: model rollouts branched from real states at every training call (every
    train_freq env steps)"""
    rollout_length: int = 1
    """k: steps of each model rollout"""
    real_ratio: float = 0.05
    """fraction of each SAC batch drawn from real transitions (the rest from model rollouts)"""
    model_buffer_size: int = 400_000
    """model transitions kept (oldest dropped first)"""

    def validate(self) -> None:
        super().validate()
        require(self.model_train_freq >= 1, "model_train_freq", "must be >= 1")
        require(self.rollout_batch_size >= 1, "rollout_batch_size", "must be >= 1")
        require(self.rollout_length >= 1, "rollout_length", "must be >= 1")
        require(0.0 <= self.real_ratio <= 1.0, "real_ratio", "must be in [0, 1]")
        require(self.model_buffer_size >= 1, "model_buffer_size", "must be >= 1")
        require(self.n_step == 1, "n_step", "must be 1 in mbpo (model rollouts are one-step transitions)")
        require(
            not self.prioritized_replay,
            "prioritized_replay",
            "must be false in mbpo (model transitions have no priorities)",
        )


class ModelReplayBuffer:
    """D_model: a ring buffer of ``capacity`` one-step model transitions (tensors on the
    agent's device), sampled uniformly."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, device: torch.device):
        self.capacity = capacity
        self.observations = torch.zeros(capacity, obs_dim, device=device)
        self.actions = torch.zeros(capacity, act_dim, device=device)
        """in the env's units, as the real replay buffer stores them"""
        self.rewards = torch.zeros(capacity, device=device)
        self.next_observations = torch.zeros(capacity, obs_dim, device=device)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, next_obs: torch.Tensor) -> None:
        """``n`` transitions: ``obs[n, obs_dim]``, ``actions[n, act_dim]``, ``rewards[n]``, ``next_obs[n, obs_dim]``."""
        n = len(rewards)
        idx = (self.pos + torch.arange(n, device=rewards.device)) % self.capacity
        self.observations[idx], self.actions[idx] = obs, actions
        self.rewards[idx], self.next_observations[idx] = rewards, next_obs
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """``n`` transitions drawn uniformly: ``(obs, actions, rewards, next_obs)``."""
        idx = torch.as_tensor(rng.integers(0, self.size, size=n), device=self.rewards.device)
        return self.observations[idx], self.actions[idx], self.rewards[idx], self.next_observations[idx]

    def state_dict(self) -> dict[str, Any]:
        n = self.size  # only the filled part
        return {
            "observations": self.observations[:n].cpu(),
            "actions": self.actions[:n].cpu(),
            "rewards": self.rewards[:n].cpu(),
            "next_observations": self.next_observations[:n].cpu(),
            "pos": self.pos,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = min(len(state["rewards"]), self.capacity)
        for name in ("observations", "actions", "rewards", "next_observations"):
            getattr(self, name)[:n] = state[name][:n].to(self.rewards.device)
        self.size, self.pos = n, int(state["pos"]) % self.capacity


class MBPO(SAC):
    """SAC on a mix of real transitions and k-step rollouts of a learned ensemble."""

    name = "mbpo"
    Config = MBPOConfig
    config: MBPOConfig
    actor: SquashedGaussianActor

    def __init__(self, config: MBPOConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        obs_space = self.observation_space
        if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
            raise ConfigError(
                f"config key 'env.id': mbpo's model needs vector (1-D Box) observations, this env has {obs_space}; "
                "use an env with vector observations (Pendulum-v1) or sac"
            )
        obs_dim = int(obs_space.shape[0])
        self.model = DynamicsEnsemble(obs_dim, self.actions.dim, config.model).to(self.device)
        self.model_optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.model.learning_rate, weight_decay=config.model.weight_decay
        )
        self.model_buffer = ModelReplayBuffer(config.model_buffer_size, obs_dim, self.actions.dim, self.device)
        self.num_model_fits = 0
        self.next_model_fit = 0
        """the env step at which the model is refit next (0: at the first training call)"""
        self._model_stats: dict[str, float] = {}

    # ------------------------------------------------------------------ hooks

    def networks(self) -> dict[str, nn.Module]:
        return {**super().networks(), "model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(), "model": self.model_optimizer}

    def progress_scalars(self) -> dict[str, float]:
        return {
            **super().progress_scalars(),
            **self._model_stats,
            "model_fits": float(self.num_model_fits),
            "model_buffer": float(len(self.model_buffer)),
        }

    # ------------------------------------------------------------------ MBPO

    def fit_model(self) -> None:
        """Fit the ensemble to every real transition in D_env."""
        assert self.replay_buffer is not None
        cfg = self.config.model
        data = replay_transitions(self.replay_buffer, self.device)
        stats = self.model.fit(data, self.model_optimizer, cfg.train_steps, cfg.batch_size, self.np_rng)
        self._model_stats = stats
        self.num_model_fits += 1
        self.next_model_fit = self.num_timesteps + self.config.model_train_freq

    @torch.no_grad()
    def branched_rollouts(self) -> None:
        """M rollouts of k steps under pi from states of D_env, into D_model."""
        assert self.replay_buffer is not None
        M, E = self.config.rollout_batch_size, self.model.ensemble_size
        obs = self.replay_buffer.sample(M, device=self.device).observations.float().reshape(M, -1)
        rows = torch.arange(M, device=self.device)
        for _ in range(self.config.rollout_length):
            unit, _ = self.actor.sample(obs)  # a ~ pi(.|s)
            actions = self.actions.low + (unit + 1.0) * 0.5 * (self.actions.high - self.actions.low)
            next_obs, rewards = self.model.predict(obs, actions)  # every member: [E, M, ...]
            member = torch.randint(E, (M,), device=self.device)  # one member per rollout and step
            next_obs, rewards = next_obs[member, rows], rewards[member, rows]
            self.model_buffer.add(obs, actions, rewards, next_obs)
            obs = next_obs

    def mixed_batch(self) -> ReplayBufferSamples:
        """A SAC batch: ``real_ratio`` of it from D_env, the rest from D_model (never terminal)."""
        assert self.replay_buffer is not None
        cfg = self.config
        n_real = int(round(cfg.real_ratio * cfg.batch_size))
        n_model = cfg.batch_size - n_real
        real = self.replay_buffer.sample(n_real, device=self.device)
        obs, actions, rewards, next_obs = self.model_buffer.sample(n_model, self.np_rng)
        return ReplayBufferSamples(
            observations=torch.cat([real.observations.float().reshape(n_real, -1), obs]),
            actions=torch.cat([real.actions.reshape(n_real, -1), actions]),
            rewards=torch.cat([real.rewards, rewards]),
            next_observations=torch.cat([real.next_observations.float().reshape(n_real, -1), next_obs]),
            terminated=torch.cat([real.terminated, torch.zeros(n_model, device=self.device)]),
            discounts=torch.cat([real.discounts, torch.full((n_model,), cfg.gamma, device=self.device)]),
            weights=torch.ones(cfg.batch_size, device=self.device),
            indices=real.indices,  # the real part's (no prioritised replay in mbpo)
        )

    def train(self, gradient_steps: int) -> None:
        """One training call of the off-policy loop (every train_freq env steps): refit the
        model when due, branch M rollouts, then G SAC gradient steps on mixed batches."""
        cfg = self.config
        if self.num_timesteps >= self.next_model_fit:
            self.fit_model()
        self.branched_rollouts()
        for _ in range(gradient_steps):
            stats = self.train_step(self.mixed_batch())  # SAC's critic, actor and temperature steps
            self.num_gradient_steps += 1
            update_targets(self.target_pairs(), cfg.tau, cfg.target_update_interval, self.num_gradient_steps)
            for key, value in stats.items():
                self._stats.setdefault(key, []).append(value.detach() if isinstance(value, torch.Tensor) else value)

    # ------------------------------------------------------------------ checkpoints

    def extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            **super().extra_state(),
            "num_model_fits": self.num_model_fits,
            "next_model_fit": self.next_model_fit,
        }
        if self.save_replay_buffer:
            state["model_buffer"] = self.model_buffer.state_dict()
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.num_model_fits = int(state["num_model_fits"])
        self.next_model_fit = int(state["next_model_fit"])
        if "model_buffer" in state:
            self.model_buffer.load_state_dict(state["model_buffer"])
        else:  # refilled by the next training call's rollouts
            self.model_buffer.size = self.model_buffer.pos = 0
