"""What every off-policy agent shares: the replay buffer, target networks, and the
training loop. An algorithm file (``agents/dqn.py``; SAC, TD3, ...) writes its
networks, its exploration and one gradient step (:class:`OffPolicyAgent`'s hooks).

One job per module, each importing only those above it::

    sum_tree.py        SumTree, MinTree: priorities for prioritised replay (Schaul et al. 2016)
    replay_buffer.py   ReplayBuffer (frames stored once, n-step returns, prioritised replay),
                       sampled as typed ReplayBufferSamples
    target_network.py  make_target, polyak_update, update_targets: the target-network schedule
    config.py          OffPolicyConfig: the settings every off-policy agent shares
    agent.py           OffPolicyAgent: acting, storing, training, checkpoints

The encoders are shared with every other deep agent (:mod:`craftlab.agents.networks`).
"""

from craftlab.agents.off_policy.agent import OffPolicyAgent
from craftlab.agents.off_policy.config import OffPolicyConfig
from craftlab.agents.off_policy.replay_buffer import ReplayBuffer, ReplayBufferSamples
from craftlab.agents.off_policy.sum_tree import MinTree, SumTree
from craftlab.agents.off_policy.target_network import make_target, polyak_update, update_targets

__all__ = [
    "MinTree",
    "OffPolicyAgent",
    "OffPolicyConfig",
    "ReplayBuffer",
    "ReplayBufferSamples",
    "SumTree",
    "make_target",
    "polyak_update",
    "update_targets",
]
