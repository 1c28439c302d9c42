"""``algo.init_from``: start a policy from the weights of another run."""

from __future__ import annotations

import torch
from torch import nn

from craftlab.agents.base import agent_file
from craftlab.core.config import ConfigError


def load_pretrained(policy: nn.Module, source: str, device: torch.device) -> list[str]:
    """Copy the parameters of ``source`` (run folder, checkpoint folder or agent.pt)
    whose names and shapes match into ``policy``; returns their names.

    With a separate critic encoder and a source that has only an actor encoder
    (behaviour cloning), the critic encoder starts from the same weights.
    """
    path = agent_file(source)
    state = torch.load(path, map_location=device, weights_only=True)
    weights = state.get("policy", state) if isinstance(state, dict) else {}
    own = policy.state_dict()
    if not any(k.startswith("critic_encoder.") for k in weights) and any(k.startswith("critic_encoder.") for k in own):
        weights = {
            **weights,
            **{
                "critic_encoder." + k[len("actor_encoder.") :]: v
                for k, v in weights.items()
                if k.startswith("actor_encoder.")
            },
        }
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ConfigError(
            f"config key 'algo.init_from': no parameter of '{path}' matches this policy's "
            "names and shapes; use the same network settings as the run it came from"
        )
    policy.load_state_dict(matched, strict=False)
    return sorted(matched)
