"""The settings every offline RL agent shares (``algo:`` in a run config).

An offline agent never steps an env to learn: it trains on a recorded dataset
(``algo.data``) and the run evaluates it in the env every ``train.eval_interval``
gradient steps. ``train.total_timesteps`` therefore counts **gradient steps**,
as do ``train.eval_interval``, ``train.checkpoint_interval`` and the x-axis of
every TensorBoard curve of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from craftlab.agents.base import AgentConfig
from craftlab.agents.networks import NetworkConfig
from craftlab.core.config import require


def offline_network() -> NetworkConfig:
    """Two ReLU layers of 256 units (CQL's and IQL's papers use 256 x 256 critics and actors)."""
    return NetworkConfig(hidden_sizes=[256, 256], activation="relu")


@dataclass
class OfflineConfig(AgentConfig):
    """Settings of every offline agent (dataset, minibatches, optimiser, target networks).
    ``train.total_timesteps`` counts gradient steps for these agents."""

    data: str = ""
    """the recorded dataset folder to train on (made by 'python train.py record ... --out DIR');
    read once into memory at the start of training (and again on a resume: checkpoints
    do not hold it); its observation and action spaces must be the run's env's"""
    batch_size: int = 256
    """transitions per gradient step, drawn uniformly (with replacement) from the whole dataset"""
    learning_rate: float = 3e-4
    """Adam step size (every network)"""
    adam_eps: float = 1e-8
    """Adam epsilon"""
    gamma: float = 0.99
    """discount factor"""
    tau: float = 0.005
    """target network update: theta_target <- tau theta + (1 - tau) theta_target (1 = hard copy)"""
    target_update_interval: int = 1
    """update the target networks every this many gradient steps"""
    max_grad_norm: float = 0.0
    """clip each network's gradient norm to this (0: no clipping)"""
    network: NetworkConfig = field(default_factory=offline_network)
    """every network's body: for vector observations an MLP (hidden_sizes, activation); for
    images the CNN encoder (kind) first"""
    log_interval: int = 1000
    """log the mean of the training diagnostics (losses/*) every this many gradient steps"""

    def validate(self) -> None:
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")
        require(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")
        require(0.0 < self.tau <= 1.0, "tau", "must be in (0, 1]")
        require(self.target_update_interval >= 1, "target_update_interval", "must be >= 1")
        require(self.max_grad_norm >= 0, "max_grad_norm", "must be >= 0 (0 disables clipping)")
        require(self.log_interval >= 1, "log_interval", "must be >= 1")
