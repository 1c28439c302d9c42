"""Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and
Applications", arXiv 1812.05905, Algorithm 1), from scratch, and its discrete-action
variant (Christodoulou 2019, "Soft Actor-Critic for Discrete Action Settings").

Acting, the replay buffer and the loop are shared with every off-policy agent
(``agents/off_policy/``); this file is SAC's networks and gradient step, read
beside the paper. Maximum-entropy RL maximises ``sum_t E[r_t + alpha H(pi(.|s_t))]``
(eq. 1); every gradient step (one per env step by default)::

    sample a batch (s, a, r, s', d) from the replay buffer D
    critics (eq. 5), with the soft value of s' (eq. 3) and clipped double Q:
        a' ~ pi_phi(.|s')
        y  = r + gamma (1 - d) [ min_j Q_target_j(s', a') - alpha log pi_phi(a'|s') ]
        J_Q(theta_j) = E[ 1/2 (Q_theta_j(s, a) - y)^2 ]               j = 1, 2
    policy (eq. 7, reparameterised as in eq. 9: a~ = tanh(mu_phi(s) + sigma_phi(s) * eps)):
        J_pi(phi) = E[ alpha log pi_phi(a~|s) - min_j Q_theta_j(s, a~) ]
    temperature (eq. 18), towards a target entropy H_bar (default -|A|):
        J(alpha) = E[ -alpha (log pi_phi(a~|s) + H_bar) ]
    targets: theta_target_j <- tau theta_j + (1 - tau) theta_target_j

The policy is a Gaussian squashed by tanh into [-1, 1] (Appendix C); its
log-density needs the change-of-variables correction (eq. 21)::

    log pi(a|s) = log N(u; mu, sigma) - sum_i log(1 - tanh(u_i)^2),   a = tanh(u)

Internally actions live in [-1, 1]; they are rescaled to the env's ``[low, high]``
only when stepping it (:class:`BoxActions`), and the replay buffer's env-scale
actions are mapped back before they reach the critics.

**Discrete SAC** (``sac_discrete``, Christodoulou 2019, section 4): the policy is a
categorical ``pi(.|s)`` and the critics output ``Q(s, .)`` for every action, so the
expectations over actions are computed exactly instead of sampled::

    V(s')     = pi(.|s')^T [ min_j Q_target_j(s', .) - alpha log pi(.|s') ]
    J_pi(phi) = E_s[ pi(.|s)^T [ alpha log pi(.|s) - min_j Q_theta_j(s, .) ] ]
    J(alpha)  = E_s[ pi(.|s)^T [ -alpha (log pi(.|s) + H_bar) ] ]

with ``H_bar = target_entropy_scale * log |A|`` (a fraction of the uniform policy's
entropy; the paper uses 0.98, CleanRL's sac_atari 0.89).

Both use the replay buffer's n-step returns and importance weights when asked
(``n_step``, ``prioritized_replay``): ``y = R + (1 - d) gamma^m V(s_{t+m})``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from craftlab.agents.networks import MLP, NetworkConfig, build_encoder, is_image_space, layer_init
from craftlab.agents.off_policy import OffPolicyAgent, OffPolicyConfig, ReplayBufferSamples, make_target
from craftlab.core.config import ConfigError, require

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
"""bounds of the Gaussian's log standard deviation (the SAC authors' and SB3's)"""


def sac_network() -> NetworkConfig:
    """Two ReLU layers of 256 units (the paper's Table 1, SB3's default)."""
    return NetworkConfig(hidden_sizes=[256, 256], activation="relu")


