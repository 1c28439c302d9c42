"""A queryable expert: ``load_expert(spec, envs, device)`` -> ``expert(obs[B, ...]) -> actions[B, ...]``.

DAgger (:mod:`craftlab.agents.dagger`) asks its expert for the action at every
state its own policy visits, so the expert must be a policy that can be queried
at any state, not a fixed set of demonstrations. ``spec`` is one of:

- ``scripted:NAME``: a hand-written policy of :mod:`craftlab.envs.scripted`
  (refused with one line in an env it is not written for);
- a craftlab run folder (its latest checkpoint), one of its checkpoint folders
  (``runs/X/checkpoints/step_N``) or that folder's ``agent.pt``.

A run's agent is rebuilt here from the run's own ``config.yaml``, read with
``yaml.safe_load``: its ``algo`` section goes through the registered agent's
Config dataclass (:func:`craftlab.agents.registry.agent_class`), its ``env``
section through :class:`craftlab.core.config.EnvConfig`. (The same job in
:mod:`craftlab.runs.run_config` sits in a layer above the agents, so it is not
used.) The checkpoint is loaded with ``torch.load(weights_only=True)``
(:meth:`craftlab.agents.base.Agent.load`) after its algorithm and spaces are
checked. The expert must act in the observation and action spaces of the env
it labels; an expert trained with other spaces is refused with one line.

The expert acts greedily (``deterministic=True``) and without memory: a
recurrent agent is queried with ``state=None`` at every state (DAgger assumes
an expert whose action depends on the current state only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
import yaml

from craftlab.agents.base import AGENT_FILE, rng_state, set_rng_state
from craftlab.agents.registry import agent_class
from craftlab.core.checkpoint import META_FILE, Checkpointer, CheckpointInfo, load_into, read_meta, space_signature
from craftlab.core.config import EnvConfig, build_dataclass, fix_yaml_floats
from craftlab.core.errors import UserError
from craftlab.core.run_dir import RunDir
from craftlab.envs.factory import EnvFactory
from craftlab.envs.scripted import SCRIPTED_PREFIX, scripted_policy

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent


@dataclass(frozen=True)
class Expert:
    """``expert(obs[B, ...]) -> actions[B, ...]`` (numpy in, numpy out)."""

    description: str
    """what acts: ``scripted:NAME`` or ``<checkpoint folder> (<algorithm>)``"""
    act: Callable[[Any], np.ndarray]
    agent: "Agent | None" = None
    """the run's agent, for an expert loaded from a run"""

    def __call__(self, obs: Any) -> np.ndarray:
        return np.asarray(self.act(obs))


def load_expert(spec: str, envs: EnvFactory, device: torch.device | str = "cpu") -> Expert:
    """The expert named by ``spec`` (see the module doc), checked against ``envs``' spaces."""
    if spec.startswith(SCRIPTED_PREFIX):
        policy = scripted_policy(spec, envs.id)
        return Expert(f"{SCRIPTED_PREFIX}{policy.name}", policy.act)
    run_dir, info = _find_checkpoint(spec)
    for what, recorded, here in (
        ("observation", info.meta.get("observation_space"), space_signature(envs.observation_space)),
        ("action", info.meta.get("action_space"), space_signature(envs.action_space)),
    ):
        if recorded != here:
            raise UserError(
                f"expert '{spec}' acts in {what} space {recorded}, but this run's env has {here}; "
                "use an expert trained on the same env and wrappers"
            )
    config_path = RunDir(run_dir).config
    try:
        data = yaml.safe_load(config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"expert '{spec}': cannot read the run's '{config_path}' ({exc}); pass a run folder") from None
    if not isinstance(data, dict) or not isinstance(data.get("algo"), dict) or "name" not in data["algo"]:
        raise UserError(f"expert '{spec}': '{config_path}' has no algo.name; pass a craftlab run folder")
    data = fix_yaml_floats(data)
    cls = agent_class(str(data["algo"]["name"]))
    algo = build_dataclass(cls.Config, data["algo"], prefix="algo.")
    env = build_dataclass(EnvConfig, data.get("env") or {}, prefix="env.")
    # Building an agent seeds torch's RNGs: keep the learner's streams as they were.
    saved = rng_state()
    agent = cls(algo, EnvFactory(env, num_envs=1, seed=0, vector="sync"), device, seed=0)
    load_into(agent, info)  # algorithm and spaces checked, then torch.load(weights_only=True)
    set_rng_state(saved)

    def act(obs: Any) -> np.ndarray:
        return np.asarray(agent.act(obs, deterministic=True)[0])

    return Expert(f"{info.path} ({cls.name})", act, agent)


def _find_checkpoint(spec: str) -> tuple[Path, CheckpointInfo]:
    """``spec`` (run folder, checkpoint folder or agent.pt) -> (run folder, checkpoint)."""
    path = Path(spec).expanduser()
    if path.is_file() and path.name == AGENT_FILE:
        path = path.parent
    if RunDir(path).config.is_file():  # a run folder: its latest checkpoint
        return path, Checkpointer(RunDir(path).checkpoints).find()
    meta = read_meta(path) if (path / META_FILE).is_file() else None
    if meta is not None and RunDir(path.parent.parent).config.is_file():  # runs/X/checkpoints/step_N
        return path.parent.parent, CheckpointInfo(path, int(meta["num_timesteps"]), meta)
    raise UserError(
        f"expert '{spec}' is neither scripted:NAME nor a craftlab run folder, checkpoint folder or agent.pt; "
        "pass e.g. algo.expert=scripted:cartpole_balance or algo.expert=runs/<name>"
    )
