"""The n-state random walk (Sutton & Barto, Example 6.2 with 5 states, 7.1 with 19).

States ``0 .. n+1`` in a row; ``0`` and ``n+1`` are terminal, the walk starts
in the centre. Action 0 steps left, 1 steps right. Under the uniform random
policy this is the classic random walk whose true values are known in closed
form (with rewards -1 / +1 and gamma = 1: ``v(s) = -1 + 2 s / (n + 1)``)::

    [-1] 1 2 ... 9 (10) 11 ... 19 [+1]
"""

from __future__ import annotations

import numpy as np

from craftlab.envs.tabular.base import Model, ModelEnv

LEFT, RIGHT = 0, 1


class RandomWalkEnv(ModelEnv):
    """Observation ``Discrete(n_states + 2)`` (0 and n_states+1 are terminal), action ``Discrete(2)``."""

    action_arrows = "<>"
    """one character per action, for printing greedy policies"""

    def __init__(
        self, n_states: int = 19, left_reward: float = -1.0, right_reward: float = 1.0, render_mode: str | None = None
    ):
        """
        Args:
            n_states: non-terminal states (19 in S&B Fig 7.2 and 12.3, 5 in Example 6.2).
            left_reward: reward for stepping into the left terminal (-1 for 19 states, 0 for 5).
            right_reward: reward for stepping into the right terminal.
            render_mode: None or ``"ansi"``.
        """
        if n_states < 1 or n_states % 2 == 0:
            raise ValueError(f"n_states must be odd and >= 1 (the walk starts in the centre), got {n_states}")
        self.n_states = n_states
        self.grid_shape = (1, n_states + 2)
        """rows, columns: how value functions are drawn"""
        last = n_states + 1
        P: Model = {}
        for s in range(last + 1):
            if s in (0, last):  # terminal: absorbing, as in Gymnasium's toy-text
                P[s] = {a: [(1.0, s, 0.0, True)] for a in (LEFT, RIGHT)}
                continue
            P[s] = {}
            for a, s2 in ((LEFT, s - 1), (RIGHT, s + 1)):
                reward = left_reward if s2 == 0 else right_reward if s2 == last else 0.0
                P[s][a] = [(1.0, s2, reward, s2 in (0, last))]
        start = np.zeros(last + 1)
        start[(last) // 2] = 1.0
        super().__init__(P, start, n_actions=2, render_mode=render_mode)

    def cell_of(self, s: int) -> tuple[int, int]:
        """Where state ``s`` is drawn: all states in one row."""
        return 0, int(s)

    def render_text(self) -> str:
        cells = ["[L]"] + [f"{s:^3d}" for s in range(1, self.n_states + 1)] + ["[R]"]
        cells[self.s] = " @ "
        return " ".join(cells) + "\n"
