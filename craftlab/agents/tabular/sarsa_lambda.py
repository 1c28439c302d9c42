"""SARSA(lambda): SARSA with eligibility traces, the backward view (Silver's
Lecture 5; S&B Section 12.7).

Every step's TD error is credited to all recently visited pairs in proportion
to their eligibility trace E(s, a):

    delta   = R + gamma Q(S', A') - Q(S, A)
    E(S, A) <- E(S, A) + 1            (accumulating; 'replacing' sets it to 1)
    Q       <- Q + alpha delta E      (all pairs at once)
    E       <- gamma lambda E

lambda = 0 is one-step SARSA; lambda -> 1 approaches Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from craftlab.agents.tabular.base import ControlAgent, ControlConfig
from craftlab.core.config import require


@dataclass
class SarsaLambdaConfig(ControlConfig):
    """Settings of SARSA(lambda)."""

    lambda_: float = 0.9
    """trace decay lambda in [0, 1]"""
    trace: Literal["accumulating", "replacing"] = "replacing"
    """'accumulating' adds 1 to E(S, A) per visit; 'replacing' resets it to 1"""

    def validate(self) -> None:
        super().validate()
        require(0.0 <= self.lambda_ <= 1.0, "lambda_", "must be in [0, 1]")


class SarsaLambda(ControlAgent):
    """SARSA(lambda) with an epsilon-greedy policy."""

    name = "sarsa_lambda"
    Config = SarsaLambdaConfig
    config: SarsaLambdaConfig

    def run_episode(self) -> dict[str, float]:
        alpha, gamma, lam = self.config.alpha, self.config.gamma, self.config.lambda_
        E = np.zeros_like(self.Q)  # eligibility traces, float64[S, A], reset each episode
        s = self.index(self.reset_env())
        a = self.epsilon_greedy(s)
        done, abs_td = False, 0.0
        while not done:
            obs, r, terminated, truncated = self.step_env(a)
            s2 = self.index(obs)
            a2 = self.epsilon_greedy(s2)
            delta = r + (0.0 if terminated else gamma * self.Q[s2, a2]) - self.Q[s, a]  # TD error
            if self.config.trace == "replacing":
                E[s, a] = 1.0
            else:
                E[s, a] += 1.0
            self.Q += alpha * delta * E
            E *= gamma * lam
            abs_td += abs(delta)
            s, a, done = s2, a2, terminated or truncated
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}
