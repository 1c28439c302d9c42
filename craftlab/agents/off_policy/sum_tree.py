"""Segment trees over the priorities of prioritised experience replay
(Schaul et al. 2016, "Prioritized Experience Replay", Appendix B.2.1).

A binary tree whose leaves hold ``p_i^alpha`` and whose inner nodes hold the sum
(:class:`SumTree`) or the minimum (:class:`MinTree`) of their children. Drawing
transition ``i`` with probability ``P(i) = p_i^alpha / sum_k p_k^alpha`` is a
walk from the root: draw ``u ~ U[0, total)`` and descend into the left child if
``u`` is below its sum, else subtract that sum and descend right. Updating a
leaf and sampling are both O(log capacity). The minimum gives ``max_i w_i`` for
normalising the importance-sampling weights.

Layout: node 1 is the root, node ``k``'s children are ``2k`` and ``2k + 1``,
leaf ``i`` is node ``size + i`` (``size`` = capacity rounded up to a power of
two, so every leaf is at the same depth). All operations take arrays of leaf
indices and run vectorised in numpy.
"""

from __future__ import annotations

import numpy as np


class SegmentTree:
    """A complete binary tree of float64 values combined by ``op`` (a numpy ufunc)."""

    def __init__(self, capacity: int, op: np.ufunc, neutral: float):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.size = 1 << (capacity - 1).bit_length()
        """number of leaves: capacity rounded up to a power of two"""
        self.op, self.neutral = op, neutral
        self.nodes = np.full(2 * self.size, neutral, dtype=np.float64)
        """``nodes[1]`` is the root, ``nodes[size + i]`` is leaf i (node 0 is unused)"""

    def __getitem__(self, leaves: np.ndarray) -> np.ndarray:
        return self.nodes[self.size + np.asarray(leaves)]

    def update(self, leaves: np.ndarray, values: np.ndarray) -> None:
        """Set ``leaf[i] = value[i]`` and recompute every ancestor (duplicates: the last wins)."""
        nodes = self.size + np.asarray(leaves, dtype=np.int64).reshape(-1)
        if len(nodes) == 0:
            return
        self.nodes[nodes] = np.asarray(values, dtype=np.float64).reshape(-1)
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.nodes[nodes] = self.op(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])
            nodes = np.unique(nodes // 2)

    def rebuild(self, leaf_values: np.ndarray) -> None:
        """Set all ``capacity`` leaves at once and recompute the tree bottom-up (loading)."""
        self.nodes[:] = self.neutral
        self.nodes[self.size : self.size + self.capacity] = leaf_values
        for level_start in (1 << d for d in reversed(range(self.size.bit_length() - 1))):
            k = np.arange(level_start, 2 * level_start)
            self.nodes[k] = self.op(self.nodes[2 * k], self.nodes[2 * k + 1])

    @property
    def root(self) -> float:
        return float(self.nodes[1])


class SumTree(SegmentTree):
    """Sums of priorities: ``total`` and proportional sampling by prefix sum."""

    def __init__(self, capacity: int):
        super().__init__(capacity, np.add, 0.0)

    @property
    def total(self) -> float:
        """sum_k p_k^alpha over all leaves"""
        return self.root

    def find_prefix_sum(self, values: np.ndarray) -> np.ndarray:
        """For each ``u`` in ``values`` (each in [0, total)), the leaf ``i`` with
        ``sum_{k<i} leaf_k <= u < sum_{k<=i} leaf_k``: a draw with probability
        ``leaf_i / total`` when ``u ~ U[0, total)``. Never returns a zero leaf."""
        u = np.asarray(values, dtype=np.float64).copy()
        node = np.ones(len(u), dtype=np.int64)
        while node[0] < self.size:  # every leaf is at the same depth
            left = 2 * node
            left_sum = self.nodes[left]
            # go right when u is past the left subtree (and the right one holds any mass:
            # guards against rounding pushing u just past the last non-zero leaf)
            right = (u >= left_sum) & (self.nodes[left + 1] > 0)
            u = np.where(right, u - left_sum, u)
            node = left + right
        return node - self.size


class MinTree(SegmentTree):
    """Minimum of the priorities; leaves that hold no transition are +inf."""

    def __init__(self, capacity: int):
        super().__init__(capacity, np.minimum, np.inf)

    @property
    def min(self) -> float:
        return self.root
