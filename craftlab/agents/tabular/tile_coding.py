"""Tile coding: a sparse binary feature vector for a continuous state (S&B Section 9.5.4).

The state box ``[low, high]`` (d dimensions) is covered by ``n_tilings``
grids ("tilings") of ``tiles`` x ... x ``tiles`` tiles each. Every tiling is
shifted by a different fraction of a tile width, so a point falls into
exactly one tile per tiling and nearby points share most of their tiles:

    x_scaled = (x - low) / (high - low) * tiles               in [0, tiles]
    tiling i, dimension j:  tile = floor(x_scaled_j + i * u_j / n_tilings)

with the asymmetric displacement vector ``u = (1, 3, 5, ...)`` (the first odd
numbers, S&B's recommendation: uniform offsets ``u = (1, 1, ...)`` line all
tilings up along the diagonal). A shift pushes points up to one tile further,
so each tiling has ``tiles + 1`` tiles per dimension. The feature vector
x(s) has one 1 per tiling; :meth:`TileCoder.active` returns the indices of
those ``n_tilings`` ones (no hashing: the grids are small enough in 2-D).
"""

from __future__ import annotations

import numpy as np


class TileCoder:
    """``active(x) -> int64[n_tilings]``: the tiles a point lies in, indices into ``[0, n_features)``."""

    def __init__(self, low: np.ndarray, high: np.ndarray, n_tilings: int = 8, tiles: int = 8):
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        if self.low.shape != self.high.shape or self.low.ndim != 1:
            raise ValueError(f"low and high must be 1-D of equal length, got {self.low.shape} and {self.high.shape}")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)) and np.all(self.high > self.low)):
            raise ValueError(f"tile coding needs finite bounds with high > low, got low={self.low}, high={self.high}")
        self.n_tilings, self.tiles = int(n_tilings), int(tiles)
        self.dims = len(self.low)
        side = self.tiles + 1  # tiles per dimension after the shift
        u = 2 * np.arange(self.dims) + 1  # displacement vector (1, 3, 5, ...)
        # offset of tiling i in tile widths, kept in [0, 1): i * u / n_tilings mod 1
        self.offsets = (np.arange(self.n_tilings)[:, None] * u[None, :] / self.n_tilings) % 1.0
        self.strides = side ** np.arange(self.dims - 1, -1, -1)  # row-major index of a tile in its tiling
        self.tiling_base = np.arange(self.n_tilings) * side**self.dims
        self.n_features = self.n_tilings * side**self.dims
        """length of the feature vector x(s)"""

    def active(self, x: np.ndarray) -> np.ndarray:
        """Indices of the ``n_tilings`` features that are 1 for state ``x`` (values outside the box are clipped)."""
        scaled = (np.clip(np.asarray(x, dtype=np.float64), self.low, self.high) - self.low) / (self.high - self.low)
        coords = np.floor(scaled * self.tiles + self.offsets).astype(np.int64)  # int64[n_tilings, dims]
        return self.tiling_base + coords @ self.strides

    def features(self, x: np.ndarray) -> np.ndarray:
        """The dense binary feature vector x(s), ``float64[n_features]`` (for tests and plots)."""
        phi = np.zeros(self.n_features)
        phi[self.active(x)] = 1.0
        return phi
