"""``algo.init_from`` of the off-policy agents: start from the networks of another run,
e.g. an offline run (``cql``, ``cql_continuous``, ``iql``) to fine-tune it online.

Unlike PPO's loader (``agents/on_policy/pretrained.py``, one ``policy`` module), an
off-policy checkpoint holds several networks by name (``state["networks"]``): each
network of the agent whose name is there takes the parameters whose names and
shapes match. Optimisers, counters and the replay buffer are not copied.
"""

from __future__ import annotations

import torch
from torch import nn

from craftlab.agents.base import agent_file
from craftlab.core.config import ConfigError


def load_pretrained_networks(networks: dict[str, nn.Module], source: str, device: torch.device) -> list[str]:
    """Copy into ``networks`` the networks of the same name in ``source`` (a run folder: its
    latest checkpoint; a checkpoint folder; or an agent.pt file). Returns the copied
    ``"network.parameter"`` names; ConfigError (one line) when a network of that name
    does not fit or no network matches."""
    path = agent_file(source)
    state = torch.load(path, map_location=device, weights_only=True)
    saved = state.get("networks", {}) if isinstance(state, dict) else {}
    copied = []
    for name, net in networks.items():
        if name not in saved:  # e.g. SAC's temperature after IQL: keeps its fresh initialisation
            continue
        own, weights = net.state_dict(), saved[name]
        for key, value in own.items():
            if key not in weights or weights[key].shape != value.shape:
                got = tuple(weights[key].shape) if key in weights else "missing"
                raise ConfigError(
                    f"config key 'algo.init_from': {name}.{key} of '{path}' is {got}, this agent's is "
                    f"{tuple(value.shape)}; use the network settings of the run it came from (algo.network)"
                )
        net.load_state_dict({key: weights[key] for key in own})
        copied += [f"{name}.{key}" for key in own]
    if not copied:
        raise ConfigError(
            f"config key 'algo.init_from': no network of '{path}' matches this agent's "
            f"({', '.join(networks)}); start from a run whose networks have the same names and "
            "settings (dqn from cql; sac from cql_continuous or a Box iql; sac_discrete from a Discrete iql)"
        )
    return copied
