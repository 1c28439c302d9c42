"""Phasic Policy Gradient (Cobbe, Hilton, Klimov, Schulman 2021, "Phasic Policy
Gradient", Algorithm 1), from scratch, on the shared on-policy machinery.

PPO's update (the *policy phase*) alternates with an *auxiliary phase* that
trains the value function for many more epochs, and distils it into the
policy's features, while a behavioural-cloning term keeps the policy where it
was::

    for phase = 1, 2, ...
        B <- {}
        for iteration = 1..N_pi                                        (n_pi)
            collect a rollout with pi_theta; GAE returns V_targ
            PPO: minimise -L^CLIP + c_v L^VF - c_e S                    (update_epochs x num_minibatches)
            B <- B + {(s_t, V_targ(s_t))}
        pi_old(.|s) <- the current policy, for every s in B
        for epoch = 1..E_aux                                           (aux_epochs)
            for each minibatch of B:                                   (aux_minibatch_size)
                L^joint = L^aux + beta_clone E[ KL(pi_old(.|s) || pi_theta(.|s)) ]   (eq. 2)
                L^aux   = 1/2 E[ (V_aux(s) - V_targ)^2 ]   an auxiliary value head on the policy's features
                L^value = 1/2 E[ (V(s) - V_targ)^2 ]       the value head: value distillation, more epochs
                minimise L^joint + L^value                                    (eqs. 2 and 3, one step)

The paper trains separate policy and value networks; here they are the
actor-critic's (``shared_encoder``: separate for vectors, one trunk for images,
as in its single-network variant), and ``V_aux`` sits on the actor's features.
The 1/2 follows ``value_loss``; with ``norm_value`` both value heads learn
(V_targ - mu) / sigma.

B holds the last ``n_pi`` rollouts' observations and returns on the agent's
device (Crafter: 8 rollouts x 4096 x 12 KB = 400 MB). Checkpoints hold it when the
run asks for its buffers (``train.save_replay_buffer``), so a resume continues exactly;
without it a resume logs that B starts empty, and the next auxiliary phase waits for
``n_pi`` new rollouts.
Feed-forward policies only (``network.lstm`` 0).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple, Union

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Normal, kl_divergence

from craftlab.agents.networks import NetworkConfig, layer_init
from craftlab.agents.on_policy import ActorCritic, RolloutBuffer
from craftlab.agents.ppo import PPO, PPOConfig
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError, require

log = logging.getLogger("craftlab")


@dataclass
class PPGConfig(PPOConfig):
    """PPG's settings: PPO's (the policy phase) plus the auxiliary phase's (defaults: Cobbe et al.)."""

    n_pi: int = 32
    """N_pi: policy-phase iterations (rollouts) per auxiliary phase; B holds that many rollouts"""
    aux_epochs: int = 6
    """E_aux: passes over B in each auxiliary phase"""
    aux_minibatch_size: int = 512
    """samples per auxiliary-phase minibatch"""
    beta_clone: float = 1.0
    """beta_clone: weight of KL(pi_old || pi_theta), which keeps the policy in place"""
    aux_value_coef: float = 1.0
    """weight of L^aux, the auxiliary value head's loss (0: value distillation and cloning only)"""
    aux_learning_rate: Union[float, None] = None
    """Adam step size of the auxiliary phase (its own Adam state; null: learning_rate)"""

    def validate(self) -> None:
        super().validate()
        require(self.n_pi >= 1, "n_pi", "must be >= 1")
        require(self.aux_epochs >= 0, "aux_epochs", "must be >= 0 (0: PPO with a buffer)")
        require(self.aux_minibatch_size >= 1, "aux_minibatch_size", "must be >= 1")
        require(self.beta_clone >= 0, "beta_clone", "must be >= 0")
        require(
            self.aux_learning_rate is None or self.aux_learning_rate > 0,
            "aux_learning_rate",
            "must be > 0 (or null: learning_rate)",
        )
        if self.network.lstm > 0:
            raise ConfigError(
                f"config key 'algo.network.lstm': '{self.name or 'ppg'}' supports feed-forward "
                "policies only; set algo.network.lstm=0 (or use ppo for an LSTM)"
            )


