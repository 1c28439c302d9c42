"""Vanilla policy gradient / REINFORCE (Williams 1992), with the options of
Berkeley CS285 homework 2 (Levine's lectures 5-6), from scratch. Spinning Up: "VPG".

The policy gradient theorem::

    grad J(theta) = E_tau[ sum_t grad log pi_theta(a_t|s_t) * Psi_t ]

estimated from one batch of N * T samples, with Psi_t one of (CS285 hw2 flags)::

    full trajectory   Psi_t = R(tau) = sum_{t'=0}^{T-1} gamma^t' r_t'          (reward_to_go: false)
    reward-to-go      Psi_t = Q_hat_t = sum_{t'=t}^{T-1} gamma^(t'-t) r_t'      (reward_to_go: true)
    + baseline        Psi_t = Q_hat_t - V_phi(s_t)                             (baseline: true)
    GAE(lambda)       Psi_t = A_t^GAE(gamma, lambda) with V_phi                 (use_gae: true)
    then optionally   Psi <- (Psi - mean) / std over the batch                 (norm_adv: true)

One gradient step on the policy per batch (``policy_steps``), then ``value_steps``
steps of regression of V_phi(s_t) on the reward-to-go Q_hat_t (or, with GAE, on the
lambda-return A_t + V(s_t)).

Batches come from the shared rollout collection (``agents/on_policy/``):
``num_steps`` steps of each of ``num_envs`` envs, so an episode can be cut at the
batch's end. The choice made here: with a learned baseline, a cut episode's
reward-to-go is bootstrapped with gamma * V_phi(s_T) (and time-limit truncations
with V_phi of the final observation); without a baseline there is no V to
bootstrap with and the sum simply stops at the cut (the Monte Carlo return of the
part seen, slightly biased for long episodes: use ``num_steps`` >= the episode
length). For the full-trajectory estimator, the return of an episode segment is
taken from its first step in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from craftlab.agents.on_policy import LSTMState, OnPolicyAgent, OnPolicyConfig, RolloutBuffer, explained_variance, gae
from craftlab.core.config import require


@dataclass
class VPGConfig(OnPolicyConfig):
    """REINFORCE / VPG settings (defaults: reward-to-go + baseline + normalised advantages)."""

    num_steps: int = 500
    """steps per env in each batch (batch = num_steps x num_envs); >= the episode length is best"""
    learning_rate: float = 5e-3
    """Adam step size (CS285 hw2: 5e-3)"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the run"""
    ent_coef: float = 0.0
    """weight of the entropy bonus (REINFORCE has none)"""
    max_grad_norm: float = 0.0
    """clip the global gradient norm to this (0 disables)"""
    reward_to_go: bool = True
    """Psi_t = the return from step t on (true), or the whole episode's return (false)"""
    baseline: bool = True
    """subtract a learned state value V_phi(s_t) from Psi_t (and bootstrap cut episodes with it)"""
    use_gae: bool = False
    """Psi_t = GAE(gamma, gae_lambda) advantages (needs baseline)"""
    norm_adv: bool = True
    """normalise Psi to mean 0, std 1 over the batch"""
    policy_steps: int = 1
    """policy gradient steps per batch (1 = textbook REINFORCE; more reuses stale samples)"""
    value_steps: int = 5
    """value (baseline) regression steps per batch (CS285: baseline_gradient_steps)"""

    def validate(self) -> None:
        super().validate()
        require(not self.use_gae or self.baseline, "use_gae", "needs baseline: true (GAE uses V)")
        require(self.policy_steps >= 1, "policy_steps", "must be >= 1")
        require(self.value_steps >= 0, "value_steps", "must be >= 0")


class VPG(OnPolicyAgent):
    """REINFORCE with reward-to-go, a learned baseline and GAE as options."""

    name = "vpg"
    Config = VPGConfig
    config: VPGConfig

    @property
    def bootstrap_truncated(self) -> bool:
        return self.config.baseline

    def compute_advantages(
        self, buffer: RolloutBuffer, last_obs: torch.Tensor, last_state: LSTMState | None, last_start: torch.Tensor
    ) -> None:
        """Psi_t into ``buffer.advantages``; the value targets into ``buffer.returns``."""
        cfg = self.config
        if cfg.baseline:
            last_value = self.policy.value(last_obs, last_state, last_start)
        else:
            last_value = torch.zeros_like(buffer.rewards[0])
        if cfg.use_gae:
            buffer.compute_gae(last_value, cfg.gamma, cfg.gae_lambda)
            return
        # Q_hat_t = r_t + gamma * (1 - done_t) * Q_hat_{t+1}: GAE with lambda = 1 and V = 0
        rtg, _ = gae(buffer.rewards, torch.zeros_like(buffer.values), buffer.dones, last_value, cfg.gamma, 1.0)
        psi = rtg
        if not cfg.reward_to_go:  # R(tau): the reward-to-go of each segment's first step, carried forward
            psi = rtg.clone()
            starts = buffer.episode_starts.clone()
            starts[0] = 1.0
            for t in range(1, psi.shape[0]):
                psi[t] = torch.where(starts[t] > 0, rtg[t], psi[t - 1])
        buffer.returns = rtg
        buffer.advantages = psi - buffer.values if cfg.baseline else psi

    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.config
        # the whole batch at once (whole env sequences for a recurrent policy)
        batch = next(buffer.minibatches(1, self.np_rng, by_env=self.policy.recurrent))
        psi = batch.advantages
        if cfg.norm_adv and len(psi) > 1:
            psi = (psi - psi.mean()) / (psi.std() + 1e-8)
        stats: dict[str, float] = {}
        for _ in range(cfg.policy_steps):
            out = self.policy.evaluate_actions(
                batch.observations, batch.actions, batch.lstm_states, batch.episode_starts
            )
            # surrogate whose gradient is the policy gradient: -1/N sum_i log pi(a_i|s_i) Psi_i
            policy_loss = -(out["log_prob"] * psi).mean()
            entropy = out["entropy"].mean()
            self._step(policy_loss - cfg.ent_coef * entropy)
            stats.update(policy_loss=policy_loss.item(), entropy=entropy.item())
        if cfg.baseline:
            for _ in range(cfg.value_steps):
                self.observe_returns(batch.returns)  # norm_value_update: minibatch (one per value step)
                target = self.policy.normalize_value(batch.returns)
                value = self.policy.value(batch.observations, batch.lstm_states, batch.episode_starts)
                squared_error = (self.policy.normalize_value(value) - target) ** 2  # to Q_hat
                value_loss = self.value_loss_scale * squared_error.mean()
                self._step(cfg.vf_coef * value_loss)
                stats["value_loss"] = value_loss.item()
            stats["explained_variance"] = explained_variance(buffer.values.flatten(), buffer.returns.flatten())
        return stats

    def _step(self, loss: torch.Tensor) -> None:
        """One Adam step on ``loss`` (parameters it does not reach keep grad None and are skipped)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
