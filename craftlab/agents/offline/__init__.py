"""What every offline RL agent shares: the recorded dataset as tensors, uniform
minibatches, and the training loop that never steps an env to learn (the run
evaluates the agent in the env at intervals). An algorithm file
(``agents/cql.py``, ``agents/iql.py``) writes its networks, its policy and one
gradient step (:class:`OfflineAgent`'s hooks).

``train.total_timesteps`` (and every interval and curve of an offline run)
counts gradient steps, not env steps.

One job per module, each importing only those above it::

    config.py    OfflineConfig: data (the dataset folder), batch_size, optimiser, targets
    dataset.py   load_offline_data (the dataset as an OfflineBatch of tensors, spaces
                 checked), discounted_returns (Monte Carlo returns of the dataset)
    agent.py     OfflineAgent: minibatches, training, logging, checkpoints

Target networks come from the off-policy machinery (``agents/off_policy/target_network.py``);
the encoders from :mod:`craftlab.agents.networks`.
"""

from craftlab.agents.offline.agent import OfflineAgent
from craftlab.agents.offline.config import OfflineConfig, offline_network
from craftlab.agents.offline.dataset import OfflineBatch, discounted_returns, load_offline_data

__all__ = [
    "OfflineAgent",
    "OfflineBatch",
    "OfflineConfig",
    "discounted_returns",
    "load_offline_data",
    "offline_network",
]
