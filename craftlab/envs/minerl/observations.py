"""Observation wrappers for MineRL (on the Gymnasium-API env).

* :class:`PovOnly` -- ``Dict`` -> the ``pov`` image ``uint8[H, W, 3]``.
* :class:`PovWithVector` -- ``Dict`` -> ``{"pov": uint8[H, W, 3], "vector": float32[n]}``
  with inventory counts (``log1p(count) / log1p(2304)``), the compass angle
  (``angle / 180``), the held item (one-hot over its Enum) and its wear
  (``damage / maxDamage``); a VectorObf ``vector`` is passed through.
* :class:`PovTransform` -- grayscale (keeps a channel axis: ``[H, W, 1]``)
  and/or resize (area average for integer factors, else nearest), on a pov
  Box or on the ``pov`` of a Dict.
* :class:`FrameSkip` -- repeat an action k steps and sum the rewards.
* :class:`FrameStack` -- the last k povs concatenated on the channel axis
  (``[H, W, C*k]``, oldest first), so CNN policies take it as one image.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from craftlab.envs.minerl.spaces import NamedDiscrete

_INV_SCALE = float(np.log1p(2304.0))


class PovOnly(gym.ObservationWrapper):
    """Keep only the ``pov`` image: ``uint8[H, W, 3]``."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or "pov" not in space.spaces:
            raise TypeError(f"minerl_pov needs a Dict observation with 'pov', got {space}")
        self.observation_space = space.spaces["pov"]

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        return observation["pov"]


def _vector_parts(space: gym.spaces.Dict) -> list[tuple[tuple[str, ...], str, int]]:
    """(key path, kind, size) of each leaf that goes into the vector, sorted keys."""
    parts: list[tuple[tuple[str, ...], str, int]] = []

    def visit(s: gym.Space, path: tuple[str, ...]) -> None:
        if isinstance(s, gym.spaces.Dict):
            for k, sub in s.spaces.items():
                visit(sub, path + (k,))
        elif path == ("pov",):
            return
        elif path == ("vector",):
            parts.append((path, "raw", int(np.prod(s.shape))))
        elif isinstance(s, NamedDiscrete):
            parts.append((path, "onehot", s.n))
        elif path and path[0] == "inventory":
            parts.append((path, "count", 1))
        elif path[-1] == "angle":
            parts.append((path, "angle", 1))
        elif path[-1] == "damage":
            parts.append((path, "wear", 1))
        elif path[-1] == "maxDamage":
            return
        elif isinstance(s, gym.spaces.Box):
            parts.append((path, "raw", int(np.prod(s.shape))))

    visit(space, ())
    return parts