class PPGActorCritic(ActorCritic):
    """:class:`ActorCritic` + the auxiliary value head V_aux on the actor's features."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        network: NetworkConfig,
        shared: bool,
        norm_value_beta: float = 0.0,
        norm_value_std_floor: float = 0.01,
    ):
        super().__init__(observation_space, action_space, network, shared, norm_value_beta, norm_value_std_floor)
        self.aux_value_head = layer_init(nn.Linear(self.features, 1), gain=network.value_init_gain)


class BufferEvaluation(NamedTuple):
    """What one pass over the auxiliary buffer B measures (:meth:`PPG.evaluate_buffer`)."""

    outputs: dict[str, torch.Tensor]
    """the policy head's outputs for every s in B: ``head`` (logits or means, ``[|B|, A]``), ``std``"""
    value_error: float
    """mean (V(s) - V_targ)^2 over B, in return units"""
    kl: float | None
    """mean KL(pi_old || pi_theta) over B, when pi_old was given"""


class AuxiliaryBuffer:
    """B: the last rollouts' tensors, each ``[T, N, ...]``, kept by name."""

    def __init__(self) -> None:
        self.rollouts: list[dict[str, torch.Tensor]] = []

    def __len__(self) -> int:
        return len(self.rollouts)

    def add(self, tensors: dict[str, torch.Tensor]) -> None:
        """Keep one rollout (copies: the rollout buffer is refilled in place)."""
        self.rollouts.append({k: v.detach().clone() for k, v in tensors.items()})

    def clear(self) -> None:
        self.rollouts.clear()

    def along_time(self, key: str) -> torch.Tensor:
        """``[n * T, N, ...]``: the rollouts one after another (each env's steps in order)."""
        return torch.cat([r[key] for r in self.rollouts])

    def flat(self, key: str) -> torch.Tensor:
        """``[n * T * N, ...]``."""
        x = self.along_time(key)
        return x.reshape(-1, *x.shape[2:])


