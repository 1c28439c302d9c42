"""The settings every on-policy actor-critic shares (``algo:`` in a run config)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Union

from craftlab.agents.base import AgentConfig
from craftlab.agents.networks import NetworkConfig, is_image_space
from craftlab.core.config import require

if TYPE_CHECKING:  # pragma: no cover
    import gymnasium as gym


@dataclass
class OnPolicyConfig(AgentConfig):
    """Settings of every on-policy actor-critic."""

    num_steps: int = 128
    """rollout length: steps per env between updates (batch = num_steps x num_envs)"""
    learning_rate: float = 2.5e-4
    """Adam step size"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    adam_eps: float = 1e-5
    """Adam epsilon"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """lambda of generalised advantage estimation (1 = Monte Carlo, 0 = TD(0))"""
    ent_coef: float = 0.01
    """weight of the entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this (0 disables)"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the observation encoder (agents.networks)"""
    shared_encoder: Literal["auto", "yes", "no"] = "auto"
    """one encoder for policy and value ('auto': shared for images, separate for vectors;
    always shared with an LSTM)"""
    norm_value: bool = False
    """value target normalisation: the value head learns (R - mu) / sigma with mu, sigma
    moving averages of the returns (the 15.6 Crafter PPO recipe)"""
    norm_value_beta: float = 0.99
    """decay of the moving averages of norm_value, per normaliser update (norm_value_update)"""
    norm_value_update: Literal["minibatch", "rollout"] = "minibatch"
    """when norm_value's averages move: 'minibatch' (the recipe's NormalizeEwma: with each
    minibatch's returns just before its value loss, 24 times per rollout with 3 epochs x 8
    minibatches; time constant ~4 rollouts) or 'rollout' (once per rollout with all its
    returns, craftlab before issue 12: time constant ~100 rollouts, 410k Crafter steps)"""
    norm_value_std_floor: float = 0.1
    """norm_value: sigma is at least this (the recipe clamps the variance at 1e-2: 0.1;
    craftlab before issue 12 used 0.01)"""
    value_loss: Literal["half_squared", "mse"] = "half_squared"
    """value loss per sample: 'half_squared' 1/2 (V - R)^2 (CleanRL, Spinning Up) or 'mse'
    (V - R)^2 (SB3's and the Crafter recipe's F.mse_loss): with the same vf_coef, 'mse'
    weighs the value twice as much"""
    init_from: Union[str, None] = None
    """start from the policy weights of another run: a run folder (its latest
    checkpoint), a checkpoint folder, or an agent.pt file, e.g. a BC run's for
    fine-tuning; parameters whose names and shapes match are copied, the rest
    (e.g. a value head BC never had) keep their fresh initialisation"""

    def rollout_steps(self) -> tuple[str, int]:
        """``("algo.num_steps", steps per env between updates)``: the run refuses a
        rollout larger than its budget (craftlab.runs.run_config)."""
        return "algo.num_steps", self.num_steps

    def rollout_memory_bytes(self, observation_space: "gym.Space", action_space: "gym.Space", num_envs: int) -> int:
        """Bytes of the rollout buffer (:class:`~craftlab.agents.on_policy.buffers.RolloutBuffer`),
        checked against free memory before it is allocated: per step and env, the
        observation (uint8 images, else float32), the action (int64 or float32[act_dim])
        and seven float32 scalars (log-prob, reward, done, episode start, value, advantage, return)."""
        obs_bytes = math.prod(observation_space.shape or (1,)) * (1 if is_image_space(observation_space) else 4)
        action_bytes = 8 if not action_space.shape else 4 * math.prod(action_space.shape)
        return self.num_steps * num_envs * (obs_bytes + action_bytes + 7 * 4)

    def validate(self) -> None:
        require(self.num_steps >= 1, "num_steps", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")
        require(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")
        require(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", "must be in [0, 1]")
        require(0.0 < self.norm_value_beta < 1.0, "norm_value_beta", "must be in (0, 1)")
        require(self.norm_value_std_floor > 0, "norm_value_std_floor", "must be > 0")