def _get(obs: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        obs = obs[k]
    return obs


class PovWithVector(gym.ObservationWrapper):
    """``{"pov", "vector"}``: the image plus a flat float32 vector of the rest.

    ``labels`` names each vector entry (e.g. ``inventory.log``, ``compass.angle``,
    ``equipped_items.mainhand.type=wooden_pickaxe``).
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or "pov" not in space.spaces:
            raise TypeError(f"minerl_pov_vector needs a Dict observation with 'pov', got {space}")
        self.parts = _vector_parts(space)
        self.labels: list[str] = []
        for path, kind, size in self.parts:
            name = ".".join(path)
            if kind == "onehot":
                self.labels += [f"{name}={v}" for v in _get(space, path).values]
            elif size == 1:
                self.labels.append(name)
            else:
                self.labels += [f"{name}[{i}]" for i in range(size)]
        n = len(self.labels)
        low, high = -1.0, 1.0
        if any(kind == "raw" for _, kind, _ in self.parts):
            raw = [_get(space, p) for p, kind, _ in self.parts if kind == "raw"]
            low = min(low, *(float(np.min(b.low)) for b in raw))
            high = max(high, *(float(np.max(b.high)) for b in raw))
        self.observation_space = gym.spaces.Dict(
            OrderedDict(pov=space.spaces["pov"], vector=gym.spaces.Box(low, high, (max(n, 1),), np.float32))
        )

    def observation(self, observation: dict[str, Any]) -> OrderedDict:
        out: list[np.ndarray] = []
        for path, kind, size in self.parts:
            value = _get(observation, path)
            if kind == "count":
                out.append(np.array([np.log1p(max(float(value), 0.0)) / _INV_SCALE]))
            elif kind == "angle":
                out.append(np.array([float(value) / 180.0]))
            elif kind == "onehot":
                one = np.zeros(size)
                one[int(value)] = 1.0
                out.append(one)
            elif kind == "wear":
                parent = _get(observation, path[:-1])
                top = float(parent["maxDamage"])
                out.append(np.array([float(value) / top if top > 0 else 0.0]))
            else:
                out.append(np.asarray(value, np.float64).ravel())
        vector = np.concatenate(out).astype(np.float32) if out else np.zeros(1, np.float32)
        box = self.observation_space["vector"]
        return OrderedDict(pov=observation["pov"], vector=np.clip(vector, box.low, box.high))


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = img.shape[:2]
    th, tw = size
    if (h, w) == (th, tw):
        return img
    if h % th == 0 and w % tw == 0:
        fh, fw = h // th, w // tw
        out = img.reshape(th, fh, tw, fw, img.shape[2]).mean(axis=(1, 3))
        return np.round(out).astype(img.dtype)
    rows = (np.arange(th) * h / th).astype(int)
    cols = (np.arange(tw) * w / tw).astype(int)
    return img[rows][:, cols]


class PovTransform(gym.ObservationWrapper):
    """Grayscale and/or resize the pov (a Box image, or the ``pov`` of a Dict).

    Args:
        env: the env.
        grayscale: RGB -> luminance (0.299 R + 0.587 G + 0.114 B), ``[H, W, 1]``.
        size: target ``[height, width]`` (or one int for a square); None keeps it.
    """

    def __init__(self, env: gym.Env, grayscale: bool = False, size: int | Sequence[int] | None = None):
        super().__init__(env)
        space = env.observation_space
        self._in_dict = isinstance(space, gym.spaces.Dict)
        pov = space.spaces["pov"] if self._in_dict else space
        if not isinstance(pov, gym.spaces.Box) or len(pov.shape) != 3:
            raise TypeError(f"minerl_pov_transform needs an [H, W, C] image, got {pov}")
        self.grayscale = grayscale
        h, w, c = pov.shape
        self.size = (
            (h, w) if size is None else ((size, size) if isinstance(size, int) else (int(size[0]), int(size[1])))
        )
        new = gym.spaces.Box(0, 255, (*self.size, 1 if grayscale else c), np.uint8)
        if self._in_dict:
            self.observation_space = gym.spaces.Dict(
                OrderedDict((k, new if k == "pov" else s) for k, s in space.spaces.items())
            )
        else:
            self.observation_space = new

    def _pov(self, img: np.ndarray) -> np.ndarray:
        if self.grayscale:
            img = np.round(img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
            img = np.clip(img, 0, 255).astype(np.uint8)
        return _resize(img, self.size)

    def observation(self, observation: Any) -> Any:
        if self._in_dict:
            out = OrderedDict(observation)
            out["pov"] = self._pov(observation["pov"])
            return out
        return self._pov(observation)


class FrameSkip(gym.Wrapper):
    """Repeat each action ``skip`` times; the reward is the sum, the episode
    ends as soon as a repeated step ends it (its info is returned)."""

    def __init__(self, env: gym.Env, skip: int = 4):
        super().__init__(env)
        if skip < 1:
            raise ValueError(f"skip must be >= 1, got {skip}")
        self.skip = int(skip)

    def step(self, action: Any):
        total = 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class FrameStack(gym.ObservationWrapper):
    """The last ``k`` povs on the channel axis: ``[H, W, C]`` -> ``[H, W, C*k]``
    (oldest first; the first frame is repeated after a reset). On a Dict only
    ``pov`` is stacked; other keys are the latest."""

    def __init__(self, env: gym.Env, k: int = 4):
        super().__init__(env)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)
        space = env.observation_space
        self._in_dict = isinstance(space, gym.spaces.Dict)
        pov = space.spaces["pov"] if self._in_dict else space
        if not isinstance(pov, gym.spaces.Box) or len(pov.shape) != 3:
            raise TypeError(f"minerl_frame_stack needs an [H, W, C] image, got {pov}")
        h, w, c = pov.shape
        new = gym.spaces.Box(0, 255, (h, w, c * self.k), pov.dtype)
        if self._in_dict:
            self.observation_space = gym.spaces.Dict(
                OrderedDict((key, new if key == "pov" else s) for key, s in space.spaces.items())
            )
        else:
            self.observation_space = new
        self._frames: deque = deque(maxlen=self.k)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._frames.clear()
        pov = obs["pov"] if self._in_dict else obs
        for _ in range(self.k - 1):
            self._frames.append(pov)
        return self.observation(obs), info

    def observation(self, observation: Any) -> Any:
        pov = observation["pov"] if self._in_dict else observation
        self._frames.append(pov)
        stacked = np.concatenate(list(self._frames), axis=-1)
        if self._in_dict:
            out = OrderedDict(observation)
            out["pov"] = stacked
            return out
        return stacked
