"""Windy gridworld (Sutton & Barto, Example 6.5).

A 7 x 10 grid; a crosswind pushes the agent up by the column's strength
(``0 0 0 1 1 1 2 2 1 0``) after each move. Reward -1 per step until the goal,
so the return is minus the episode length; the shortest path takes 15 steps.
Moves off the grid stay at the edge. ``king_moves=True`` adds the four
diagonals (Exercise 6.9) and ``stochastic_wind=True`` varies the wind by -1/0/+1
with equal probability in windy columns (Exercise 6.10)::

    . . . . . . . . . .
    . . . . . . . . . .
    . . . . . . . . . .
    S . . . . . . G . .
    . . . . . . . . . .
    . . . . . . . . . .
    . . . . . . . . . .
    0 0 0 1 1 1 2 2 1 0   <- wind
"""

from __future__ import annotations

import numpy as np

from craftlab.envs.tabular.base import Model, ModelEnv

WIND = (0, 0, 0, 1, 1, 1, 2, 2, 1, 0)
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1))
"""(d_row, d_col) of actions 0..7: up, right, down, left, then the diagonals"""


class WindyGridworldEnv(ModelEnv):
    """Observation ``Discrete(70)`` (state = row * 10 + col), action ``Discrete(4)`` (or 8 with king moves)."""

    def __init__(self, king_moves: bool = False, stochastic_wind: bool = False, render_mode: str | None = None):
        """
        Args:
            king_moves: 8 actions (adds diagonal moves) instead of 4.
            stochastic_wind: in windy columns the push is wind-1, wind or wind+1, each with probability 1/3.
            render_mode: None or ``"ansi"``.
        """
        self.rows, self.cols = 7, 10
        self.grid_shape = (self.rows, self.cols)
        self.start, self.goal = (3, 0), (3, 7)
        n_actions = 8 if king_moves else 4
        self.action_arrows = "^>v<" + ("/\\/\\" if king_moves else "")
        P: Model = {}
        for r in range(self.rows):
            for c in range(self.cols):
                s = self.encode(r, c)
                if (r, c) == self.goal:
                    P[s] = {a: [(1.0, s, 0.0, True)] for a in range(n_actions)}
                    continue
                P[s] = {}
                for a in range(n_actions):
                    dr, dc = MOVES[a]
                    pushes = [WIND[c] - 1, WIND[c], WIND[c] + 1] if (stochastic_wind and WIND[c]) else [WIND[c]]
                    outcomes: dict[int, float] = {}
                    for push in pushes:  # wind of the column the agent leaves
                        r2 = min(max(r + dr - push, 0), self.rows - 1)
                        c2 = min(max(c + dc, 0), self.cols - 1)
                        s2 = self.encode(r2, c2)
                        outcomes[s2] = outcomes.get(s2, 0.0) + 1.0 / len(pushes)
                    P[s][a] = [(p, s2, -1.0, s2 == self.encode(*self.goal)) for s2, p in outcomes.items()]
        start = np.zeros(self.rows * self.cols)
        start[self.encode(*self.start)] = 1.0
        super().__init__(P, start, n_actions=n_actions, render_mode=render_mode)

    def encode(self, row: int, col: int) -> int:
        return row * self.cols + col

    def decode(self, s: int) -> tuple[int, int]:
        return divmod(int(s), self.cols)

    def render_text(self) -> str:
        lines = []
        for r in range(self.rows):
            row = []
            for c in range(self.cols):
                row.append(
                    "@"
                    if self.decode(self.s) == (r, c)
                    else "G"
                    if (r, c) == self.goal
                    else "S"
                    if (r, c) == self.start
                    else "."
                )
            lines.append(" ".join(row))
        lines.append(" ".join(str(w) for w in WIND))
        return "\n".join(lines) + "\n"