@dataclass
class SACConfig(OffPolicyConfig):
    """SAC's settings (defaults: the paper's Table 1 and Stable-Baselines3's SAC;
    configs/levine/sac_*.yaml set them per task)."""

    network: NetworkConfig = field(default_factory=sac_network)
    """actor and critic networks: for vector observations an MLP (hidden_sizes, activation;
    SAC's default [256, 256] relu) over the observation (critic: observation and action);
    for images the CNN encoder (kind) first"""
    max_grad_norm: float = 0.0
    """clip each network's gradient norm to this (0: no clipping, as in the paper)"""
    autotune: bool = True
    """learn the temperature alpha so that the policy's entropy tracks target_entropy (eq. 18);
    false: alpha stays at init_alpha (the first SAC paper's fixed temperature)"""
    init_alpha: float = 1.0
    """temperature alpha at the start (fixed value without autotune)"""
    target_entropy: Union[float, None] = None
    """H_bar in nats; null: -|A| (minus the action dimension), the paper's heuristic"""

    def validate(self) -> None:
        super().validate()
        require(self.init_alpha > 0, "init_alpha", "must be > 0")


@dataclass
class SACDiscreteConfig(SACConfig):
    """Discrete SAC's settings (Christodoulou 2019; target entropy as in CleanRL's sac_atari)."""

    target_entropy_scale: float = 0.89
    """H_bar = target_entropy_scale * log |A| when target_entropy is null (the paper: 0.98)"""

    def validate(self) -> None:
        super().validate()
        require(0.0 <= self.target_entropy_scale <= 1.0, "target_entropy_scale", "must be in [0, 1]")


# ----------------------------------------------------------------- networks


class StateFeatures(nn.Module):
    """s -> ``float32[B, out_features]``: the CNN encoder of ``network`` for images, the
    flattened observation for vectors (the MLP after it does the work)."""

    def __init__(self, observation_space: gym.Space, network: NetworkConfig):
        super().__init__()
        vector = network.kind in ("auto", "mlp") and not is_image_space(observation_space)
        if network.lstm > 0:
            raise ConfigError("config key 'algo.network.lstm': SAC and TD3 have no recurrent networks; set it to 0")
        if vector and network.dense:
            raise ConfigError(
                "config key 'algo.network.dense' applies after an image encoder; for vector "
                "observations set algo.network.hidden_sizes"
            )
        if vector and not isinstance(observation_space, gym.spaces.Box):
            raise ConfigError(
                f"config key 'env.id': SAC and TD3 need Box observations, got {observation_space}; "
                "wrap Discrete observations with the 'one_hot' wrapper"
            )
        self.encoder = None if vector else build_encoder(observation_space, network)
        size = self.encoder.out_features if self.encoder is not None else np.prod(observation_space.shape or ())
        self.out_features = int(size)  # type: ignore[arg-type]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.flatten(1).float() if self.encoder is None else self.encoder(obs)


