"""Implicit Q-Learning (Kostrikov, Nair and Levine 2021, "Offline Reinforcement
Learning with Implicit Q-Learning", ICLR 2022), from scratch: offline RL that never
evaluates the Q-function on an action outside the dataset. A state value V(s) is
fitted as an upper expectile of Q(s, a) over the data's actions (an in-sample
approximation of max_a Q), the Q-function is regressed toward r + gamma V(s'),
and the policy is extracted by advantage-weighted regression on the data's actions.

Algorithm 1, one gradient step on a minibatch (s, a, r, s', d) of the dataset D::

    value   (eq. 5):  L_V(psi)   = E_D[ L_2^tau( min_j Q_hat_j(s, a) - V_psi(s) ) ],
                      L_2^tau(u) = |tau - 1(u < 0)| u^2          (tau = expectile)
    critics (eq. 6):  L_Q(theta_j) = E_D[ (r + gamma (1 - d) V_psi(s') - Q_theta_j(s, a))^2 ]
    targets:          theta_hat_j <- tau_polyak theta_j + (1 - tau_polyak) theta_hat_j
    policy  (eq. 7):  L_pi(phi) = -E_D[ min(exp(beta (min_j Q_hat_j(s, a) - V_psi(s))), max_weight)
                                         log pi_phi(a|s) ]        (beta = temperature)

With ``temperature: 0`` every weight is 1 and the policy loss is behaviour
cloning's -E_D[log pi(a|s)] on the same network (the baseline
tests/test_offline_rl.py holds IQL against); ``expectile: 0.5`` makes V the mean
of Q over the data's actions (SARSA-like evaluation of the behaviour policy).

Both action spaces, with SAC's networks and names (``agents/sac.py``), so
``algo.init_from`` of ``sac`` / ``sac_discrete`` fine-tunes an IQL run online:

- Discrete: twin Q(s, .) critics, a categorical policy; ``act`` takes its argmax.
- Box: twin Q(s, a) critics, a tanh-squashed Gaussian policy whose log-density of a
  dataset action is taken at ``atanh(a)``, with actions clamped to
  ``[-1 + action_clip, 1 - action_clip]`` (in the networks' [-1, 1] scale) so actions
  on the bounds keep a finite density; ``act`` is ``tanh(mean)``. Deviation from the
  paper, whose Gaussian is not squashed (its mean is tanh-ed, its log-std is
  state-independent) and whose actor learning rate follows a cosine schedule.

Training never steps the env: ``agents/offline/`` samples minibatches from the
recorded dataset ``algo.data``; ``train.total_timesteps`` counts gradient steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from craftlab.agents.networks import MLP, NetworkConfig, layer_init
from craftlab.agents.off_policy import make_target
from craftlab.agents.offline import OfflineAgent, OfflineBatch, OfflineConfig
from craftlab.agents.sac import (
    BoxActions,
    CategoricalActor,
    ContinuousQNetwork,
    DiscreteQNetwork,
    SquashedGaussianActor,
    StateFeatures,
    TwinQNetwork,
    gradient_step,
)
from craftlab.core.config import ConfigError, require


@dataclass
class IQLConfig(OfflineConfig):
    """IQL's settings (defaults: the paper's locomotion settings, Appendix B)."""

    expectile: float = 0.7
    """tau of the expectile loss: V(s) is the tau-expectile of Q(s, a) over the data's actions
    (0.5: the mean, behaviour-policy evaluation; toward 1: toward max_a Q)"""
    temperature: float = 3.0
    """beta: inverse temperature of the advantage weights exp(beta (Q - V)); 0 is behaviour cloning"""
    max_weight: float = 100.0
    """clip each advantage weight at this (the paper's code: 100)"""
    action_clip: float = 1e-4
    """Box actions: dataset actions are clamped to [-1 + action_clip, 1 - action_clip] (network
    scale) before the policy's log-density, so bound actions have a finite one"""

    def validate(self) -> None:
        super().validate()
        require(0.0 < self.expectile < 1.0, "expectile", "must be in (0, 1)")
        require(self.temperature >= 0, "temperature", "must be >= 0 (0: behaviour cloning)")
        require(self.max_weight > 0, "max_weight", "must be > 0")
        require(0.0 < self.action_clip < 1.0, "action_clip", "must be in (0, 1)")


class ValueNetwork(nn.Module):
    """V_psi(s): an MLP (after the CNN encoder for images) to one output, ``float32[B]``."""

    def __init__(self, observation_space: gym.Space, network: NetworkConfig):
        super().__init__()
        self.features = StateFeatures(observation_space, network)
        self.mlp = MLP(self.features.out_features, network.hidden_sizes, network.activation)
        self.head = layer_init(nn.Linear(self.mlp.out_features, 1), gain=network.value_init_gain)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(self.features(obs))).squeeze(1)


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """L_2^tau(u) = |tau - 1(u < 0)| u^2 averaged over the batch (eq. 5), ``u = Q - V``."""
    weight = torch.where(diff < 0, 1.0 - expectile, expectile)
    return (weight * diff**2).mean()


