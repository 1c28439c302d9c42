"""Conservative Q-Learning (Kumar et al. 2020, "Conservative Q-Learning for Offline
Reinforcement Learning", NeurIPS), from scratch: Q-learning on a fixed dataset whose
Q-values are pushed down on actions the data do not support and up on the actions
it holds, so the greedy policy does not chase the over-estimated values of actions
nobody tried.

Two agents, one per action space (so each reads like its half of the paper):

- ``cql`` (Discrete actions): CQL(H) on DQN's Q-network (``agents/dqn.py``'s
  :class:`~craftlab.agents.dqn.QNetwork`), the paper's eq. 4::

      y      = r + gamma (1 - terminated) max_a' Q_hat(s', a')                 (Q_hat: target network)
      L(theta) = 1/2 E_D[(Q(s, a) - y)^2]                                      (Huber by default, as DQN)
               + cql_alpha * E_{s~D}[ log sum_a exp Q(s, a) - E_{a~D}[Q(s, a)] ]

  ``cql_alpha: 0`` leaves the TD loss alone: **naive offline DQN** on the same data
  (the baseline tests/test_offline_rl.py compares against: its Q-values of the data's
  actions climb above any return the data show, CQL's do not).

- ``cql_continuous`` (Box actions): CQL(H) on SAC (``agents/sac.py``: twin critics,
  tanh-Gaussian actor, learned temperature). ``log sum_a exp Q`` becomes
  ``log integral exp Q(s, a) da``, estimated by importance sampling (the paper's
  Appendix F and its code) from ``cql_num_actions`` actions of each of three
  proposals: uniform on [-1, 1]^d (density 2^-d), pi(.|s) and pi(.|s')::

      log integral exp Q(s, a) da ~= logsumexp_i [Q(s, a_i) - log mu(a_i)] - log(3 N)
      J_Q(theta_j) = 1/2 E_D[(Q_j(s, a) - y)^2] + cql_alpha * E_s[log integral exp Q_j(s, a) da - E_{a~D} Q_j(s, a)]
      y = r + gamma (1 - terminated) min_j Q_hat_j(s', a'),  a' ~ pi(.|s')
          (- alpha log pi(a'|s') with backup_entropy, as SAC)
      actor and temperature: SAC's (eqs. 7 and 18).

  Deviations from the paper's continuous setup: a fixed ``cql_alpha`` (the paper's
  Lagrange version, which tunes alpha toward a penalty threshold, is not written); no
  behaviour-cloning warm start of the actor; one learning rate for critics, actor and
  temperature unless ``actor_learning_rate`` is set (the paper: 3e-4 and 1e-4).

Training never steps the env: ``agents/offline/`` samples minibatches from the
recorded dataset ``algo.data``, and ``train.total_timesteps`` counts gradient steps.
To fine-tune online afterwards, start a ``dqn`` (or ``sac``) run with
``algo.init_from: <this run>``: the network names are DQN's (SAC's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Union

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from craftlab.agents.dqn import QNetwork
from craftlab.agents.off_policy import make_target
from craftlab.agents.offline import OfflineAgent, OfflineBatch, OfflineConfig
from craftlab.agents.sac import (
    BoxActions,
    ContinuousQNetwork,
    SoftActorCriticModules,
    SquashedGaussianActor,
    Temperature,
    TwinQNetwork,
    gradient_step,
)
from craftlab.core.config import ConfigError, require

# ------------------------------------------------------------------ discrete CQL(H)


@dataclass
class CQLConfig(OfflineConfig):
    """Discrete CQL's settings (its Q-network, targets and TD loss are DQN's)."""

    cql_alpha: float = 1.0
    """alpha: weight of the conservative penalty E_s[logsumexp_a Q(s, a) - Q(s, a_data)]
    (the paper uses 0.5 to 4 on Atari); 0 is naive offline DQN"""
    learning_rate: float = 1e-4
    """Adam step size"""
    tau: float = 1.0
    """target network update: 1 = DQN's hard copy every target_update_interval gradient steps"""
    target_update_interval: int = 1000
    """C: copy the Q-network into the target network every this many gradient steps"""
    max_grad_norm: float = 10.0
    """clip the Q-network's gradient norm to this (0: no clipping)"""
    dueling: bool = False
    """dueling heads: Q = V(s) + A(s, a) - mean_a A(s, a) (DQN's option)"""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss: 'huber' (DQN's error clipping, delta 1) or 'mse' (the paper's 1/2 squared error)"""

    def validate(self) -> None:
        super().validate()
        require(self.cql_alpha >= 0, "cql_alpha", "must be >= 0 (0: naive offline DQN)")


class CQL(OfflineAgent):
    """Discrete CQL(H): DQN's TD loss plus cql_alpha x the conservative penalty (eq. 4)."""

    name = "cql"
    Config = CQLConfig
    config: CQLConfig

    def __init__(self, config: CQLConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise ConfigError(
                f"config key 'algo.name': cql needs Discrete actions, this env has {self.action_space}; "
                "use cql_continuous"
            )
        self.n_actions = int(self.action_space.n)
        self.action_start = int(self.action_space.start)
        """the env's first action number (Discrete(n, start)); the network counts from 0"""
        # Q(s, .; theta) and the target Q_hat (DQN's network and names, so dqn's init_from reads them)
        self.q_network = QNetwork(self.observation_space, self.n_actions, config.network, config.dueling).to(
            self.device
        )
        self.target_network = make_target(self.q_network)
        self.optimizer = torch.optim.Adam(self.q_network.parameters(), lr=config.learning_rate, eps=config.adam_eps)

    def networks(self) -> dict[str, nn.Module]:
        return {"q_network": self.q_network, "target_network": self.target_network}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.q_network, self.target_network)]

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        """argmax_a Q(s, a) (greedy whether or not ``deterministic``: CQL's policy is the greedy one)."""
        return self.q_network(obs).argmax(dim=1).cpu().numpy() + self.action_start

    def train_step(self, batch: OfflineBatch) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        # y = r + gamma (1 - terminated) max_a' Q_hat(s', a')
        with torch.no_grad():
            next_q = self.target_network(batch.next_observations).max(dim=1).values  # [B]
            targets = batch.rewards + cfg.gamma * (1.0 - batch.terminated) * next_q

        q_all = self.q_network(batch.observations)  # Q(s, .), [B, A]
        actions = (batch.actions - self.action_start).unsqueeze(1)
        q_data = q_all.gather(1, actions).squeeze(1)  # Q(s, a_data), [B]
        if cfg.loss == "huber":
            td_loss = F.huber_loss(q_data, targets, delta=1.0)
        else:
            td_loss = 0.5 * F.mse_loss(q_data, targets)
        # the CQL(H) penalty (eq. 4): E_s[log sum_a exp Q(s, a)] - E_{(s, a)~D}[Q(s, a)]
        cql_penalty = (torch.logsumexp(q_all, dim=1) - q_data).mean()
        loss = td_loss + cfg.cql_alpha * cql_penalty

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return {
            "td_loss": td_loss.detach(),
            "cql_penalty": cql_penalty.detach(),
            "q_data": q_data.detach().mean(),
            "q_max": q_all.detach().max(dim=1).values.mean(),
        }

    @torch.no_grad()
    def q_values(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Q(s, .; theta) for a batch of observations: ``float32[B, n_actions]`` (diagnostics, tests)."""
        return self.q_network(self.obs_tensor(np.asarray(obs))).cpu().numpy()


# ---------------------------------------------------------------- continuous CQL(H)


@dataclass
class CQLContinuousConfig(OfflineConfig):
    """Continuous CQL's settings (SAC underneath: twin critics, tanh-Gaussian actor, temperature)."""

    cql_alpha: float = 5.0
    """alpha: weight of the conservative penalty (the paper's code: 5 on D4RL locomotion); 0 is
    offline SAC"""
    cql_num_actions: int = 10
    """N: actions sampled from each of the three proposals (uniform, pi(.|s), pi(.|s')) per state"""
    backup_entropy: bool = False
    """subtract alpha log pi(a'|s') in the TD target, as SAC does (the paper's code: off)"""
    actor_learning_rate: Union[float, None] = None
    """Adam step size of the actor and the temperature; null: learning_rate (the paper: 1e-4)"""
    autotune: bool = True
    """learn SAC's temperature toward target_entropy; false: fixed at init_alpha"""
    init_alpha: float = 1.0
    """SAC's temperature at the start"""
    target_entropy: Union[float, None] = None
    """H_bar in nats; null: -|A|"""

    def validate(self) -> None:
        super().validate()
        require(self.cql_alpha >= 0, "cql_alpha", "must be >= 0 (0: offline SAC)")
        require(self.cql_num_actions >= 1, "cql_num_actions", "must be >= 1")
        require(self.init_alpha > 0, "init_alpha", "must be > 0")
        require(self.actor_learning_rate is None or self.actor_learning_rate > 0, "actor_learning_rate", "must be > 0")


class CQLContinuous(SoftActorCriticModules, OfflineAgent):
    """CQL(H) on SAC for Box actions (see the module doc)."""

    name = "cql_continuous"
    Config = CQLContinuousConfig
    config: CQLContinuousConfig
    actor: SquashedGaussianActor

    def __init__(self, config: CQLContinuousConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Box):
            raise ConfigError(
                f"config key 'algo.name': cql_continuous needs Box (continuous) actions, this env has "
                f"{self.action_space}; use cql"
            )
        self.actions = BoxActions(self.action_space, self.device)
        """between the networks' [-1, 1] and the env's [low, high]"""
        obs_space, dim, net = self.observation_space, self.actions.dim, config.network
        # SAC's networks and names (so sac's init_from reads them)
        self.critic = TwinQNetwork(ContinuousQNetwork, obs_space, dim, net).to(self.device)
        self.critic_target = make_target(self.critic)
        self.actor = SquashedGaussianActor(obs_space, dim, net).to(self.device)
        self.temperature = Temperature(config.init_alpha).to(self.device)
        self.target_entropy = float(config.target_entropy if config.target_entropy is not None else -dim)
        self.build_optimizers(config.learning_rate, config.adam_eps, config.actor_learning_rate)

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        unit = self.actor.deterministic(obs) if deterministic else self.actor.sample(obs)[0]
        return self.actions.to_env(unit)

    def log_integral_exp_q(self, obs: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log integral exp Q_j(s, a) da`` for both critics, ``([B], [B])``, by importance
        sampling N actions from each of Uniform[-1, 1]^d, pi(.|s) and pi(.|s') (sampled
        actions and their log-densities carry no gradient; the Q-values do)."""
        n, b, dim = self.config.cql_num_actions, len(obs), self.actions.dim
        repeated = obs.repeat_interleave(n, dim=0)  # [B N, ...]: each state N times
        with torch.no_grad():
            random_actions = torch.rand(b * n, dim, device=self.device) * 2.0 - 1.0
            random_log_density = torch.full((b * n,), -dim * math.log(2.0), device=self.device)
            pi_actions, pi_log_prob = self.actor.sample(repeated)
            next_pi_actions, next_pi_log_prob = self.actor.sample(next_obs.repeat_interleave(n, dim=0))
            sampled = torch.cat([random_actions, pi_actions, next_pi_actions])  # [3 B N, d]
            log_density = torch.cat([random_log_density, pi_log_prob, next_pi_log_prob])  # log mu(a_i)
        q1, q2 = self.critic(torch.cat([repeated] * 3), sampled)  # Q_j(s, a_i), [3 B N]

        def estimate(q: torch.Tensor) -> torch.Tensor:  # [3 B N] -> [B, 3 N] -> [B]
            weighted = (q - log_density).view(3, b, n).permute(1, 0, 2).reshape(b, 3 * n)
            return torch.logsumexp(weighted, dim=1) - math.log(3 * n)

        return estimate(q1), estimate(q2)

    def train_step(self, batch: OfflineBatch) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        alpha = self.temperature.alpha.detach()
        obs, next_obs = batch.observations, batch.next_observations
        actions = self.actions.to_unit(batch.actions)

        # critics: y = r + gamma (1 - d) [min_j Q_hat_j(s', a') (- alpha log pi(a'|s'))], a' ~ pi(.|s')
        with torch.no_grad():
            next_actions, next_log_prob = self.actor.sample(next_obs)
            next_value = torch.min(*self.critic_target(next_obs, next_actions))
            if cfg.backup_entropy:
                next_value = next_value - alpha * next_log_prob
            targets = batch.rewards + cfg.gamma * (1.0 - batch.terminated) * next_value
        q1, q2 = self.critic(obs, actions)  # Q_j(s, a_data)
        td_loss = 0.5 * ((q1 - targets) ** 2 + (q2 - targets) ** 2).mean()
        # the CQL(H) penalty: E_s[log integral exp Q_j(s, a) da] - E_D[Q_j(s, a)], for each critic
        log_integral1, log_integral2 = self.log_integral_exp_q(obs, next_obs)
        cql_penalty = (log_integral1 - q1).mean() + (log_integral2 - q2).mean()
        critic_loss = td_loss + cfg.cql_alpha * cql_penalty
        gradient_step(self.critic_optimizer, critic_loss, cfg.max_grad_norm)

        # actor (SAC, eq. 7) and temperature (SAC, eq. 18)
        stats: dict[str, Any] = {
            "td_loss": td_loss.detach(),
            "cql_penalty": cql_penalty.detach(),
            "q_data": q1.detach().mean(),
        }
        stats.update(self.squashed_policy_step(obs, alpha, cfg.max_grad_norm, cfg.autotune))
        return stats

    @torch.no_grad()
    def q_values(self, obs: np.ndarray | torch.Tensor, actions: np.ndarray | torch.Tensor) -> np.ndarray:
        """min_j Q_j(s, a) for env-scale ``actions``: ``float32[B]`` (diagnostics, tests)."""
        unit = self.actions.to_unit(torch.as_tensor(np.asarray(actions), device=self.device))
        return torch.min(*self.critic(self.obs_tensor(np.asarray(obs)), unit)).cpu().numpy()