class ContinuousQNetwork(nn.Module):
    """Q(s, a; theta) for a batch of (state, action) pairs: an MLP over ``[features(s), a]``."""

    def __init__(self, observation_space: gym.Space, action_dim: int, network: NetworkConfig):
        super().__init__()
        self.features = StateFeatures(observation_space, network)
        self.mlp = MLP(self.features.out_features + action_dim, network.hidden_sizes, network.activation)
        self.head = layer_init(nn.Linear(self.mlp.out_features, 1), gain=network.value_init_gain)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``obs[B, ...]``, ``actions[B, act_dim]`` in [-1, 1] -> ``float32[B]``."""
        return self.head(self.mlp(torch.cat([self.features(obs), actions], dim=1))).squeeze(1)


class TwinQNetwork(nn.Module):
    """Two independent critics Q_theta_1, Q_theta_2 (clipped double Q: targets and the
    policy use their minimum, which counters Q-learning's overestimation; Fujimoto et al. 2018)."""

    def __init__(self, make: "type[nn.Module]", *args):
        super().__init__()
        self.q1, self.q2 = make(*args), make(*args)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(*inputs), self.q2(*inputs)


class SquashedGaussianActor(nn.Module):
    """pi_phi(a|s): u ~ N(mu_phi(s), sigma_phi(s)^2), a = tanh(u), in [-1, 1]^act_dim."""

    def __init__(self, observation_space: gym.Space, action_dim: int, network: NetworkConfig):
        super().__init__()
        self.features = StateFeatures(observation_space, network)
        self.mlp = MLP(self.features.out_features, network.hidden_sizes, network.activation)
        self.mean = layer_init(nn.Linear(self.mlp.out_features, action_dim), gain=network.policy_init_gain)
        self.log_std = layer_init(nn.Linear(self.mlp.out_features, action_dim), gain=network.policy_init_gain)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log sigma)``, each ``float32[B, act_dim]`` (log sigma clamped to [-20, 2])."""
        x = self.mlp(self.features(obs))
        return self.mean(x), self.log_std(x).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised ``a = tanh(mu + sigma * eps)``, eps ~ N(0, I) (eq. 8), and
        ``log pi(a|s)`` with the tanh correction (eq. 21): ``([B, act_dim], [B])``."""
        mean, log_std = self(obs)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        gaussian_log_prob = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|
        log_det_jacobian = (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(1)
        return torch.tanh(u), gaussian_log_prob - log_det_jacobian

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The mode's image tanh(mu(s)) (evaluation)."""
        return torch.tanh(self(obs)[0])


class DiscreteQNetwork(nn.Module):
    """Q(s, .; theta) for every action: ``float32[B, n_actions]``."""

    def __init__(self, observation_space: gym.Space, n_actions: int, network: NetworkConfig):
        super().__init__()
        self.features = StateFeatures(observation_space, network)
        self.mlp = MLP(self.features.out_features, network.hidden_sizes, network.activation)
        self.head = layer_init(nn.Linear(self.mlp.out_features, n_actions), gain=network.value_init_gain)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(self.features(obs)))


