"""What every on-policy actor-critic shares: the policy network, the rollout
buffer, rollout collection from vectorised envs, GAE, and the training loop.
An algorithm file (``ppo.py``, ``a2c.py``, ``vpg.py``, ...) only writes its loss:
:meth:`OnPolicyAgent.update` (and, when it estimates advantages its own way,
:meth:`OnPolicyAgent.compute_advantages`).

One job per module, each importing only those above it::

    config.py            OnPolicyConfig: the settings every on-policy agent shares
    value_normalizer.py  ValueNormalizer: EMA statistics of the returns (norm_value)
    policies.py          ActorCritic (+ LSTMState): pi(a|s) and V(s) over an encoder
    gae.py               gae(): advantages and lambda-returns from [T, N] rewards and values
    diagnostics.py       explained_variance()
    buffers.py           RolloutBuffer, minibatched as typed RolloutBufferSamples
    pretrained.py        load_pretrained(): algo.init_from
    agent.py             OnPolicyAgent: rollout collection and the update loop

The encoders themselves are shared with every other deep agent
(:mod:`craftlab.agents.networks`).
"""

from craftlab.agents.on_policy.agent import OnPolicyAgent
from craftlab.agents.on_policy.buffers import RolloutBuffer, RolloutBufferSamples
from craftlab.agents.on_policy.config import OnPolicyConfig
from craftlab.agents.on_policy.diagnostics import explained_variance
from craftlab.agents.on_policy.gae import gae
from craftlab.agents.on_policy.policies import ActorCritic, LSTMState
from craftlab.agents.on_policy.pretrained import load_pretrained
from craftlab.agents.on_policy.value_normalizer import ValueNormalizer

__all__ = [
    "ActorCritic",
    "LSTMState",
    "OnPolicyAgent",
    "OnPolicyConfig",
    "RolloutBuffer",
    "RolloutBufferSamples",
    "ValueNormalizer",
    "explained_variance",
    "gae",
    "load_pretrained",
]
