"""Behaviour cloning: a policy fitted to demonstrated actions, from a recorded dataset
(``python train.py record``; ``algo.data``) or MineRL demonstrations.

The policy is an encoder (:func:`craftlab.agents.networks.build_encoder`: images, or
a ``{"pov", "vector"}`` Dict with an MLP for the vector) and a linear head:
one cross-entropy head for ``Discrete`` actions, one head per dimension for
``MultiDiscrete`` (loss summed over dimensions)::

    L(theta) = - E_{(s, a) ~ D} [ sum_d log pi_theta(a_d | s) ]

For ``Box`` actions the head is deterministic, squashed into the action bounds,
``mu_theta(s) = low + (tanh(h(s)) + 1) / 2 * (high - low)``, fitted by squared
error (the maximum-likelihood fit of a fixed-variance Gaussian), summed over
the action's dimensions::

    L(theta) = E_{(s, a) ~ D} [ sum_d (mu_theta(s)_d - a_d)^2 ]

its "accuracy" is the fraction of states where every dimension is within
``BOX_TOLERANCE`` (5%) of the action range of the label.

The data D, as :class:`~craftlab.datasets.batch.TransitionBatch` batches:

* ``algo.data: DIR``: a recorded dataset (:class:`craftlab.datasets.recorded.RecordedDataset`),
  refused unless it was recorded with this run's observation and action spaces;
  read in shuffled passes (one chunk in memory at a time), as many as
  ``train.total_timesteps`` needs.
* otherwise MineRL demonstrations, read by
  :class:`craftlab.datasets.minerl.DemonstrationDataset` through the run's own
  env wrappers, so they are discretised exactly as the agent acts.

``num_timesteps`` counts demonstration transitions trained on. The saved
``state["policy"]`` uses the parameter names of the PPO actor
(``actor_encoder.*``, ``policy_head.*``) so PPO can start from it (see
configs/minerl/ppo_finetune_from_bc.yaml).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from craftlab.agents.base import Agent, AgentConfig, rng_state, set_rng_state
from craftlab.agents.networks import MLP, NetworkConfig, build_encoder
from craftlab.core.config import require
from craftlab.datasets.batch import TransitionBatch
from craftlab.datasets.minerl import DemonstrationDataset
from craftlab.datasets.recorded import DatasetError, RecordedDataset
from craftlab.envs.minerl.ids import STANDIN_PREFIX
from craftlab.envs.voxel.ids import VOXEL_PREFIX

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory


@dataclass
class BCConfig(AgentConfig):
    """Behaviour cloning settings."""

    name: str = "bc"
    """algorithm name"""
    data: str = ""
    """a recorded dataset folder (python train.py record ... --out DIR); empty: MineRL
    demonstrations from data_root / dataset"""
    data_root: str = ""
    """MineRL data root; empty uses $MINERL_DATA_ROOT"""
    dataset: str = ""
    """dataset env id (e.g. MineRLTreechop-v0); empty uses env.id (without 'minerl-standin/' or 'voxel/')"""
    max_trajectories: int = 0
    """use at most this many trajectories (0: all)"""
    batch_size: int = 64
    """transitions per gradient step"""
    shuffle_buffer: int = 10_000
    """transitions held for shuffling (memory: this many observations)"""
    learning_rate: float = 3e-4
    """Adam learning rate"""
    weight_decay: float = 0.0
    """Adam weight decay"""
    max_grad_norm: float = 10.0
    """gradient clipping (0: off)"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the encoder (same schema as PPO's, so weights can be shared)"""

    def validate(self) -> None:
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")


class _DictEncoder(nn.Module):
    """``{"pov": image, "vector": float}`` -> concat(image encoder, MLP)."""

    def __init__(self, space: gym.spaces.Dict, network: NetworkConfig):
        super().__init__()
        self.pov = build_encoder(space["pov"], network)
        self.vector = MLP(int(np.prod(space["vector"].shape)), network.hidden_sizes, network.activation)
        self.out_features = self.pov.out_features + self.vector.out_features

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.pov(obs["pov"]), self.vector(obs["vector"].float())], dim=-1)


