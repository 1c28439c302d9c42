"""Twin Delayed DDPG, TD3 (Fujimoto et al. 2018, "Addressing Function Approximation
Error in Actor-Critic Methods", Algorithm 1), from scratch.

Acting, the replay buffer and the loop are shared with every off-policy agent
(``agents/off_policy/``); this file is TD3's networks, exploration and gradient
step, read beside the paper. DDPG's deterministic actor mu_phi(s) and critic, plus
three fixes against overestimation and variance::

    act:  a = clip(mu_phi(s) + eps, -1, 1),  eps ~ N(0, sigma)          (exploration_noise)
    every gradient step t, on a batch (s, a, r, s', d) from the replay buffer:
        target policy smoothing (eq. 14-15):
            a~ = clip(mu_phi'(s') + clip(eps, -c, c), -1, 1),  eps ~ N(0, sigma~)
        clipped double Q (eq. 10):
            y  = r + gamma (1 - d) min_j Q_theta'_j(s', a~)
        critics: theta_j <- argmin E[(y - Q_theta_j(s, a))^2]                j = 1, 2
        delayed policy updates, every d steps (policy_delay):
            deterministic policy gradient: grad_phi E[Q_theta_1(s, mu_phi(s))]
            targets: theta'_j <- tau theta_j + (1 - tau) theta'_j,  phi' <- tau phi + (1 - tau) phi'

The delay reaches the targets through the shared target-network schedule:
``target_update_interval`` equals ``policy_delay``, so the targets move right after
each delayed actor update (gradient steps d, 2d, ... counted from 1), as in
Algorithm 1. Actions live in [-1, 1] inside the agent (noise scales are in those
units, as in SB3) and are rescaled to the env's ``[low, high]`` when stepping it.
The critic and action scaling are SAC's (``agents/sac.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from craftlab.agents.networks import MLP, NetworkConfig, layer_init
from craftlab.agents.off_policy import OffPolicyAgent, OffPolicyConfig, ReplayBufferSamples, make_target
from craftlab.agents.sac import BoxActions, ContinuousQNetwork, StateFeatures, TwinQNetwork, gradient_step
from craftlab.core.config import ConfigError, require


def td3_network() -> NetworkConfig:
    """Two ReLU layers of 400 and 300 units (the paper's architecture, SB3's default)."""
    return NetworkConfig(hidden_sizes=[400, 300], activation="relu")


@dataclass
class TD3Config(OffPolicyConfig):
    """TD3's settings (defaults: the paper's and Stable-Baselines3's TD3;
    configs/levine/td3_*.yaml set them per task)."""

    learning_rate: float = 1e-3
    """Adam step size (actor and critics)"""
    network: NetworkConfig = field(default_factory=td3_network)
    """actor and critic networks: for vector observations an MLP (hidden_sizes, activation;
    TD3's default [400, 300] relu) over the observation (critic: observation and action);
    for images the CNN encoder (kind) first"""
    max_grad_norm: float = 0.0
    """clip each network's gradient norm to this (0: no clipping, as in the paper)"""
    policy_delay: int = 2
    """d: one actor (and target) update every d critic updates"""
    target_update_interval: int = 2
    """update the target networks every this many gradient steps: TD3 keeps it equal to
    policy_delay (the targets move with the delayed actor update)"""
    exploration_noise: float = 0.1
    """sigma of the Gaussian noise added to mu(s) when acting, in [-1, 1] action units"""
    target_policy_noise: float = 0.2
    """sigma~ of the target policy smoothing noise, in [-1, 1] action units"""
    target_noise_clip: float = 0.5
    """c: the smoothing noise is clipped to [-c, c]"""

    def validate(self) -> None:
        super().validate()
        require(self.policy_delay >= 1, "policy_delay", "must be >= 1")
        require(
            self.target_update_interval == self.policy_delay,
            "target_update_interval",
            f"must equal algo.policy_delay ({self.policy_delay}) in TD3: the targets move with the delayed "
            "actor update; set both",
        )
        require(self.exploration_noise >= 0, "exploration_noise", "must be >= 0")
        require(self.target_policy_noise >= 0, "target_policy_noise", "must be >= 0")
        require(self.target_noise_clip >= 0, "target_noise_clip", "must be >= 0")


class DeterministicActor(nn.Module):
    """mu_phi(s) = tanh(...) in [-1, 1]^act_dim."""

    def __init__(self, observation_space: gym.Space, action_dim: int, network: NetworkConfig):
        super().__init__()
        self.features = StateFeatures(observation_space, network)
        self.mlp = MLP(self.features.out_features, network.hidden_sizes, network.activation)
        self.head = layer_init(nn.Linear(self.mlp.out_features, action_dim), gain=network.policy_init_gain)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs[B, ...]`` -> ``float32[B, act_dim]`` in [-1, 1]."""
        return torch.tanh(self.head(self.mlp(self.features(obs))))


class TD3(OffPolicyAgent):
    """TD3 for Box actions: twin critics, target policy smoothing, delayed deterministic policy."""

    name = "td3"
    Config = TD3Config
    config: TD3Config

    def __init__(self, config: TD3Config, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Box):
            raise ConfigError(
                f"config key 'algo.name': td3 needs Box (continuous) actions, this env has "
                f"{self.action_space}; use dqn or sac_discrete"
            )
        self.actions = BoxActions(self.action_space, self.device)
        obs_space, dim, net = self.observation_space, self.actions.dim, config.network
        # Q_theta_1, Q_theta_2, mu_phi and their targets theta'_j, phi'
        self.critic = TwinQNetwork(ContinuousQNetwork, obs_space, dim, net).to(self.device)
        self.critic_target = make_target(self.critic)
        self.actor = DeterministicActor(obs_space, dim, net).to(self.device)
        self.actor_target = make_target(self.actor)
        lr, eps = config.learning_rate, config.adam_eps
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, eps=eps)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr, eps=eps)

    # ------------------------------------------------------- the off-policy hooks

    def networks(self) -> dict[str, nn.Module]:
        return {
            "critic": self.critic,
            "critic_target": self.critic_target,
            "actor": self.actor,
            "actor_target": self.actor_target,
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.critic_optimizer, "actor": self.actor_optimizer}

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.critic, self.critic_target), (self.actor, self.actor_target)]

    def exploration_action(self, obs: torch.Tensor) -> np.ndarray:
        """a = clip(mu_phi(s) + eps, -1, 1), eps ~ N(0, exploration_noise) (from the agent's RNG)."""
        mu = self.actor(obs)
        noise = self.np_rng.normal(0.0, self.config.exploration_noise, size=tuple(mu.shape))
        return self.actions.to_env(mu + torch.as_tensor(noise, dtype=mu.dtype, device=mu.device))

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        return self.actions.to_env(self.actor(obs)) if deterministic else self.exploration_action(obs)

    def train_step(self, batch: ReplayBufferSamples) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        obs, actions = batch.observations, self.actions.to_unit(batch.actions)

        # target policy smoothing: a~ = clip(mu_phi'(s') + clip(eps, -c, c), -1, 1), eps ~ N(0, sigma~)
        # clipped double Q (eq. 10): y = R + (1 - d) gamma^m min_j Q_theta'_j(s', a~)
        with torch.no_grad():
            next_mu = self.actor_target(batch.next_observations)
            noise = (torch.randn_like(next_mu) * cfg.target_policy_noise).clamp(
                -cfg.target_noise_clip, cfg.target_noise_clip
            )
            next_actions = (next_mu + noise).clamp(-1.0, 1.0)
            next_q1, next_q2 = self.critic_target(batch.next_observations, next_actions)
            targets = batch.rewards + (1.0 - batch.terminated) * batch.discounts * torch.min(next_q1, next_q2)

        # critics: minimise E[(y - Q_theta_j(s, a))^2], j = 1, 2
        q1, q2 = self.critic(obs, actions)
        critic_loss = (batch.weights * ((q1 - targets) ** 2 + (q2 - targets) ** 2)).mean()
        gradient_step(self.critic_optimizer, critic_loss, cfg.max_grad_norm)
        stats: dict[str, float | torch.Tensor] = {"critic_loss": critic_loss.detach(), "q_values": q1.detach().mean()}

        # delayed policy update, every d-th gradient step (counted from 1; the shared schedule then
        # moves the targets): maximise Q_theta_1(s, mu_phi(s)) (deterministic policy gradient)
        if (self.num_gradient_steps + 1) % cfg.policy_delay == 0:
            actor_loss = -self.critic.q1(obs, self.actor(obs)).mean()
            gradient_step(self.actor_optimizer, actor_loss, cfg.max_grad_norm)
            stats["actor_loss"] = actor_loss.detach()

        self.update_priorities(batch, 0.5 * ((q1 - targets).abs() + (q2 - targets).abs()).detach())
        return stats