class CategoricalActor(nn.Module):
    """pi_phi(.|s) = softmax(logits_phi(s)) over the ``n_actions`` actions."""

    def __init__(self, observation_space: gym.Space, n_actions: int, network: NetworkConfig):
        super().__init__()
        self.features = StateFeatures(observation_space, network)
        self.mlp = MLP(self.features.out_features, network.hidden_sizes, network.activation)
        self.logits = layer_init(nn.Linear(self.mlp.out_features, n_actions), gain=network.policy_init_gain)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pi(.|s), log pi(.|s))``, each ``float32[B, n_actions]``."""
        log_probs = F.log_softmax(self.logits(self.mlp(self.features(obs))), dim=1)
        return log_probs.exp(), log_probs


class Temperature(nn.Module):
    """alpha = exp(log alpha): learned in log space, so it stays positive."""

    def __init__(self, initial: float):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(initial)))

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()


class BoxActions:
    """Between the networks' [-1, 1] and a Box env's ``[low, high]`` (affine, per dimension)."""

    def __init__(self, space: gym.spaces.Box, device: torch.device):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ConfigError(
                f"config key 'env.id': SAC and TD3 need bounded Box actions, got {space}; "
                "give the env finite action bounds"
            )
        self.shape = tuple(space.shape)
        self.dim = int(np.prod(space.shape))
        self.low = torch.as_tensor(space.low, dtype=torch.float32, device=device).reshape(-1)
        self.high = torch.as_tensor(space.high, dtype=torch.float32, device=device).reshape(-1)

    def to_env(self, unit: torch.Tensor) -> np.ndarray:
        """``[B, act_dim]`` in [-1, 1] -> env actions ``[B, *shape]`` (numpy)."""
        env = self.low + (unit.clamp(-1.0, 1.0) + 1.0) * 0.5 * (self.high - self.low)
        return env.reshape(-1, *self.shape).cpu().numpy()

    def to_unit(self, env: torch.Tensor) -> torch.Tensor:
        """Env actions ``[B, *shape]`` (the replay buffer's) -> ``[B, act_dim]`` in [-1, 1]."""
        return 2.0 * (env.reshape(len(env), -1).float() - self.low) / (self.high - self.low) - 1.0


def gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_grad_norm: float) -> None:
    """zero_grad, backward, optional global-norm clipping of the optimiser's parameters, step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], max_grad_norm)
    optimizer.step()


# ------------------------------------------------------------------- agents


class SoftActorCriticModules:
    """SAC's modules and the hooks over them, for any loop (the off-policy one here,
    the offline one in ``agents/cql.py``): twin critics with targets (``critic``,
    ``critic_target``), an ``actor``, a learned ``temperature``, one Adam each."""

    critic: nn.Module
    critic_target: nn.Module
    actor: nn.Module
    temperature: Temperature
    target_entropy: float

    def build_optimizers(self, lr: float, eps: float, actor_lr: float | None = None) -> None:
        """One Adam each (step size ``lr``, epsilon ``eps``); the actor's and temperature's
        step size is ``actor_lr`` when given."""
        actor_lr = actor_lr or lr
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, eps=eps)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=actor_lr, eps=eps)
        self.alpha_optimizer = torch.optim.Adam(self.temperature.parameters(), lr=actor_lr, eps=eps)

    def networks(self) -> dict[str, nn.Module]:
        return {
            "critic": self.critic,
            "critic_target": self.critic_target,
            "actor": self.actor,
            "temperature": self.temperature,
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.critic_optimizer, "actor": self.actor_optimizer, "temperature": self.alpha_optimizer}

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.critic, self.critic_target)]

    def progress_scalars(self) -> dict[str, float]:
        return {"alpha": self.temperature.alpha.item(), "target_entropy": self.target_entropy}

    def squashed_policy_step(
        self, obs: torch.Tensor, alpha: torch.Tensor, max_grad_norm: float, autotune: bool
    ) -> dict[str, torch.Tensor]:
        """The tanh-Gaussian actor's step (eq. 7 with the reparameterised a~ of eq. 9) and the
        temperature's (eq. 18); returns their diagnostics."""
        # policy: E[alpha log pi(a~|s) - min_j Q_j(s, a~)]
        new_actions, log_prob = self.actor.sample(obs)
        actor_loss = (alpha * log_prob - torch.min(*self.critic(obs, new_actions))).mean()
        gradient_step(self.actor_optimizer, actor_loss, max_grad_norm)
        # a one-sample estimate of H(pi(.|s)) per state
        stats = {"actor_loss": actor_loss.detach(), "entropy": -log_prob.detach().mean()}
        # temperature: J(alpha) = E[-alpha (log pi(a~|s) + H_bar)]
        if autotune:
            alpha_loss = -(self.temperature.alpha * (log_prob.detach() + self.target_entropy)).mean()
            gradient_step(self.alpha_optimizer, alpha_loss, 0.0)
            stats["alpha_loss"] = alpha_loss.detach()
        return stats


class SoftActorCritic(SoftActorCriticModules, OffPolicyAgent):
    """What SAC and discrete SAC share: SAC's modules and hooks on the off-policy loop.
    Subclasses build the networks and write the losses."""


