"""The settings every off-policy agent shares (``algo:`` in a run config).

Defaults are Stable-Baselines3's off-policy ones (SAC/TD3-like: Polyak targets
after every gradient step); an algorithm's config overrides the fields its
paper sets differently (``agents/dqn.py``: hard target updates, batch 32, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from craftlab.agents.base import AgentConfig
from craftlab.agents.networks import NetworkConfig
from craftlab.core.config import require


@dataclass
class OffPolicyConfig(AgentConfig):
    """Settings of every off-policy agent (replay buffer, update schedule, targets)."""

    buffer_size: int = 1_000_000
    """replay buffer capacity in stored observations, over all envs: the transitions plus
    one final observation per stored episode end (each observation is stored once)"""
    learning_starts: int = 100
    """env steps of uniformly random actions before the first gradient step (the buffer's
    warm-up; after a resume without the buffer, this many steps refill it first)"""
    batch_size: int = 256
    """transitions per gradient step"""
    learning_rate: float = 3e-4
    """Adam step size"""
    adam_eps: float = 1e-8
    """Adam epsilon"""
    gamma: float = 0.99
    """discount factor"""
    tau: float = 0.005
    """target network update: theta_target <- tau theta + (1 - tau) theta_target
    (1 = hard copy)"""
    target_update_interval: int = 1
    """update the target networks every this many gradient steps"""
    train_freq: int = 1
    """do the gradient steps every this many vector-env steps (each adds num_envs transitions)"""
    gradient_steps: int = 1
    """gradient steps each time (the replay ratio is gradient_steps * batch_size /
    (train_freq * num_envs) sampled transitions per env step)"""
    n_step: int = 1
    """n of n-step returns: sum n discounted rewards before bootstrapping (stops at episode ends)"""
    prioritized_replay: bool = False
    """prioritised experience replay (Schaul et al. 2016, proportional): sample transition i
    with probability p_i^alpha / sum_k p_k^alpha, p_i = |TD error| + per_eps"""
    per_alpha: float = 0.6
    """prioritised replay: priority exponent alpha (0 = uniform)"""
    per_beta0: float = 0.4
    """prioritised replay: importance-sampling exponent at the start, annealed linearly to 1
    at the end of the run"""
    per_eps: float = 1e-6
    """prioritised replay: added to |TD error| so no transition gets priority 0"""
    max_grad_norm: float = 10.0
    """clip the global gradient norm to this (0 disables)"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the observation encoder (agents.networks)"""
    log_interval: int = 1000
    """log the mean of the training diagnostics (losses/*) every this many env steps"""
    init_from: Union[str, None] = None
    """start from the networks of another run (a run folder: its latest checkpoint, a
    checkpoint folder, or an agent.pt), e.g. an offline cql / iql run to fine-tune online:
    each network with the same name (q_network, critic, actor, ...) is copied (it must have
    the same algo.network settings); the others, optimisers and the replay buffer start fresh. Applied
    when a new run starts learning (a resumed run continues from its own checkpoint).
    Set learning_starts low (its steps act at random) and, for dqn, exploration_initial_eps
    low, so the first steps act with the loaded policy"""

    def validate(self) -> None:
        require(self.buffer_size >= 1, "buffer_size", "must be >= 1")
        require(self.learning_starts >= 0, "learning_starts", "must be >= 0")
        require(
            self.learning_starts < self.buffer_size,
            "learning_starts",
            "must be below buffer_size (the warm-up must fit in the buffer)",
        )
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")
        require(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")
        require(0.0 < self.tau <= 1.0, "tau", "must be in (0, 1]")
        require(self.target_update_interval >= 1, "target_update_interval", "must be >= 1")
        require(self.train_freq >= 1, "train_freq", "must be >= 1")
        require(self.gradient_steps >= 1, "gradient_steps", "must be >= 1")
        require(self.n_step >= 1, "n_step", "must be >= 1")
        require(self.per_alpha >= 0, "per_alpha", "must be >= 0")
        require(0.0 <= self.per_beta0 <= 1.0, "per_beta0", "must be in [0, 1]")
        require(self.per_eps > 0, "per_eps", "must be > 0")
        require(self.max_grad_norm >= 0, "max_grad_norm", "must be >= 0 (0 disables clipping)")
        require(self.log_interval >= 1, "log_interval", "must be >= 1")
