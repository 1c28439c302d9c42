"""The one interface every craftlab agent implements, custom or Stable-Baselines3.

An agent is built from its config and an :class:`craftlab.envs.factory.EnvFactory`,
learns for a number of environment steps while reporting to a
:class:`craftlab.agents.run_context.RunContext`, acts on observations, and saves/loads its
whole training state (weights, optimiser, step counter, RNG) as a dict of
tensors and plain Python values that ``torch.load(weights_only=True)`` reads.

Lifecycle (what ``train.py`` does)::

    agent = agent_class(cfg.algo.name)(cfg.algo, env_factory, device, seed)
    agent.load(checkpoint_dir)              # only when resuming
    agent.learn(total_timesteps, run)       # calls run.on_step(...) as it goes
    agent.save(checkpoint_dir)              # via run's checkpointer

``learn`` owns the loop because agents differ in what a loop is (a rollout
and an update, an episode, a sweep over a model, a pass over a dataset). It
must call ``run.on_step(self.num_timesteps)`` at least once per update and
stop when it returns False (the run was interrupted, or the budget is spent).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from craftlab.core.checkpoint import Checkpointer
from craftlab.core.config import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory

AGENT_FILE = "agent.pt"


def agent_file(source: str, key: str = "algo.init_from") -> Path:
    """``source`` (a run folder: its latest checkpoint; a checkpoint folder; or an
    ``agent.pt``) -> the ``agent.pt`` file; ConfigError (one line, naming ``key``) if none."""
    path = Path(source)
    if (path / "checkpoints").is_dir():
        path = Checkpointer(path / "checkpoints").find().path
    if path.is_dir():
        path = path / AGENT_FILE
    if not path.is_file():
        raise ConfigError(f"config key '{key}': '{source}' is not a run folder, checkpoint folder or agent.pt file")
    return path


@dataclass
class AgentConfig:
    """Settings shared by every agent; subclasses add theirs (each with a default
    and a docstring under it, which becomes ``python train.py help ALGO``)."""

    name: str = ""
    """algorithm name (``python train.py list`` shows them all)"""


class Agent(ABC):
    """Base class of all agents. Subclasses set ``name`` and ``Config``."""

    name: ClassVar[str]
    """registry key used as ``algo.name`` in YAML"""
    Config: ClassVar[type[AgentConfig]] = AgentConfig
    """the dataclass that is this agent's YAML schema"""

    def __init__(self, config: AgentConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        self.config = config
        self.envs = envs
        self.device = torch.device(device)
        self.seed = seed
        self.num_timesteps = 0
        """environment steps taken so far, over all parallel envs"""
        self.observation_space = envs.observation_space
        self.action_space = envs.action_space

    # ----------------------------------------------------------- the interface

    @abstractmethod
    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        """Train until ``self.num_timesteps >= total_timesteps`` (an absolute
        step count, so a resumed agent continues where it stopped) or until
        ``run.on_step`` returns False. ``run=None`` trains silently."""

    @abstractmethod
    def act(
        self,
        obs: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations (leading axis = env index).

        ``state`` and ``episode_start`` carry a recurrent agent's memory (None
        otherwise, as in SB3's ``predict``). Returns ``(actions, next_state)``.
        """

    def observe(self, state: Any, info: dict[str, Any]) -> Any:
        """After each step of playing (``runs.evaluation.rollout``: ``eval``, ``watch``): a
        stateful agent may update ``state`` from the env's ``info`` (Achievement
        Distillation's memory of the last unlocked achievement). Default: unchanged."""
        return state

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training: tensors, numbers, strings,
        lists and dicts of them only (``torch.load(weights_only=True)``)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""

    # --------------------------------------------------------------- helpers

    def save(self, directory: str | Path) -> None:
        """Write this agent's files into ``directory`` (the checkpointer makes it
        atomic by writing into a temporary folder that it renames)."""
        torch.save(self.state_dict(), Path(directory) / AGENT_FILE)

    def load(self, directory: str | Path) -> None:
        state = torch.load(Path(directory) / AGENT_FILE, map_location=self.device, weights_only=True)
        self.load_state_dict(state)

    def close(self) -> None:  # noqa: B027 (optional hook: most agents have nothing to release)
        """Release environments and other resources."""


def rng_state(np_rng: np.random.Generator | None = None) -> dict[str, Any]:
    """RNG state of torch, Python's ``random`` and an agent's numpy Generator,
    in a form ``weights_only`` loading accepts."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "python_gauss": random.getstate()[2],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if np_rng is not None:
        state["numpy"] = _np_state_to_plain(np_rng.bit_generator.state)
    return state


def set_rng_state(state: dict[str, Any], np_rng: np.random.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"].cpu())
    random.setstate((state["python_version"], tuple(state["python"]), state["python_gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if np_rng is not None and "numpy" in state:
        np_rng.bit_generator.state = state["numpy"]


def _np_state_to_plain(state: Any) -> Any:
    if isinstance(state, dict):
        return {k: _np_state_to_plain(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return state.tolist()
    if isinstance(state, np.integer):
        return int(state)
    return state
