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
    ``terminated`` ``bool[B]``: True where ``s_{t+1}`` is terminal (no bootstrapping from
    it; a time-limit truncation is done but not terminated), or None where the source
    does not say (MineRL demonstrations): then treat ``done`` as terminated.
    """

    obs: Obs
    action: np.ndarray
    reward: np.ndarray
    next_obs: Obs
    done: np.ndarray
    terminated: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.reward)

    @property
    def terminal(self) -> np.ndarray:
        """``bool[B]``: where not to bootstrap (``terminated``, or ``done`` if unknown)."""
        return self.done if self.terminated is None else self.terminated

    def take(self, index: np.ndarray | slice) -> "TransitionBatch":
        """The transitions at ``index`` (an index array or a slice) as a new batch."""

        def pick(obs: Obs) -> Obs:
            return {k: v[index] for k, v in obs.items()} if isinstance(obs, dict) else obs[index]

        return TransitionBatch(
            pick(self.obs),
            self.action[index],
            self.reward[index],
            pick(self.next_obs),
            self.done[index],
            None if self.terminated is None else self.terminated[index],
        )

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
