"""Monte Carlo prediction (Silver's Lecture 4; S&B Section 5.1).

After each episode, move V(S_t) towards the return that followed it:

    G_t = R_{t+1} + gamma G_{t+1}                       (backwards from the end)
    V(S_t) <- V(S_t) + alpha_t (G_t - V(S_t))

First-visit MC uses only the first time t a state occurs in the episode,
every-visit MC uses every occurrence. The step size is either the running
mean ``alpha_t = 1 / N(S_t)`` (the textbook estimator) or a constant ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from craftlab.agents.tabular.base import PredictionAgent, PredictionConfig


@dataclass
class MCPredictionConfig(PredictionConfig):
    """Settings of Monte Carlo prediction."""

    visits: Literal["first", "every"] = "first"
    """'first': update on the first visit of a state per episode; 'every': on every visit"""
    sample_average: bool = False
    """step size 1/N(s) (the exact mean of the returns seen); false uses the constant ``alpha``"""


class MCPrediction(PredictionAgent):
    """First- or every-visit Monte Carlo prediction of v_pi."""

    name = "mc_prediction"
    Config = MCPredictionConfig
    config: MCPredictionConfig

    def __init__(self, config, envs, device="cpu", seed=0):
        super().__init__(config, envs, device, seed)
        self.N = np.zeros(self.n_states)
        """returns averaged into each V(s), float64[S]"""

    def run_episode(self) -> dict[str, float]:
        states, rewards = [], []  # S_0..S_{T-1}, R_1..R_T
        s, done = self.index(self.reset_env()), False
        while not done:
            obs, r, terminated, truncated = self.step_env(self.policy_action(s))
            states.append(s)
            rewards.append(r)
            s, done = self.index(obs), terminated or truncated
        first_visit = {}
        for t, s in enumerate(states):
            first_visit.setdefault(s, t)
        G = 0.0
        for t in range(len(states) - 1, -1, -1):
            G = rewards[t] + self.config.gamma * G
            s = states[t]
            if self.config.visits == "first" and first_visit[s] != t:
                continue
            self.N[s] += 1
            alpha = 1.0 / self.N[s] if self.config.sample_average else self.config.alpha
            self.V[s] += alpha * (G - self.V[s])
        return self.log_stats()

    def tables(self) -> dict[str, np.ndarray]:
        return {"V": self.V, "N": self.N}
