"""Advantage actor-critic, synchronous (A2C: the synchronous variant of Mnih et al.
2016's A3C, as in OpenAI Baselines and Stable-Baselines3), from scratch.
CS285 lecture 6; Spinning Up calls the family "actor-critic".

Every ``num_steps`` steps of ``num_envs`` parallel envs (vectorised, in lockstep)::

    R_t = sum_{k=0}^{n-1} gamma^k r_{t+k} + gamma^n V(s_{t+n})   n-step return
          (= GAE with lambda = 1 cut at the rollout's end; gae_lambda < 1 gives GAE)
    A_t = R_t - V(s_t)                                           advantage estimate
    L   = - mean_t log pi(a_t|s_t) A_t                           actor (policy gradient)
          + c_v * mean_t (V(s_t) - R_t)^2                        critic (regression; value_loss:
                                                                 half_squared adds a factor 1/2)
          - c_e * mean_t H(pi(.|s_t))                            entropy bonus
    one gradient step on L (RMSprop, as in the paper; Adam optional)

Rollout collection, bootstrapping and GAE are shared (``agents/on_policy/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from craftlab.agents.on_policy import OnPolicyAgent, OnPolicyConfig, RolloutBuffer, explained_variance
from craftlab.core.config import require


@dataclass
class A2CConfig(OnPolicyConfig):
    """A2C's settings (defaults: Stable-Baselines3's A2C)."""

    num_steps: int = 5
    """n: steps per env between updates (batch = num_steps x num_envs)"""
    learning_rate: float = 7e-4
    """optimiser step size"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the run"""
    gae_lambda: float = 1.0
    """1: plain n-step returns; < 1: GAE(lambda) advantages"""
    ent_coef: float = 0.0
    """weight of the entropy bonus"""
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    """'rmsprop' (A3C paper, SB3) or 'adam' (eps: adam_eps)"""
    rmsprop_alpha: float = 0.99
    """RMSprop smoothing constant"""
    rmsprop_eps: float = 1e-5
    """RMSprop epsilon"""
    norm_adv: bool = False
    """normalise advantages to mean 0, std 1 over the batch"""
    value_loss: Literal["half_squared", "mse"] = "mse"
    """value loss per sample: 'mse' (V - R)^2 (SB3's A2C, F.mse_loss) or 'half_squared' 1/2 (V - R)^2"""

    def validate(self) -> None:
        super().validate()
        require(0.0 < self.rmsprop_alpha < 1.0, "rmsprop_alpha", "must be in (0, 1)")


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic: one gradient step per rollout."""

    name = "a2c"
    Config = A2CConfig
    config: A2CConfig

    def build_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        if cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(
                self.policy.parameters(), lr=cfg.learning_rate, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps
            )
        return super().build_optimizer()

    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.config
        batch = next(buffer.minibatches(1, self.np_rng, by_env=self.policy.recurrent))  # the whole batch
        self.observe_returns(batch.returns)  # norm_value: one update per rollout either way
        out = self.policy.evaluate_actions(batch.observations, batch.actions, batch.lstm_states, batch.episode_starts)
        advantages = batch.advantages  # A_t = R_t - V(s_t), fixed (no gradient)
        if cfg.norm_adv and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        policy_loss = -(out["log_prob"] * advantages).mean()
        norm = self.policy.normalize_value
        value_loss = self.value_loss_scale * ((norm(out["value"]) - norm(batch.returns)) ** 2).mean()
        entropy = out["entropy"].mean()
        loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "explained_variance": explained_variance(buffer.values.flatten(), buffer.returns.flatten()),
        }
