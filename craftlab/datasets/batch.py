"""The batch format every offline agent (behaviour cloning, later offline RL) reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

Obs = Any
"""``np.ndarray[B, ...]``, or a dict of them for Dict observations"""


@dataclass
class TransitionBatch:
    """``B`` transitions ``(s_t, a_t, r_t, s_{t+1}, done_t)`` as numpy arrays.

    ``obs``/``next_obs`` follow the agent's observation space with a leading
    batch axis (e.g. ``uint8[B, 64, 64, 4]`` or ``{"pov": uint8[B,...],
    "vector": float32[B, n]}``); ``action`` is ``int64[B]`` (Discrete) or
    ``int64[B, D]`` (MultiDiscrete) or ``float32[B, D]`` (Box); ``reward``
    ``float32[B]``; ``done`` ``bool[B]`` (True on an episode's last transition).
    """

    obs: Obs
    action: np.ndarray
    reward: np.ndarray
    next_obs: Obs
    done: np.ndarray

    def __len__(self) -> int:
        return len(self.reward)

    @staticmethod
    def stack(transitions: Sequence[tuple[Obs, Any, float, Obs, bool]]) -> "TransitionBatch":
        """A list of single transitions -> one batch."""
        obs, act, rew, nxt, done = zip(*transitions)
        return TransitionBatch(
            _stack(obs), np.asarray(act), np.asarray(rew, np.float32), _stack(nxt), np.asarray(done, bool)
        )


def _stack(items: Sequence[Obs]) -> Obs:
    if isinstance(items[0], dict):
        return {k: np.stack([it[k] for it in items]) for k in items[0]}
    return np.stack(items)
