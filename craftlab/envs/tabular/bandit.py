"""The k-armed testbed (Sutton & Barto, Section 2.3; Silver's Lecture 9).

One episode is one bandit problem: ``reset`` draws the true action values
``q*(a) ~ N(q_mean, 1)`` for the k arms, and each of the ``steps`` pulls that
follow pays ``R ~ N(q*(a), 1)``. The episode is then truncated, so a run of
``2000 * 1000`` steps is S&B's 2000 problems of 1000 pulls each, and the
logged episode return divided by ``steps`` is the average reward of Fig 2.2.

``info["optimal"]`` says whether the pulled arm was a best one (for the
"% optimal action" curve) and ``info["regret"]`` is ``max q* - q*(a)``.
The model ``P[0][a] = [(1.0, 0, q*(a), False)]`` holds the *expected* reward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from craftlab.envs.tabular.base import ModelEnv


class BanditTestbedEnv(ModelEnv):
    """Observation ``Discrete(1)`` (a bandit has one state), action ``Discrete(k)``."""

    def __init__(
        self,
        k: int = 10,
        steps: int = 1000,
        q_mean: float = 0.0,
        reward_std: float = 1.0,
        render_mode: str | None = None,
    ):
        """
        Args:
            k: number of arms.
            steps: pulls per episode (one episode = one freshly drawn problem).
            q_mean: mean of the true values' distribution (4.0 for S&B Fig 2.5's gradient bandit).
            reward_std: standard deviation of a reward around its arm's true value.
            render_mode: None or ``"ansi"``.
        """
        self.k, self.steps, self.q_mean, self.reward_std = k, steps, q_mean, reward_std
        self.q_star = np.zeros(k)
        """true action values of the current problem, ``float64[k]``"""
        self.t = 0
        self.counts = np.zeros(k, dtype=np.int64)
        super().__init__(self._model(), np.ones(1), n_actions=k, render_mode=render_mode)

    def _model(self):
        return {0: {a: [(1.0, 0, float(self.q_star[a]), False)] for a in range(self.k)}}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.q_star = self.np_random.normal(self.q_mean, 1.0, size=self.k)
        self.P = self._model()
        self.t = 0
        self.counts[:] = 0
        return 0, {}

    def step(self, action):
        a = int(action)
        reward = float(self.np_random.normal(self.q_star[a], self.reward_std))
        self.t += 1
        self.counts[a] += 1
        self.lastaction = a
        info = {
            "optimal": bool(self.q_star[a] == self.q_star.max()),
            "regret": float(self.q_star.max() - self.q_star[a]),
        }
        return 0, reward, False, self.t >= self.steps, info

    def render_text(self) -> str:
        lines = [f"pull {self.t}/{self.steps}"]
        best = int(np.argmax(self.q_star))
        for a in range(self.k):
            mark = "*" if a == best else " "
            bar = "#" * int(self.counts[a] * 40 / max(1, self.t))
            lines.append(f"{mark}arm {a}: q*={self.q_star[a]:+.2f} pulls={self.counts[a]:5d} {bar}")
        return "\n".join(lines) + "\n"