class PPG(PPO):
    """Phasic policy gradient: PPO's policy phase + auxiliary phases every ``n_pi`` rollouts."""

    name = "ppg"
    Config = PPGConfig
    config: PPGConfig
    policy: PPGActorCritic

    def __init__(self, config: PPGConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.aux_buffer = AuxiliaryBuffer()
        self.aux_optimizers = self.build_aux_optimizers()
        self.num_aux_phases = 0
        self.save_aux_buffer = False
        """include B in :meth:`state_dict` (set from ``run.save_replay_buffer``)"""

    def build_policy(self, shared: bool) -> ActorCritic:
        beta = self.config.norm_value_beta if self.config.norm_value else 0.0
        return PPGActorCritic(
            self.observation_space,
            self.action_space,
            self.config.network,
            shared,
            beta,
            self.config.norm_value_std_floor,
        )

    def build_aux_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The auxiliary phase's Adam (its own moment estimates, as a separate optimiser in PPG's code)."""
        lr = self.config.aux_learning_rate or self.config.learning_rate
        return {"aux": torch.optim.Adam(self.policy.parameters(), lr=lr, eps=self.config.adam_eps)}

    # ------------------------------------------------------------ the two phases

    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        stats = super().update(buffer)  # the policy phase: PPO
        self.aux_buffer.add(self.aux_record(buffer))
        if len(self.aux_buffer) >= self.config.n_pi:
            if self.config.aux_epochs > 0:
                stats.update(self.auxiliary_phase())
                self.num_aux_phases += 1
            self.aux_buffer.clear()
        return stats

    def aux_record(self, buffer: RolloutBuffer) -> dict[str, torch.Tensor]:
        """What B keeps of a rollout: s_t and V_targ(s_t)."""
        return {"obs": buffer.obs, "returns": buffer.returns}

    def auxiliary_phase(self) -> dict[str, float]:
        """E_aux epochs of L^joint + L^value over B. Returns diagnostics measured over all of
        B: the value's squared error (return units) before and after, KL(pi_old || pi_theta) after."""
        cfg = self.config
        obs, returns = self.aux_buffer.flat("obs"), self.aux_buffer.flat("returns")
        old, before, _ = self.evaluate_buffer(obs, returns)  # pi_old(.|s) for every s in B
        optimizer = self.aux_optimizers["aux"]
        stats: dict[str, list[torch.Tensor]] = {}
        for _epoch in range(cfg.aux_epochs):
            for idx in self.aux_minibatches(len(obs)):
                self.observe_returns(returns[idx])  # norm_value_update: minibatch
                actor, critic, _ = self.policy.encode(obs[idx])
                new_dist = self.policy.distribution(actor)
                kl = self.clone_kl(self.old_distribution(old, idx), new_dist).mean()
                target = self.policy.normalize_value(returns[idx])
                aux_value_loss = (
                    self.value_loss_scale * ((self.policy.aux_value_head(actor).squeeze(-1) - target) ** 2).mean()
                )  # L^aux
                value_loss = (
                    self.value_loss_scale * ((self.policy.value_head(critic).squeeze(-1) - target) ** 2).mean()
                )  # L^value
                loss = cfg.aux_value_coef * aux_value_loss + cfg.beta_clone * kl + value_loss
                self.aux_step(optimizer, loss)
                for key, value in (
                    ("aux_value_loss", aux_value_loss),
                    ("aux_clone_kl", kl),
                    ("aux_distill_value_loss", value_loss),
                ):
                    stats.setdefault(key, []).append(value.detach())
        out = {k: float(torch.stack(v).mean()) for k, v in stats.items()}
        after = self.evaluate_buffer(obs, returns, old=old)
        out["aux_value_error_before"] = before
        out["aux_value_error_after"] = after.value_error
        out["aux_kl"] = float(after.kl or 0.0)
        return out

    # ------------------------------------------------------------------ helpers

    def aux_minibatches(self, n: int) -> Iterator[torch.Tensor]:
        """Shuffled index minibatches of ``aux_minibatch_size`` over ``n`` samples."""
        order = torch.from_numpy(self.np_rng.permutation(n)).to(self.device)
        for start in range(0, n, self.config.aux_minibatch_size):
            yield order[start : start + self.config.aux_minibatch_size]

    def aux_step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
        optimizer.step()

    def _chunks(self, n: int) -> Iterator[slice]:
        size = max(self.config.aux_minibatch_size, 1024)
        for start in range(0, n, size):
            yield slice(start, start + size)

    @torch.no_grad()
    def evaluate_buffer(
        self,
        obs: torch.Tensor,
        returns: torch.Tensor,
        state: Any = None,
        old: dict[str, torch.Tensor] | None = None,
    ) -> BufferEvaluation:
        """One pass of pi_theta and V over B (in chunks): the policy head's outputs (what
        pi_old is rebuilt from), the value's mean squared error and, given ``old``, the mean
        KL(pi_old || pi_theta)."""
        heads, squared_errors, kls = [], [], []
        for part in self._chunks(len(obs)):
            actor, critic, _ = self.policy.encode(obs[part], None if state is None else state[part])
            heads.append(self.policy.policy_head(actor))
            squared_errors.append((self.policy.value_from_features(critic) - returns[part]) ** 2)
            if old is not None:
                idx = torch.arange(part.start, min(part.stop, len(obs)), device=self.device)
                kls.append(self.clone_kl(self.old_distribution(old, idx), self.policy.distribution(actor)))
        outputs = {"head": torch.cat(heads)}
        if not self.policy.discrete:
            outputs["std"] = self.policy.log_std.detach().exp().clone()
        value_error = float(torch.cat(squared_errors).mean()) if squared_errors else 0.0
        return BufferEvaluation(outputs, value_error, float(torch.cat(kls).mean()) if kls else None)

    def old_distribution(self, old: dict[str, torch.Tensor], idx: torch.Tensor) -> Distribution:
        head = old["head"][idx]
        if self.policy.discrete:
            return Categorical(logits=head)
        return Normal(head, old["std"].expand_as(head))

    def clone_kl(self, old: Distribution, new: Distribution) -> torch.Tensor:
        """KL(pi_old || pi_theta) per sample (summed over action dimensions), PPG's eq. 2."""
        kl = kl_divergence(old, new)
        return kl if self.policy.discrete else kl.sum(-1)

    # ------------------------------------------------------------- checkpoints

    def learn(self, total_timesteps: int, run: RunContext | None = None) -> None:
        if run is not None:
            self.save_aux_buffer = run.save_replay_buffer
        super().learn(total_timesteps, run)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["aux_optimizers"] = {k: opt.state_dict() for k, opt in self.aux_optimizers.items()}
        state["num_aux_phases"] = self.num_aux_phases
        if self.save_aux_buffer:
            state["aux_buffer"] = [{k: v.cpu() for k, v in r.items()} for r in self.aux_buffer.rollouts]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for key, opt in self.aux_optimizers.items():
            opt.load_state_dict(state["aux_optimizers"][key])
        self.num_aux_phases = int(state.get("num_aux_phases", 0))
        self.aux_buffer.clear()
        if "aux_buffer" in state:
            for rollout in state["aux_buffer"]:
                self.aux_buffer.rollouts.append({k: v.to(self.device) for k, v in rollout.items()})
        elif self.num_timesteps > 0:
            log.warning(
                "auxiliary buffer: the checkpoint has none (train.save_replay_buffer is false); the "
                "next auxiliary phase waits for n_pi = %d new rollouts",
                self.config.n_pi,
            )