class SAC(SoftActorCritic):
    """SAC for Box actions: twin soft Q critics, tanh-Gaussian policy, learned temperature."""

    name = "sac"
    Config = SACConfig
    config: SACConfig

    def __init__(self, config: SACConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Box):
            raise ConfigError(
                f"config key 'algo.name': sac needs Box (continuous) actions, this env has "
                f"{self.action_space}; use sac_discrete"
            )
        self.actions = BoxActions(self.action_space, self.device)
        obs_space, dim, net = self.observation_space, self.actions.dim, config.network
        # Q_theta_1, Q_theta_2 and their targets; pi_phi; alpha
        self.critic = TwinQNetwork(ContinuousQNetwork, obs_space, dim, net).to(self.device)
        self.critic_target = make_target(self.critic)
        self.actor = SquashedGaussianActor(obs_space, dim, net).to(self.device)
        self.temperature = Temperature(config.init_alpha).to(self.device)
        self.target_entropy = config.target_entropy if config.target_entropy is not None else -float(dim)
        """H_bar: -|A| unless set"""
        self.build_optimizers(config.learning_rate, config.adam_eps)

    def exploration_action(self, obs: torch.Tensor) -> np.ndarray:
        """a ~ pi_phi(.|s): SAC explores with its own stochastic policy."""
        return self.actions.to_env(self.actor.sample(obs)[0])

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        unit = self.actor.deterministic(obs) if deterministic else self.actor.sample(obs)[0]
        return self.actions.to_env(unit)

    def train_step(self, batch: ReplayBufferSamples) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        alpha = self.temperature.alpha.detach()
        obs, actions = batch.observations, self.actions.to_unit(batch.actions)

        # critics (eq. 5): y = R + (1 - d) gamma^m [min_j Q_target_j(s', a') - alpha log pi(a'|s')], a' ~ pi(.|s')
        with torch.no_grad():
            next_actions, next_log_prob = self.actor.sample(batch.next_observations)
            next_q1, next_q2 = self.critic_target(batch.next_observations, next_actions)
            next_value = torch.min(next_q1, next_q2) - alpha * next_log_prob  # soft V(s'), eq. 3
            targets = batch.rewards + (1.0 - batch.terminated) * batch.discounts * next_value
        q1, q2 = self.critic(obs, actions)
        critic_loss = 0.5 * (batch.weights * ((q1 - targets) ** 2 + (q2 - targets) ** 2)).mean()
        gradient_step(self.critic_optimizer, critic_loss, cfg.max_grad_norm)

        # policy (eq. 7) and temperature (eq. 18)
        stats = {"critic_loss": critic_loss.detach(), "q_values": q1.detach().mean(), "alpha": alpha}
        stats.update(self.squashed_policy_step(obs, alpha, cfg.max_grad_norm, cfg.autotune))

        self.update_priorities(batch, 0.5 * ((q1 - targets).abs() + (q2 - targets).abs()).detach())
        return stats

    # ------------------------------------------------------------- diagnostics

    @torch.no_grad()
    def policy_entropy(self, obs: np.ndarray | torch.Tensor, samples: int = 64) -> float:
        """Monte Carlo estimate of the mean entropy ``E_s[-E_a log pi(a|s)]`` over the
        observations ``obs[B, ...]`` (``samples`` actions per observation), in nats."""
        obs_t = self.obs_tensor(np.asarray(obs))
        repeated = obs_t.repeat_interleave(samples, dim=0)
        return float(-self.actor.sample(repeated)[1].mean())


