"""A recorded dataset as tensors on the agent's device, and uniform minibatches of it.

:func:`load_offline_data` reads a dataset folder (:class:`~craftlab.datasets.recorded.RecordedDataset`)
once, checks its spaces against the env's, and keeps every transition in memory
(each observation twice, as ``observations`` and ``next_observations``: fine for
vector observations; for images this is twice the dataset's frame bytes).
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

from craftlab.datasets.batch import TransitionBatch
from craftlab.datasets.recorded import DatasetError, RecordedDataset


class OfflineBatch(NamedTuple):
    """``B`` transitions ``(s, a, r, s', terminated)`` as tensors on the agent's device.

    ``observations`` / ``next_observations``: ``[B, *obs_shape]`` in the stored dtype
    (uint8 images stay bytes); ``actions``: ``int64[B]`` (Discrete) or
    ``float32[B, *action_shape]`` (Box, env scale); ``rewards``: ``float32[B]``;
    ``terminated``: ``float32[B]``, 1 where ``s'`` is terminal (no bootstrap; a
    time-limit cut is 0: it is bootstrapped from the real last observation).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor

    def take(self, index: torch.Tensor) -> "OfflineBatch":
        """The transitions at ``index`` (``int64[B]`` on the same device)."""
        return OfflineBatch(*(x[index] for x in self))


def discounted_returns(rewards: np.ndarray, done: np.ndarray, gamma: float) -> np.ndarray:
    """Monte Carlo returns ``G_t = sum_{k>=0} gamma^k r_{t+k}`` up to each episode's end,
    for transitions stored episode after episode (``done[t]``: the episode's last step).
    An episode cut by a time limit is summed only up to the cut. ``float64[N]``."""
    returns = np.zeros(len(rewards), dtype=np.float64)
    future = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        future = float(rewards[t]) + (0.0 if done[t] else gamma * future)
        returns[t] = future
    return returns


def load_offline_data(
    path: str, observation_space: gym.Space, action_space: gym.Space, device: torch.device
) -> tuple[OfflineBatch, TransitionBatch, RecordedDataset]:
    """Read the dataset at ``path`` whole: ``(tensors on device, the numpy batch in recorded
    order, the dataset)``. Refuses (one line, :class:`DatasetError`) a missing, damaged or
    incomplete dataset, one recorded with other spaces, and Dict observations."""
    dataset = RecordedDataset(path)
    dataset.check_spaces(observation_space, action_space)
    if isinstance(observation_space, gym.spaces.Dict):
        raise DatasetError(
            f"dataset '{path}' has Dict observations; the offline agents (cql, iql) need Box "
            "observations (vectors or images)"
        )
    batch = dataset.load()
    action_dtype = torch.long if isinstance(action_space, gym.spaces.Discrete) else torch.float32

    def tensor(x: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x), device=device, dtype=dtype)

    data = OfflineBatch(
        observations=tensor(batch.obs),
        actions=tensor(batch.action, action_dtype),
        rewards=tensor(batch.reward, torch.float32),
        next_observations=tensor(batch.next_obs),
        terminated=tensor(batch.terminal, torch.float32),
    )
    return data, batch, dataset