class IQL(OfflineAgent):
    """Implicit Q-learning for Discrete and Box actions (see the module doc)."""

    name = "iql"
    Config = IQLConfig
    config: IQLConfig

    def __init__(self, config: IQLConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        obs_space, net = self.observation_space, config.network
        space = self.action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        if isinstance(space, gym.spaces.Discrete):
            n = int(space.n)
            self.action_start = int(space.start)
            self.critic: nn.Module = TwinQNetwork(DiscreteQNetwork, obs_space, n, net)
            self.actor: nn.Module = CategoricalActor(obs_space, n, net)
        elif isinstance(space, gym.spaces.Box):
            self.box = BoxActions(space, self.device)
            self.critic = TwinQNetwork(ContinuousQNetwork, obs_space, self.box.dim, net)
            self.actor = SquashedGaussianActor(obs_space, self.box.dim, net)
        else:
            raise ConfigError(
                f"config key 'algo.name': iql needs Discrete or Box actions, this env has {self.action_space}"
            )
        self.critic.to(self.device)
        self.actor.to(self.device)
        self.critic_target = make_target(self.critic)
        self.value = ValueNetwork(obs_space, net).to(self.device)
        lr, eps = config.learning_rate, config.adam_eps
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, eps=eps)
        self.value_optimizer = torch.optim.Adam(self.value.parameters(), lr=lr, eps=eps)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr, eps=eps)

    # ------------------------------------------------------- the offline hooks

    def networks(self) -> dict[str, nn.Module]:
        return {"critic": self.critic, "critic_target": self.critic_target, "value": self.value, "actor": self.actor}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.critic_optimizer, "value": self.value_optimizer, "actor": self.actor_optimizer}

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.critic, self.critic_target)]

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        if self.discrete:
            probs, _ = self.actor(obs)
            index = probs.argmax(dim=1) if deterministic else torch.multinomial(probs, 1).squeeze(1)
            return index.cpu().numpy() + self.action_start
        actor = self.actor
        assert isinstance(actor, SquashedGaussianActor)
        unit = actor.deterministic(obs) if deterministic else actor.sample(obs)[0]
        return self.box.to_env(unit)

    # ----------------------------------------------- the data's actions, both spaces

    def network_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Dataset actions as the networks take them: indices from 0 ``int64[B]`` (Discrete),
        or ``[B, d]`` in [-1, 1] (Box)."""
        return actions - self.action_start if self.discrete else self.box.to_unit(actions)

    def q_data(self, critic: nn.Module, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q_1(s, a), Q_2(s, a)) of ``critic`` at the data's actions, ``[B]`` each."""
        if self.discrete:
            q1_all, q2_all = critic(obs)
            index = actions.unsqueeze(1)
            return q1_all.gather(1, index).squeeze(1), q2_all.gather(1, index).squeeze(1)
        return critic(obs, actions)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi_phi(a|s) of the data's actions, ``[B]``."""
        if self.discrete:
            _, log_probs = self.actor(obs)
            return log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)
        # a = tanh(u), u ~ N(mu, sigma): log pi(a|s) = log N(atanh(a); mu, sigma) - sum_i log(1 - a_i^2)
        clip = self.config.action_clip
        a = actions.clamp(-1.0 + clip, 1.0 - clip)
        u = torch.atanh(a)
        mean, log_std = self.actor(obs)
        gaussian = (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)
        return gaussian - torch.log1p(-(a**2)).sum(1)

    # ------------------------------------------------------------ one step

    def train_step(self, batch: OfflineBatch) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        obs = batch.observations
        actions = self.network_actions(batch.actions)
        with torch.no_grad():
            q_target = torch.min(*self.q_data(self.critic_target, obs, actions))  # min_j Q_hat_j(s, a)

        # value (eq. 5): the tau-expectile of Q_hat(s, a) over the data's actions
        value = self.value(obs)
        value_loss = expectile_loss(q_target - value, cfg.expectile)
        gradient_step(self.value_optimizer, value_loss, cfg.max_grad_norm)

        # policy (eq. 7): advantage-weighted regression with the updated V
        with torch.no_grad():
            advantages = q_target - self.value(obs)
            weights = torch.exp(cfg.temperature * advantages).clamp(max=cfg.max_weight)
        actor_loss = -(weights * self.log_prob(obs, actions)).mean()
        gradient_step(self.actor_optimizer, actor_loss, cfg.max_grad_norm)

        # critics (eq. 6): toward r + gamma (1 - d) V(s')
        with torch.no_grad():
            targets = batch.rewards + cfg.gamma * (1.0 - batch.terminated) * self.value(batch.next_observations)
        q1, q2 = self.q_data(self.critic, obs, actions)
        critic_loss = (F.mse_loss(q1, targets) + F.mse_loss(q2, targets)) / 2
        gradient_step(self.critic_optimizer, critic_loss, cfg.max_grad_norm)

        stats: dict[str, Any] = {
            "value_loss": value_loss.detach(),
            "critic_loss": critic_loss.detach(),
            "actor_loss": actor_loss.detach(),
            "q_data": q1.detach().mean(),
            "value": value.detach().mean(),
            "advantage_weight": weights.mean(),
        }
        return stats

    # ------------------------------------------------------------- diagnostics

    @torch.no_grad()
    def values(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """V_psi(s) for a batch of observations: ``float32[B]``."""
        return self.value(self.obs_tensor(np.asarray(obs))).cpu().numpy()
