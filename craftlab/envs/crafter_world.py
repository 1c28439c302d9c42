"""Crafter's world with its chunk creature sets kept in insertion order.

Stock crafter keeps each chunk's objects in a ``set``, which iterates in
memory-address order; a despawn picks by that order, so two ``crafter.Env(seed=0)``
runs fed the same actions diverge after about 100 steps. Both of craftlab's
engines (:mod:`craftlab.envs.crafter`, :mod:`craftlab.envs.crafter_fast`) use
:class:`OrderedChunksWorld`, which makes episodes reproduce exactly.
"""

from __future__ import annotations

import collections

from crafter import engine as crafter_engine


class OrderedSet(dict):
    """The part of ``set``'s interface crafter's chunks use, iterating in insertion order."""

    __slots__ = ()

    def add(self, item):
        self[item] = None

    def remove(self, item):
        del self[item]


class OrderedChunksWorld(crafter_engine.World):
    """crafter's World with insertion-ordered chunk sets (reproducible episodes)."""

    def reset(self, seed=None):
        super().reset(seed)
        self._chunks = collections.defaultdict(OrderedSet)
