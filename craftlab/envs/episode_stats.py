"""Per-episode statistics, recorded inside each environment.

:class:`EpisodeStatistics` adds ``info["episode"]`` on the step that ends an
episode: ``{"r": return, "l": length, "t": seconds}`` (the keys SB3's Monitor
uses, so SB3's own logging reads them too) plus, where the environment reports
``info["achievements"]`` (Crafter, MineRL milestones), ``"achievements"``:
the count of each achievement in that episode.

Vector environments merge infos into arrays with ``_key`` masks;
:func:`finished_episodes` turns that back into one dict per finished episode.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import gymnasium as gym
import numpy as np


class EpisodeStatistics(gym.Wrapper):
    """Add ``info["episode"]`` when an episode ends (terminated or truncated)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._return = 0.0
        self._length = 0
        self._start = time.perf_counter()

    def reset(self, **kwargs):
        self._return, self._length, self._start = 0.0, 0, time.perf_counter()
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            episode = {"r": self._return, "l": self._length, "t": round(time.perf_counter() - self._start, 6)}
            if "achievements" in info:
                episode["achievements"] = {k: int(v) for k, v in info["achievements"].items()}
            info = dict(info)
            info["episode"] = episode
        return obs, reward, terminated, truncated, info


def finished_episodes(infos: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(env_index, episode)`` for each episode that ended in this step.

    Accepts a Gymnasium vector env's merged info (either autoreset mode: the
    episode sits in ``final_info`` in same-step mode) or a list of per-env
    info dicts (SB3's VecEnv).
    """
    if isinstance(infos, (list, tuple)):
        for i, info in enumerate(infos):
            if info and "episode" in info:
                yield i, info["episode"]
        return
    if not infos:
        return
    source = infos.get("final_info", infos) if "final_info" in infos else infos
    if "episode" not in source:
        return
    episode, mask = source["episode"], source.get("_episode")
    for i in np.flatnonzero(mask if mask is not None else np.ones_like(episode["r"], dtype=bool)):
        out = {"r": float(episode["r"][i]), "l": int(episode["l"][i]), "t": float(episode["t"][i])}
        if "achievements" in episode:
            out["achievements"] = {k: int(v[i]) for k, v in episode["achievements"].items() if not k.startswith("_")}
        yield int(i), out
