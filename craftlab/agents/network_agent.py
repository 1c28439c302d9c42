"""What every agent made of named networks and optimisers shares: the off-policy loop
(``agents/off_policy/``) and the offline one (``agents/offline/``) both subclass
:class:`NetworkAgent`.

An algorithm file implements the hooks (``networks``, ``optimizers``,
``target_pairs``, ``policy_action``, and its loop's ``train_step``); this class gives
``act`` through ``policy_action`` and the checkpoint of the networks, optimisers,
step counter, RNG and the algorithm's ``extra_state``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import torch
from torch import nn

from craftlab.agents.base import Agent, rng_state, set_rng_state


class NetworkAgent(Agent):
    """Named networks and optimisers, ``act`` and their checkpoint; see the module doc."""

    np_rng: np.random.Generator
    """the agent's own RNG (checkpointed); set by the subclass's ``__init__``"""

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every module of the agent by name, target networks included (checkpointed)."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser by name (checkpointed)."""

    @abstractmethod
    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """``(online, target)`` pairs updated every ``target_update_interval`` gradient steps."""

    @abstractmethod
    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> np.ndarray:
        """The learned policy's env actions for ``obs[B, ...]`` (``act``; evaluation)."""

    def progress_scalars(self) -> dict[str, float]:
        """Schedules and the like, logged as ``charts/<key>`` with the losses."""
        return {}

    def extra_state(self) -> dict[str, Any]:
        """Checkpointed state beyond networks and optimisers (tensors and plain values)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`extra_state`."""

    # -------------------------------------------------------------- interface

    def obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    @torch.inference_mode()
    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        return self.policy_action(self.obs_tensor(np.asarray(obs)), deterministic), None

    def networks_state(self) -> dict[str, Any]:
        """Networks, optimisers, ``num_timesteps``, the RNG and ``extra_state``."""
        return {
            "networks": {name: net.state_dict() for name, net in self.networks().items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()},
            "num_timesteps": self.num_timesteps,
            "rng": rng_state(self.np_rng),
            "extra": self.extra_state(),
        }

    def load_networks_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`networks_state`."""
        for name, net in self.networks().items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
        self.num_timesteps = int(state["num_timesteps"])
        set_rng_state(state["rng"], self.np_rng)
        self.load_extra_state(state.get("extra", {}))


def mean_diagnostic(values: list[float | torch.Tensor]) -> float:
    """Mean of floats and 0-d tensors (a training diagnostic), with one host sync for tensors."""
    if all(isinstance(v, torch.Tensor) for v in values):
        return float(torch.stack(values).float().mean())  # type: ignore[arg-type]
    return float(np.mean([float(v) for v in values]))
