"""MineRL spaces and values -> Gymnasium spaces and values (and back for actions).

Works on the real ``minerl`` spaces and on :mod:`craftlab.envs.minerl.minerl_spaces`
alike (duck typing: an Enum has ``values``; a Dict has ``spaces``; a Box has
``low``/``high``; a Discrete has ``n``).

* MineRL ``Enum`` -> :class:`NamedDiscrete` (a Gymnasium ``Discrete``) whose
  index ``i`` is MineRL's sorted ``values[i]``; the names and the default are kept.
* Nested Dicts stay nested, keys in MineRL's (sorted) order.
* Observations are cast to the declared dtypes: the real env emits int64
  inventory counts, a float64 compass angle and ``str`` item types, which
  Gymnasium's ``Box.contains`` (it checks ``np.can_cast``) would reject.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import gymnasium as gym
import numpy as np


class NamedDiscrete(gym.spaces.Discrete):
    """A Gymnasium ``Discrete(n)`` that remembers MineRL's Enum values.

    Index ``i`` means ``values[i]`` (MineRL's sorted order); ``default`` is the
    Enum's no-op value (``'none'`` for actions) and ``default_index`` its index.
    """

    def __init__(self, values: tuple[str, ...] | list[str], default: str | None = None, seed: Any = None):
        super().__init__(len(values), seed=seed)
        self.values: tuple[str, ...] = tuple(str(v) for v in values)
        self.default: str = str(default) if default is not None else self.values[0]
        self.index: dict[str, int] = {v: i for i, v in enumerate(self.values)}

    @property
    def default_index(self) -> int:
        return self.index[self.default]

    def __repr__(self) -> str:
        return f"NamedDiscrete({list(self.values)}, default={self.default!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, NamedDiscrete) and other.values == self.values and other.default == self.default

    def __hash__(self) -> int:
        return hash(self.values)


def is_enum(space: Any) -> bool:
    return (
        hasattr(space, "values")
        and hasattr(space, "n")
        and not isinstance(space, NamedDiscrete)
        and not callable(space.values)
    )


def is_dict(space: Any) -> bool:
    return hasattr(space, "spaces") and isinstance(space.spaces, dict)


def to_gymnasium_space(space: Any) -> gym.Space:
    """Convert one MineRL space (recursively) to its Gymnasium equivalent."""
    if is_dict(space):
        return gym.spaces.Dict(OrderedDict((k, to_gymnasium_space(s)) for k, s in space.spaces.items()))
    if is_enum(space):
        return NamedDiscrete(
            [str(v) for v in np.asarray(space.values).tolist()], default=getattr(space, "default", None)
        )
    if hasattr(space, "low") and hasattr(space, "high"):
        dtype = np.dtype(space.dtype)
        return gym.spaces.Box(np.asarray(space.low, dtype), np.asarray(space.high, dtype), tuple(space.shape), dtype)
    if hasattr(space, "n"):
        return gym.spaces.Discrete(int(space.n))
    raise TypeError(f"cannot convert MineRL space {space!r} to a Gymnasium space")


def observation_to_gymnasium(obs: Any, space: gym.Space) -> Any:
    """A MineRL observation -> a value of the converted ``space``.

    Box leaves are cast to the declared dtype and shape; Enum strings become
    indices (an unknown item name maps to ``'other'`` if the Enum has it, else
    to the default).
    """
    if isinstance(space, gym.spaces.Dict):
        return OrderedDict((k, observation_to_gymnasium(obs[k], s)) for k, s in space.spaces.items())
    if isinstance(space, NamedDiscrete):
        name = str(obs)
        if name not in space.index:
            name = "other" if "other" in space.index else space.default
        return np.int64(space.index[name])
    if isinstance(space, gym.spaces.Box):
        return np.asarray(obs, dtype=space.dtype).reshape(space.shape)
    if isinstance(space, gym.spaces.Discrete):
        return np.int64(obs)
    return obs


def action_to_minerl(action: Any, space: gym.Space) -> Any:
    """A Gymnasium action of the converted ``space`` -> the action MineRL expects.

    Enum indices become their value strings (MineRL sends ``str(x)`` to Malmo,
    so an int would be sent as ``"place 2"``); Discrete keys become Python ints;
    Boxes become arrays of the declared dtype. A partial dict stays partial.
    """
    if isinstance(space, gym.spaces.Dict):
        return OrderedDict((k, action_to_minerl(action[k], space.spaces[k])) for k in space.spaces if k in action)
    if isinstance(space, NamedDiscrete):
        if isinstance(action, str):
            return action
        return space.values[int(action)]
    if isinstance(space, gym.spaces.Box):
        return np.asarray(action, dtype=space.dtype).reshape(space.shape)
    if isinstance(space, gym.spaces.Discrete):
        return int(action)
    return action


def action_to_gymnasium(action: Any, space: gym.Space) -> Any:
    """A MineRL-form action (e.g. from a demonstration: Enum strings, numpy
    scalars) -> a full action of the converted ``space``; missing keys get the
    no-op (0, zeros, the Enum default)."""
    if isinstance(space, gym.spaces.Dict):
        action = action or {}
        return OrderedDict(
            (k, action_to_gymnasium(action[k], s) if k in action else noop(s)) for k, s in space.spaces.items()
        )
    if isinstance(space, NamedDiscrete):
        if isinstance(action, (str, np.str_)):
            return np.int64(space.index.get(str(action), space.default_index))
        return np.int64(action)
    if isinstance(space, gym.spaces.Box):
        return np.asarray(action, dtype=space.dtype).reshape(space.shape)
    if isinstance(space, gym.spaces.Discrete):
        return np.int64(action)
    return action


def noop(space: gym.Space) -> Any:
    """The no-op of a converted space: keys 0, camera zeros, Enums their default."""
    if isinstance(space, gym.spaces.Dict):
        return OrderedDict((k, noop(s)) for k, s in space.spaces.items())
    if isinstance(space, NamedDiscrete):
        return np.int64(space.default_index)
    if isinstance(space, gym.spaces.Box):
        return np.zeros(space.shape, space.dtype)
    if isinstance(space, gym.spaces.Discrete):
        return np.int64(space.start)
    raise TypeError(f"no no-op for {space!r}")