class SACDiscrete(SoftActorCritic):
    """SAC for Discrete actions (Christodoulou 2019): categorical policy, twin Q(s, .) critics,
    expectations over actions computed exactly."""

    name = "sac_discrete"
    Config = SACDiscreteConfig
    config: SACDiscreteConfig

    def __init__(self, config: SACDiscreteConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise ConfigError(
                f"config key 'algo.name': sac_discrete needs Discrete actions, this env has "
                f"{self.action_space}; use sac"
            )
        self.n_actions = n = int(self.action_space.n)
        self.first_action = int(self.action_space.start)
        """the env's first action index (Discrete(n, start)); the networks count from 0"""
        obs_space, net = self.observation_space, config.network
        self.critic = TwinQNetwork(DiscreteQNetwork, obs_space, n, net).to(self.device)
        self.critic_target = make_target(self.critic)
        self.actor = CategoricalActor(obs_space, n, net).to(self.device)
        self.temperature = Temperature(config.init_alpha).to(self.device)
        self.target_entropy = (
            config.target_entropy if config.target_entropy is not None else config.target_entropy_scale * math.log(n)
        )
        """H_bar: target_entropy_scale * log |A| unless set"""
        self.build_optimizers(config.learning_rate, config.adam_eps)

    def exploration_action(self, obs: torch.Tensor) -> np.ndarray:
        """a ~ pi_phi(.|s)."""
        probs, _ = self.actor(obs)
        return torch.multinomial(probs, 1).squeeze(1).cpu().numpy() + self.first_action

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        if not deterministic:
            return self.exploration_action(obs)
        return self.actor(obs)[0].argmax(dim=1).cpu().numpy() + self.first_action

    def train_step(self, batch: ReplayBufferSamples) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        alpha = self.temperature.alpha.detach()
        obs = batch.observations
        actions = (batch.actions.long() - self.first_action).unsqueeze(1)

        # critics: y = R + (1 - d) gamma^m V(s'), V(s') = pi(.|s')^T [min_j Q_target_j(s', .) - alpha log pi(.|s')]
        with torch.no_grad():
            next_probs, next_log_probs = self.actor(batch.next_observations)
            next_q1, next_q2 = self.critic_target(batch.next_observations)
            next_value = (next_probs * (torch.min(next_q1, next_q2) - alpha * next_log_probs)).sum(1)
            targets = batch.rewards + (1.0 - batch.terminated) * batch.discounts * next_value
        q1_all, q2_all = self.critic(obs)
        q1, q2 = q1_all.gather(1, actions).squeeze(1), q2_all.gather(1, actions).squeeze(1)
        critic_loss = 0.5 * (batch.weights * ((q1 - targets) ** 2 + (q2 - targets) ** 2)).mean()
        gradient_step(self.critic_optimizer, critic_loss, cfg.max_grad_norm)

        # policy: J_pi = E_s[pi(.|s)^T (alpha log pi(.|s) - min_j Q_j(s, .))] (exact over actions)
        probs, log_probs = self.actor(obs)
        with torch.no_grad():
            q1_all, q2_all = self.critic(obs)
            min_q = torch.min(q1_all, q2_all)
        actor_loss = (probs * (alpha * log_probs - min_q)).sum(1).mean()
        gradient_step(self.actor_optimizer, actor_loss, cfg.max_grad_norm)

        # temperature: J(alpha) = E_s[pi(.|s)^T (-alpha (log pi(.|s) + H_bar))] = E_s[alpha (H(pi(.|s)) - H_bar)]
        entropy = -(probs * log_probs).sum(1).detach()  # exact H(pi(.|s)), [B]
        stats = {
            "critic_loss": critic_loss.detach(),
            "actor_loss": actor_loss.detach(),
            "q_values": q1.detach().mean(),
            "entropy": entropy.mean(),
            "alpha": alpha,
        }
        if cfg.autotune:
            alpha_loss = (self.temperature.alpha * (entropy - self.target_entropy)).mean()
            gradient_step(self.alpha_optimizer, alpha_loss, 0.0)
            stats["alpha_loss"] = alpha_loss.detach()

        self.update_priorities(batch, 0.5 * ((q1 - targets).abs() + (q2 - targets).abs()).detach())
        return stats

    # ------------------------------------------------------------- diagnostics

    @torch.no_grad()
    def q_values(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """min_j Q_theta_j(s, .) for a batch of observations: ``float32[B, n_actions]``."""
        q1, q2 = self.critic(self.obs_tensor(np.asarray(obs)))
        return torch.min(q1, q2).cpu().numpy()

    @torch.no_grad()
    def values(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Soft state values V(s) = pi(.|s)^T [min_j Q_j(s, .) - alpha log pi(.|s)]: ``float32[B]``."""
        obs_t = self.obs_tensor(np.asarray(obs))
        probs, log_probs = self.actor(obs_t)
        q1, q2 = self.critic(obs_t)
        return (probs * (torch.min(q1, q2) - self.temperature.alpha * log_probs)).sum(1).cpu().numpy()

    @torch.no_grad()
    def policy_entropy(self, obs: np.ndarray | torch.Tensor) -> float:
        """Mean exact entropy of pi(.|s) over the observations ``obs[B, ...]``, in nats."""
        probs, log_probs = self.actor(self.obs_tensor(np.asarray(obs)))
        return float(-(probs * log_probs).sum(1).mean())
