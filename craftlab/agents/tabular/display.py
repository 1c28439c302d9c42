"""Seeing what a tabular agent learned: its value function and greedy policy
drawn on the environment's grid, as text and as a PNG heat map.

Grid worlds say how states map to cells: craftlab's tabular envs through
``cell_of(s) -> (row, col) | None`` (or a ``decode`` giving ``(row, col)``)
plus ``grid_shape`` and ``action_arrows``; Gymnasium's FrozenLake and
CliffWalking are known here. Other environments (Taxi, Blackjack) have no grid
and are not drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np

from craftlab.core.run_dir import RunDir

Layout = tuple[tuple[int, int], Callable[[int], "tuple[int, int] | None"], str]
"""(grid shape (rows, cols), state -> cell or None, one arrow character per action)"""


def grid_layout(env: gym.Env) -> Layout | None:
    """How to draw ``env``'s states on a grid, or None when it has no grid."""
    u = env.unwrapped
    name = type(u).__name__
    if name == "FrozenLakeEnv":
        rows, cols = u.desc.shape
        return (rows, cols), lambda s: divmod(s, cols), "<v>^"
    if name == "CliffWalkingEnv":
        rows, cols = u.shape
        return (rows, cols), lambda s: divmod(s, cols), "^>v<"
    shape = getattr(u, "grid_shape", None)
    arrows = getattr(u, "action_arrows", None)
    if shape is None or arrows is None:
        return None
    cell_of = getattr(u, "cell_of", None)
    if cell_of is None:
        cols = shape[1]
        cell_of = lambda s: divmod(s, cols)  # noqa: E731
    return tuple(shape), cell_of, arrows


def value_grids(layout: Layout, V: np.ndarray, policy: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(values float64[rows, cols] with NaN where no state, arrows <U1[rows, cols])``."""
    (rows, cols), cell_of, arrows = layout
    values = np.full((rows, cols), np.nan)
    chars = np.full((rows, cols), " ", dtype="<U1")
    for s in range(len(V)):
        cell = cell_of(s)
        if cell is None:
            continue
        values[cell] = V[s]
        if policy is not None:
            chars[cell] = arrows[int(policy[s])]
    return values, chars


def values_text(env: gym.Env, V: np.ndarray, policy: np.ndarray | None) -> str | None:
    """The value of each cell, then the greedy action of each cell, as text."""
    layout = grid_layout(env)
    if layout is None:
        return None
    values, chars = value_grids(layout, V, policy)
    lines = ["state values V(s):"]
    lines += [" ".join("   .   " if np.isnan(v) else f"{v:7.2f}" for v in row) for row in values]
    if policy is not None:
        lines += ["", "greedy policy:"] + [" ".join(row) for row in chars]
    return "\n".join(lines) + "\n"


def save_values(
    env: gym.Env, V: np.ndarray, policy: np.ndarray | None, run_dir: str | Path, title: str = ""
) -> Path | None:
    """Write ``values.txt`` and ``values.png`` (heat map with policy arrows) into ``run_dir``."""
    layout = grid_layout(env)
    if layout is None:
        return None
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    text = values_text(env, V, policy)
    RunDir(run_dir).values_text.write_text(text or "")
    print(text)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values, chars = value_grids(layout, V, policy)
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(max(4, cols * 0.7), max(2, rows * 0.7 + 1)))
    image = ax.imshow(values, cmap="viridis")
    for r in range(rows):
        for c in range(cols):
            if not np.isnan(values[r, c]):
                ax.text(c, r, f"{chars[r, c]}\n{values[r, c]:.2f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    path = RunDir(run_dir).values_picture
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def save_cost_to_go(
    cost: Callable[[np.ndarray], float],
    low: np.ndarray,
    high: np.ndarray,
    run_dir: str | Path,
    title: str = "",
    labels: tuple[str, str] = ("x0", "x1"),
    resolution: int = 50,
) -> Path:
    """A continuous 2-D state's cost-to-go ``cost(x)`` (e.g. ``-max_a q(x, a)``, S&B Fig 10.1)
    as a heat map over ``[low, high]``, written to ``values.png`` in ``run_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    grid = np.array([[cost(np.array([x, y])) for x in xs] for y in ys])  # rows: y, columns: x
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", extent=(low[0], high[0], low[1], high[1]))
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8)
    path = RunDir(run_dir).values_picture
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