def clonable_actions(space: gym.Space) -> bool:
    """Whether :class:`BCPolicy` has a head for ``space``: Discrete, MultiDiscrete, or a
    Box with finite bounds (its head is squashed into them)."""
    if isinstance(space, gym.spaces.Box):
        return bool(np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)))
    return isinstance(space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete))


BOX_TOLERANCE = 0.05
"""Box actions: a prediction counts as right when every dimension is within this
fraction of the action range of the label"""


class BCPolicy(nn.Module):
    """Encoder + head. ``forward(obs) -> float32[B, sum(nvec)]`` logits (Discrete,
    MultiDiscrete), or ``float32[B, action_dim]`` pre-squash outputs (Box; see :meth:`squash`)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, network: NetworkConfig):
        super().__init__()
        if isinstance(observation_space, gym.spaces.Dict):
            self.actor_encoder: nn.Module = _DictEncoder(observation_space, network)
        else:
            self.actor_encoder = build_encoder(observation_space, network)
        self.continuous = isinstance(action_space, gym.spaces.Box)
        if not clonable_actions(action_space):
            raise ValueError(
                f"behaviour cloning needs Discrete, MultiDiscrete or bounded Box actions, got {action_space} "
                "(add a minerl_discrete / minerl_multidiscrete / minerl_kmeans wrapper)"
            )
        if isinstance(action_space, gym.spaces.Discrete):
            self.nvec = [int(action_space.n)]
        elif isinstance(action_space, gym.spaces.MultiDiscrete):
            self.nvec = [int(n) for n in np.asarray(action_space.nvec).ravel()]
        else:
            self.nvec = [int(np.prod(action_space.shape))]  # Box: one output per dimension
        self.multi = isinstance(action_space, gym.spaces.MultiDiscrete)
        self.policy_head = nn.Linear(self.actor_encoder.out_features, sum(self.nvec))
        if self.continuous:
            low = torch.as_tensor(np.asarray(action_space.low, np.float32).ravel())
            high = torch.as_tensor(np.asarray(action_space.high, np.float32).ravel())
            self.register_buffer("action_low", low, persistent=False)
            self.register_buffer("action_range", high - low, persistent=False)
            self.action_shape = tuple(action_space.shape)

    def forward(self, obs: Any) -> torch.Tensor:
        return self.policy_head(self.actor_encoder(obs))

    def split(self, logits: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(logits, self.nvec, dim=-1))

    def squash(self, out: torch.Tensor) -> torch.Tensor:
        """Box: ``mu(s) = low + (tanh(out) + 1) / 2 * (high - low)``, ``float32[B, action_dim]``."""
        return self.action_low + (torch.tanh(out) + 1) / 2 * self.action_range


class BehaviourCloning(Agent):
    """Cross-entropy on demonstrated (discretised) actions; see module doc."""

    name = "bc"
    Config = BCConfig

    def __init__(self, config: BCConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        torch.manual_seed(seed)
        self.np_rng = np.random.default_rng(seed)
        self.policy = BCPolicy(self.observation_space, self.action_space, config.network).to(self.device)
        self.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.dataset: Any = None
        # a recorded dataset is opened now: a missing, incomplete, truncated or mismatched one stops the run before it starts
        if config.data:
            self.dataset = RecordedDataset(config.data)
            self.dataset.check_spaces(self.observation_space, self.action_space)
            self.dataset.check_files()
            if len(self.dataset) == 0:
                raise DatasetError(
                    f"dataset '{config.data}' holds no transitions; record it again with --episodes >= 1"
                )
        self.updates = 0

    # ------------------------------------------------------------ data

    def _dataset(self) -> Any:
        if self.dataset is None:
            cfg: BCConfig = self.config  # type: ignore[assignment]
            env_cfg = self.envs.config
            minerl_id = cfg.dataset or env_cfg.id.removeprefix(STANDIN_PREFIX).removeprefix(VOXEL_PREFIX)
            version = str(env_cfg.kwargs.get("minerl_version", "0.4.4"))
            self.dataset = DemonstrationDataset(
                cfg.data_root or os.environ.get("MINERL_DATA_ROOT"), minerl_id, env_cfg, version, cfg.max_trajectories
            )
        return self.dataset

    def _batches(self) -> Iterator[TransitionBatch]:
        """Shuffled batches without end: passes over a recorded dataset, or MineRL's stream."""
        cfg: BCConfig = self.config  # type: ignore[assignment]
        data = self._dataset()
        if isinstance(data, RecordedDataset):
            while True:  # one shuffled pass per epoch, each with its own seed
                yield from data.iter_batches(cfg.batch_size, cfg.shuffle_buffer, seed=self.seed + self.updates)
        yield from data.batches(cfg.batch_size, cfg.shuffle_buffer, seed=self.seed + self.updates)

    def _obs_tensor(self, obs: Any) -> Any:
        if isinstance(obs, dict):
            return {k: torch.as_tensor(np.asarray(v), device=self.device) for k, v in obs.items()}
        return torch.as_tensor(np.asarray(obs), device=self.device)

    def loss(self, obs: Any, actions: np.ndarray) -> tuple[torch.Tensor, float]:
        """Summed cross-entropy over action heads, and accuracy (all heads right); Box:
        squared error summed over dimensions, and accuracy within ``BOX_TOLERANCE``."""
        if self.policy.continuous:
            mean = self.policy.squash(self.policy(self._obs_tensor(obs)))
            target = torch.as_tensor(np.asarray(actions), dtype=torch.float32, device=self.device).reshape(mean.shape)
            loss = ((mean - target) ** 2).sum(-1).mean()
            close = ((mean - target).abs() <= BOX_TOLERANCE * self.policy.action_range).all(-1)
            return loss, float(close.float().mean())
        logits = self.policy.split(self.policy(self._obs_tensor(obs)))
        target = torch.as_tensor(np.asarray(actions), dtype=torch.long, device=self.device).reshape(len(logits[0]), -1)
        loss = sum(F.cross_entropy(lg, target[:, i]) for i, lg in enumerate(logits))
        correct = torch.stack([lg.argmax(-1) == target[:, i] for i, lg in enumerate(logits)], -1).all(-1)
        return loss, float(correct.float().mean())

    # ------------------------------------------------------------ interface

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        cfg: BCConfig = self.config  # type: ignore[assignment]
        if self.num_timesteps >= total_timesteps:
            return
        data = self._dataset()
        self.policy.train()
        for batch in self._batches():
            loss, acc = self.loss(batch.obs, batch.action)
            self.optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            self.num_timesteps += len(batch)
            self.updates += 1
            if run is not None:
                run.log(self.num_timesteps, {"losses/bc_loss": loss.item(), "losses/bc_accuracy": acc})
                if not run.on_step(self.num_timesteps):
                    break
            if self.num_timesteps >= total_timesteps:
                break
        if run is not None and getattr(data, "action_counts", None):
            total = sum(data.action_counts.values())
            run.log(self.num_timesteps, {f"demos/action_share/{k}": v / total for k, v in data.action_counts.items()})
        self.policy.eval()

    @torch.no_grad()
    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        self.policy.eval()
        if self.policy.continuous:  # a deterministic policy: the same action either way
            mean = self.policy.squash(self.policy(self._obs_tensor(obs)))
            return mean.reshape(-1, *self.policy.action_shape).cpu().numpy(), None
        logits = self.policy.split(self.policy(self._obs_tensor(obs)))
        if deterministic:
            parts = [lg.argmax(-1) for lg in logits]
        else:
            parts = [torch.distributions.Categorical(logits=lg).sample() for lg in logits]
        out = torch.stack(parts, -1).cpu().numpy()
        return (out if self.policy.multi else out[:, 0]), None

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "num_timesteps": self.num_timesteps,
            "updates": self.updates,
            "rng": rng_state(self.np_rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_timesteps = int(state["num_timesteps"])
        self.updates = int(state.get("updates", 0))
        set_rng_state(state["rng"], self.np_rng)
