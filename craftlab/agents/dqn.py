"""Deep Q-Network (Mnih et al. 2015, "Human-level control through deep
reinforcement learning", Algorithm 1), from scratch, with the extensions that
Rainbow (Hessel et al. 2018) combines as options.

Acting, the replay buffer and the loop are shared with every off-policy agent
(``agents/off_policy/``); this file is Algorithm 1's network, exploration and
gradient step, read beside the paper::

    initialise replay memory D, Q(s, a; theta), target Q_hat with theta^- = theta
    for each step t:
        a_t = random action with probability epsilon_t, else argmax_a Q(s_t, a; theta)
        execute a_t, observe r_t, s_{t+1}; store (s_t, a_t, r_t, s_{t+1}) in D
        sample a minibatch (s_j, a_j, r_j, s_{j+1}) from D
        y_j = r_j                                          if the episode terminates at j+1
            = r_j + gamma max_a' Q_hat(s_{j+1}, a'; theta^-)   otherwise
        gradient descent step on (y_j - Q(s_j, a_j; theta))^2   (error clipped: Huber loss)
        every C steps: theta^- <- theta

Options (``algo:`` keys):

- ``double_q``: Double DQN (van Hasselt et al. 2016, eq. 4): the online network
  picks the next action, the target network values it,
  ``y = r + gamma Q_hat(s', argmax_a' Q(s', a'; theta); theta^-)``,
  which removes most of the max operator's overestimation bias.
- ``dueling``: Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a') (Wang et al. 2016, eq. 9).
- ``n_step``: y = sum_{k<n} gamma^k r_{j+k} + gamma^n max_a' Q_hat(s_{j+n}, a')
  (Sutton 1988; Rainbow uses n = 3); stops at episode ends (``off_policy/replay_buffer.py``).
- ``prioritized_replay``: sample by |TD error|, weight the loss by importance-sampling
  weights (Schaul et al. 2016).
- ``tau`` < 1 with ``target_update_interval`` 1: Polyak-averaged targets instead of copies.
- ``exploration_*``: epsilon decays linearly from ``exploration_initial_eps`` to
  ``exploration_final_eps`` over ``exploration_fraction`` of the run.

With terminated vs truncated episodes kept apart (Pardo et al. 2018): y is
bootstrapped at a time-limit cut, from the true last observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from craftlab.agents.networks import NetworkConfig, build_encoder, layer_init
from craftlab.agents.off_policy import OffPolicyAgent, OffPolicyConfig, ReplayBufferSamples, make_target
from craftlab.core.config import require


@dataclass
class DQNConfig(OffPolicyConfig):
    """DQN's settings (defaults: Stable-Baselines3's DQN, i.e. the Nature DQN's
    schedule with a shorter warm-up; configs/levine/dqn_*.yaml set them per task)."""

    batch_size: int = 32
    """transitions per gradient step"""
    learning_rate: float = 1e-4
    """Adam step size"""
    tau: float = 1.0
    """target network update: theta^- <- tau theta + (1 - tau) theta^- (1 = the Nature DQN's copy)"""
    target_update_interval: int = 2500
    """C: update the target network every this many gradient steps (2500 x train_freq 4 =
    SB3's 10,000 env steps)"""
    train_freq: int = 4
    """one round of gradient steps every this many vector-env steps (Nature DQN: 4)"""
    exploration_initial_eps: float = 1.0
    """epsilon at the start of the run"""
    exploration_final_eps: float = 0.05
    """epsilon after exploration_fraction of the run (and for act(deterministic=False) after training)"""
    exploration_fraction: float = 0.1
    """fraction of the run over which epsilon decays linearly"""
    double_q: bool = False
    """Double DQN: the online network selects the next action, the target network evaluates it"""
    dueling: bool = False
    """dueling heads: Q = V(s) + A(s, a) - mean_a A(s, a)"""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss: 'huber' (the Nature DQN's error clipping, delta 1) or 'mse'"""
    network: NetworkConfig = field(default_factory=lambda: NetworkConfig(activation="relu"))
    """the observation encoder (agents.networks); SB3's DQN default: an MLP [64, 64] with ReLU"""

    def validate(self) -> None:
        super().validate()
        for key in ("exploration_initial_eps", "exploration_final_eps"):
            require(0.0 <= getattr(self, key) <= 1.0, key, "must be in [0, 1]")
        require(0.0 < self.exploration_fraction <= 1.0, "exploration_fraction", "must be in (0, 1]")


class QNetwork(nn.Module):
    """Q(s, .; theta) for every action: an encoder (``network``), then one linear head,
    or with ``dueling`` a value and an advantage head combined as
    ``Q = V + A - mean_a A`` (Wang et al. 2016, eq. 9)."""

    def __init__(self, observation_space: gym.Space, n_actions: int, network: NetworkConfig, dueling: bool):
        super().__init__()
        self.encoder = build_encoder(observation_space, network)
        features = self.encoder.out_features
        self.dueling = dueling
        gain = network.value_init_gain
        if dueling:
            self.value_head = layer_init(nn.Linear(features, 1), gain=gain)
            self.advantage_head = layer_init(nn.Linear(features, n_actions), gain=gain)
        else:
            self.q_head = layer_init(nn.Linear(features, n_actions), gain=gain)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs[B, ...]`` -> Q-values ``float32[B, n_actions]``."""
        x = self.encoder(obs)
        if not self.dueling:
            return self.q_head(x)
        advantages = self.advantage_head(x)
        return self.value_head(x) + advantages - advantages.mean(dim=1, keepdim=True)


class DQN(OffPolicyAgent):
    """DQN with double-Q, dueling, n-step, prioritised replay and Polyak options (Discrete actions)."""

    name = "dqn"
    Config = DQNConfig
    config: DQNConfig

    def __init__(self, config: DQNConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise ValueError(
                f"DQN needs Discrete actions, got {self.action_space}; use a continuous-action "
                "agent (SAC, TD3, PPO) for Box actions"
            )
        self.n_actions = int(self.action_space.n)
        self.action_start = int(self.action_space.start)
        """the first action's number (Gymnasium's Discrete(n, start))"""
        # Q(s, a; theta) and the target Q_hat with theta^- = theta
        self.q_network = QNetwork(self.observation_space, self.n_actions, config.network, config.dueling).to(
            self.device
        )
        self.target_network = make_target(self.q_network)
        self.optimizer = torch.optim.Adam(
            self.q_network.parameters(), lr=config.learning_rate, eps=config.adam_eps, foreach=True
        )

    # ------------------------------------------------------- the off-policy hooks

    def networks(self) -> dict[str, nn.Module]:
        return {"q_network": self.q_network, "target_network": self.target_network}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.q_network, self.target_network)]

    @property
    def epsilon(self) -> float:
        """epsilon_t: linear from initial to final over exploration_fraction of the run."""
        cfg = self.config
        frac = min(1.0, self.training_fraction / cfg.exploration_fraction)
        return cfg.exploration_initial_eps + frac * (cfg.exploration_final_eps - cfg.exploration_initial_eps)

    def progress_scalars(self) -> dict[str, float]:
        return {"epsilon": self.epsilon}

    def epsilon_greedy(self, obs: torch.Tensor, epsilon: float) -> np.ndarray:
        """With probability epsilon a uniformly random action, else argmax_a Q(s, a; theta)."""
        greedy = self.q_network(obs).argmax(dim=1).cpu().numpy()
        if epsilon <= 0.0:  # greedy: leave the RNG alone, so evaluations do not change training
            return greedy + self.action_start
        n = len(greedy)
        explore = self.np_rng.random(n) < epsilon
        random = self.np_rng.integers(0, self.n_actions, size=n)
        return np.where(explore, random, greedy) + self.action_start

    def exploration_action(self, obs: torch.Tensor) -> np.ndarray:
        return self.epsilon_greedy(obs, self.epsilon)

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        return self.epsilon_greedy(obs, 0.0 if deterministic else self.epsilon)

    def train_step(self, batch: ReplayBufferSamples) -> dict[str, float | torch.Tensor]:
        cfg = self.config
        # y_j = R_j + (1 - terminated_j) gamma^m Q_hat(s_{j+m}, a*; theta^-)   (R_j, m: n-step, m <= n)
        with torch.no_grad():
            next_q_target = self.target_network(batch.next_observations)  # [B, A]
            if cfg.double_q:  # a* = argmax_a Q(s', a; theta): online selects, target evaluates
                next_actions = self.q_network(batch.next_observations).argmax(dim=1, keepdim=True)
            else:  # a* = argmax_a Q_hat(s', a; theta^-)
                next_actions = next_q_target.argmax(dim=1, keepdim=True)
            next_q = next_q_target.gather(1, next_actions).squeeze(1)  # [B]
            targets = batch.rewards + (1.0 - batch.terminated) * batch.discounts * next_q

        # Q(s_j, a_j; theta)
        actions = (batch.actions.long() - self.action_start).unsqueeze(1)
        q = self.q_network(batch.observations).gather(1, actions).squeeze(1)  # [B]
        td_errors = targets - q
        # L(theta) = E_j[ w_j loss(y_j - Q(s_j, a_j; theta)) ]  (w_j = 1 without prioritised replay)
        if cfg.loss == "huber":
            elementwise = F.huber_loss(q, targets, reduction="none", delta=1.0)
        else:
            elementwise = 0.5 * td_errors**2
        loss = (batch.weights * elementwise).mean()

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        self.update_priorities(batch, td_errors.detach())
        return {"td_loss": loss.detach(), "q_values": q.detach().mean()}

    @torch.no_grad()
    def q_values(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Q(s, .; theta) for a batch of observations: ``float32[B, n_actions]`` (diagnostics, tests)."""
        return self.q_network(self.obs_tensor(np.asarray(obs))).cpu().numpy()
