"""Space classes with the interface of ``minerl.herobraine.hero.spaces`` (0.4.4 / 1.0).

The stand-in env (:mod:`craftlab.envs.minerl.standin`) declares its spaces with these,
so code written against MineRL's spaces (``Enum.values``, ``no_op()``, string
Enum actions, sorted Dict keys) is exercised without MineRL. Semantics follow
the spec (docs/minerl.md, "Interface facts"):

* ``Enum(*values, default)`` sorts its values; index ``i`` is ``values[i]``;
  ``contains`` accepts the *strings* only (``contains(2)`` is False);
  ``sample()`` returns ``np.str_``; ``no_op()`` returns ``default`` as ``str``.
* ``Dict`` iterates in sorted key order; ``no_op()``/``sample()`` return an
  ``OrderedDict``; ``noop()`` is the deprecated alias (DeprecationWarning).
* ``Discrete.no_op()`` is the int 0; its ``sample()`` is a 0-d int64 array.
* ``Box.contains`` ignores the dtype (as gym 0.19 did).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Iterable

import numpy as np


class MineRLSpace:
    """Common base: an own RNG seeded by :meth:`seed`."""

    def __init__(self) -> None:
        self.np_random = np.random.RandomState()

    def seed(self, seed: int | None = None) -> list[int | None]:
        self.np_random = np.random.RandomState(seed)
        return [seed]

    def noop(self, batch_shape: tuple[int, ...] = ()) -> Any:
        warnings.warn(
            "space.noop() is being deprecated for space.no_op() in MineRL 1.0.0. "
            "Please change your code to reflect this change.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.no_op(batch_shape)

    def no_op(self, batch_shape: tuple[int, ...] = ()) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class Box(MineRLSpace):
    """``Box(low, high, shape, dtype)``; ``no_op`` is zeros."""

    def __init__(self, low: float, high: float, shape: tuple[int, ...], dtype: Any = np.float32):
        super().__init__()
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.low = np.full(self.shape, low, dtype=self.dtype)
        self.high = np.full(self.shape, high, dtype=self.dtype)

    def no_op(self, batch_shape: tuple[int, ...] = ()) -> np.ndarray:
        return np.zeros(tuple(batch_shape) + self.shape, dtype=self.dtype)

    def sample(self) -> np.ndarray:
        if self.dtype.kind in "iu":
            return self.np_random.randint(self.low, self.high + 1, size=self.shape).astype(self.dtype)
        return self.np_random.uniform(self.low, self.high, size=self.shape).astype(self.dtype)

    def contains(self, x: Any) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self) -> str:
        return f"Box(low={self.low.min()}, high={self.high.max()}, shape={self.shape}, dtype={self.dtype})"


class Discrete(MineRLSpace):
    """``Discrete(n)``; keyboard keys are ``Discrete(2)``, 1 = pressed."""

    def __init__(self, n: int):
        super().__init__()
        self.n = int(n)
        self.shape: tuple[int, ...] = ()
        self.dtype = np.dtype(np.int64)

    def no_op(self, batch_shape: tuple[int, ...] = ()) -> Any:
        return 0 if not batch_shape else np.zeros(batch_shape, dtype=np.int64)

    def sample(self) -> np.ndarray:
        return np.array(self.np_random.randint(self.n), dtype=np.int64)

    def contains(self, x: Any) -> bool:
        try:
            v = int(x)
        except (TypeError, ValueError):
            return False
        return 0 <= v < self.n and np.asarray(x).shape == ()

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Enum(Discrete):
    """``Enum(*values, default=None)``: a Discrete whose values are sorted strings."""

    def __init__(self, *values: str, default: str | None = None):
        values = tuple(sorted(values))
        super().__init__(len(values))
        self.values = np.array(values)
        self.default = default if default is not None else values[0]
        self.value_map = {v: i for i, v in enumerate(values)}

    def no_op(self, batch_shape: tuple[int, ...] = ()) -> Any:
        if not batch_shape:
            return str(self.default)
        return np.full(batch_shape, self.default, dtype=self.values.dtype)

    def sample(self) -> np.str_:
        return self.values[self.np_random.randint(self.n)]

    def contains(self, x: Any) -> bool:
        return x in self.values

    def __repr__(self) -> str:
        return f"Enum({','.join(self.values.tolist())})"


class Dict(MineRLSpace):
    """A dict of spaces, iterated in sorted key order (gym<0.22 sorted plain dicts)."""

    def __init__(self, spaces: dict[str, MineRLSpace] | Iterable[tuple[str, MineRLSpace]]):
        super().__init__()
        items = spaces.items() if isinstance(spaces, dict) else spaces
        self.spaces: OrderedDict[str, MineRLSpace] = OrderedDict(sorted(items))

    def seed(self, seed: int | None = None) -> list[int | None]:
        super().seed(seed)
        for i, space in enumerate(self.spaces.values()):
            space.seed(None if seed is None else seed + i)
        return [seed]

    def no_op(self, batch_shape: tuple[int, ...] = ()) -> OrderedDict:
        return OrderedDict((k, s.no_op(batch_shape)) for k, s in self.spaces.items())

    def sample(self) -> OrderedDict:
        return OrderedDict((k, s.sample()) for k, s in self.spaces.items())

    def contains(self, x: Any) -> bool:
        if not isinstance(x, dict) or set(x) != set(self.spaces):
            return False
        return all(s.contains(x[k]) for k, s in self.spaces.items())

    def __getitem__(self, key: str) -> MineRLSpace:
        return self.spaces[key]

    def keys(self):
        return self.spaces.keys()

    def items(self):
        return self.spaces.items()

    def __iter__(self):
        return iter(self.spaces)

    def __repr__(self) -> str:
        return "Dict(" + ", ".join(f"{k}:{s}" for k, s in self.spaces.items()) + ")"
