"""The chain walk of Lagoudakis & Parr's LSPI paper (JMLR 2003; after Koller & Parr 2000).

``n`` states in a row, two actions, left (0) and right (1). An action moves the
agent one state in the intended direction with probability ``success`` (0.9)
and one state the *other* way otherwise; the two ends are dead ends (a move
off the chain stays put). Being in a rewarded state pays +1 for the step taken
from it (the reward is ``r(s)``, a function of the state the step starts in),
every other step pays 0. The task is continuing: nothing terminates, so the
environment truncates an episode after ``episode_steps`` steps (discounting with
gamma < 1 keeps values finite; the paper uses gamma = 0.9)::

    4 states, rewards in 2 and 3 (1-based):     0  [+1] [+1]  0       optimal policy: R R L L
    50 states, rewards in 10 and 41 (1-based):  R to 10, L/R towards the nearer reward after

States are 0-based here: the 4-state chain rewards states 1 and 2 and the
50-state chain states 9 and 40. Episodes start in a uniformly random state, so
random-policy samples cover the whole chain (LSPI learns from such a batch).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from craftlab.envs.tabular.base import Model, ModelEnv

LEFT, RIGHT = 0, 1

PAPER_REWARDS = {4: (1, 2), 50: (9, 40)}
"""the rewarded states (0-based) of the paper's 4- and 50-state chains"""


class ChainWalkEnv(ModelEnv):
    """Observation ``Discrete(n_states)``, action ``Discrete(2)`` (0 left, 1 right)."""

    action_arrows = "<>"
    """one character per action, for printing greedy policies"""

    def __init__(
        self,
        n_states: int = 50,
        rewarded: Sequence[int] | None = None,
        success: float = 0.9,
        episode_steps: int = 100,
        render_mode: str | None = None,
    ):
        """
        Args:
            n_states: states in the chain (the paper's examples have 4, 20 and 50).
            rewarded: 0-based states that pay +1; None takes the paper's for 4 or 50
                states (else the two states a fifth of the way in from each end).
            success: probability that an action moves the intended way (else the opposite way).
            episode_steps: steps after which an episode is truncated (the task itself never ends).
            render_mode: None or ``"ansi"``.
        """
        if n_states < 2:
            raise ValueError(f"n_states must be >= 2, got {n_states}")
        if not 0.0 <= success <= 1.0:
            raise ValueError(f"success must be in [0, 1], got {success}")
        if episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {episode_steps}")
        if rewarded is None:
            rewarded = PAPER_REWARDS.get(n_states, (n_states // 5, n_states - 1 - n_states // 5))
        self.rewarded = tuple(int(s) for s in rewarded)
        if not all(0 <= s < n_states for s in self.rewarded):
            raise ValueError(f"rewarded states must be in [0, {n_states}), got {self.rewarded}")
        self.n_states, self.success, self.episode_steps = n_states, success, episode_steps
        self.grid_shape = (1, n_states)
        """rows, columns: how value functions are drawn"""
        P: Model = {}
        for s in range(n_states):
            reward = 1.0 if s in self.rewarded else 0.0  # r(s): paid for any step taken from s
            P[s] = {}
            for a, (intended, other) in ((LEFT, (-1, +1)), (RIGHT, (+1, -1))):
                outcomes: dict[int, float] = {}
                for move, p in ((intended, success), (other, 1.0 - success)):
                    if p > 0:
                        s2 = min(max(s + move, 0), n_states - 1)  # the ends are dead ends
                        outcomes[s2] = outcomes.get(s2, 0.0) + p
                P[s][a] = [(p, s2, reward, False) for s2, p in outcomes.items()]
        super().__init__(P, np.full(n_states, 1.0 / n_states), n_actions=2, render_mode=render_mode)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        self._t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, _, info = super().step(action)
        self._t += 1
        return obs, reward, terminated, self._t >= self.episode_steps, info  # continuing task: truncate only

    def cell_of(self, s: int) -> tuple[int, int]:
        """Where state ``s`` is drawn: all states in one row."""
        return 0, int(s)

    def render_text(self) -> str:
        cells = [("+" if s in self.rewarded else ".") for s in range(self.n_states)]
        cells[self.s] = "@"
        return "".join(cells) + "\n"
