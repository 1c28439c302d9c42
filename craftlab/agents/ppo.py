"""Proximal Policy Optimization (Schulman et al. 2017, "Proximal Policy
Optimization Algorithms", Algorithm 1), from scratch.

Rollout collection and GAE are shared with every on-policy agent
(``agents/on_policy/``); this file is PPO's update, read beside the paper::

    for epoch in 1..K:                                   (update_epochs)
        for each minibatch of the N*T samples:           (num_minibatches)
            r_t(theta) = pi_theta(a_t|s_t) / pi_theta_old(a_t|s_t)
            L^CLIP = E[ min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t) ]     (eq. 7)
            L^VF   = E[ (V_theta(s_t) - R_t)^2 ]  (optionally clipped around V_old)
            S      = E[ entropy(pi_theta(.|s_t)) ]
            maximise L^CLIP - c1 L^VF + c2 S                            (eq. 9)

plus the implementation details that make it work (Huang et al. 2022, "The 37
implementation details of PPO"): advantage normalisation per minibatch (or over
the whole batch: ``norm_adv_scope``), orthogonal init, Adam eps 1e-5,
learning-rate annealing, global gradient clipping, value clipping, and an
optional early stop on approximate KL. ``value_loss`` picks 1/2 (V - R)^2
(CleanRL) or (V - R)^2 (SB3, the Crafter recipe). With ``norm_value``
(``agents/on_policy/value_normalizer.py``) the value loss is computed in the
normalised units (R - mu) / sigma, as in the 15.6 Crafter PPO recipe. A
recurrent policy (``network.lstm``) is updated on minibatches of whole env
sequences.

Subclasses add terms by overriding :meth:`PPO.loss` (see ``agents/ppo_rnd.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

import torch
from torch import nn

from craftlab.agents.on_policy import (
    OnPolicyAgent,
    OnPolicyConfig,
    RolloutBuffer,
    RolloutBufferSamples,
    explained_variance,
)
from craftlab.core.config import require


@dataclass
class PPOConfig(OnPolicyConfig):
    """PPO's settings (defaults: CleanRL's ppo.py)."""

    update_epochs: int = 4
    """K: passes over the rollout per update"""
    num_minibatches: int = 4
    """minibatches per pass (minibatch size = num_steps * num_envs / num_minibatches)"""
    clip_coef: float = 0.2
    """epsilon of the clipped surrogate objective"""
    clip_vloss: bool = True
    """clip the value update around the rollout's values, like the policy ratio"""
    norm_adv: bool = True
    """normalise advantages to mean 0, std 1 (over norm_adv_scope)"""
    norm_adv_scope: Literal["minibatch", "batch"] = "minibatch"
    """norm_adv over each 'minibatch' (CleanRL, SB3) or once over the whole rollout 'batch'
    (the Crafter recipe's storage.compute_returns)"""
    target_kl: Union[float, None] = None
    """stop the epoch loop early when the approximate KL exceeds this (null: never)"""

    def validate(self) -> None:
        super().validate()
        require(self.update_epochs >= 1, "update_epochs", "must be >= 1")
        require(self.num_minibatches >= 1, "num_minibatches", "must be >= 1")
        require(self.clip_coef > 0, "clip_coef", "must be > 0")


class PPO(OnPolicyAgent):
    """PPO with a clipped objective, for discrete and continuous actions."""

    name = "ppo"
    Config = PPOConfig
    config: PPOConfig

    def loss(
        self, batch: RolloutBufferSamples
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """PPO's loss on one minibatch. Returns ``(loss, diagnostics, network outputs)``;
        diagnostics are 0-d tensors (averaged and logged as ``losses/<key>``)."""
        cfg = self.config
        self.observe_returns(batch.returns)  # norm_value_update: minibatch
        state, starts = self.policy_state(batch)
        out = self.policy.evaluate_actions(batch.observations, batch.actions, state, starts)
        new_log_prob, entropy, new_value = out["log_prob"], out["entropy"], out["value"]

        # r_t(theta) = pi_theta(a|s) / pi_theta_old(a|s), in log space
        log_ratio = new_log_prob - batch.old_log_probs
        ratio = log_ratio.exp()
        with torch.no_grad():  # KL(old || new) estimator k3 (Schulman 2020)
            approx_kl = ((ratio - 1) - log_ratio).mean()
            clipfrac = ((ratio - 1.0).abs() > cfg.clip_coef).float().mean()

        advantages = batch.advantages
        if cfg.norm_adv and cfg.norm_adv_scope == "minibatch" and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        # L^CLIP (eq. 7), written as a loss to minimise
        surrogate = ratio * advantages
        clipped = torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef) * advantages
        policy_loss = -torch.min(surrogate, clipped).mean()

        # L^VF: squared error to the GAE returns, optionally clipped around V_old;
        # in the value head's units ((R - mu) / sigma with norm_value, else R)
        norm = self.policy.normalize_value
        new_v, returns, old_v = norm(new_value), norm(batch.returns), norm(batch.old_values)
        if cfg.clip_vloss:
            v_clipped = old_v + torch.clamp(new_v - old_v, -cfg.clip_coef, cfg.clip_coef)
            squared_error = torch.max((new_v - returns) ** 2, (v_clipped - returns) ** 2)
        else:
            squared_error = (new_v - returns) ** 2
        value_loss = self.value_loss_scale * squared_error.mean()  # 1/2 or 1 (value_loss)

        entropy_mean = entropy.mean()
        loss = policy_loss - cfg.ent_coef * entropy_mean + cfg.vf_coef * value_loss  # eq. 9
        stats = {
            "policy_loss": policy_loss.detach(),
            "value_loss": value_loss.detach(),
            "entropy": entropy_mean.detach(),
            "approx_kl": approx_kl,
            "clipfrac": clipfrac,
        }
        return loss, stats, out

    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        cfg = self.config
        stats: dict[str, list[torch.Tensor]] = {}
        if cfg.norm_adv and cfg.norm_adv_scope == "batch" and buffer.advantages.numel() > 1:
            adv = buffer.advantages
            buffer.advantages = (adv - adv.mean()) / (adv.std() + 1e-8)
        for _epoch in range(cfg.update_epochs):
            epoch_kl = []
            for batch in buffer.minibatches(cfg.num_minibatches, self.np_rng, by_env=self.policy.recurrent):
                loss, mb_stats, _ = self.loss(batch)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for key, value in mb_stats.items():
                    stats.setdefault(key, []).append(value)
                epoch_kl.append(mb_stats["approx_kl"])
            if cfg.target_kl is not None and torch.stack(epoch_kl).mean().item() > cfg.target_kl:
                break

        out = {k: float(torch.stack(v).mean()) for k, v in stats.items()}  # one host sync per key
        out["explained_variance"] = explained_variance(buffer.values.flatten(), buffer.returns.flatten())
        return out
