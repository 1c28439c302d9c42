"""Double Q-learning (van Hasselt 2010; S&B Section 6.7).

Q-learning's max over noisy estimates is biased upwards. Double Q-learning
keeps two tables; on each step a coin picks one to update, using it to choose
the best next action and the *other* to value it:

    Q1(S, A) <- Q1(S, A) + alpha [R + gamma Q2(S', argmax_a Q1(S', a)) - Q1(S, A)]

(and symmetrically for Q2). It behaves epsilon-greedily on Q1 + Q2.
"""

from __future__ import annotations

import numpy as np

from craftlab.agents.tabular.base import ControlAgent, argmax_random


class DoubleQLearning(ControlAgent):
    """Double Q-learning; ``self.Q`` holds Q1 + Q2 (what the policy uses)."""

    name = "double_q_learning"

    def __init__(self, config, envs, device="cpu", seed=0):
        super().__init__(config, envs, device, seed)
        self.Q1 = np.full_like(self.Q, config.initial_value)
        self.Q2 = np.full_like(self.Q, config.initial_value)
        self.Q[:] = self.Q1 + self.Q2

    def run_episode(self) -> dict[str, float]:
        alpha, gamma = self.config.alpha, self.config.gamma
        s = self.index(self.reset_env())
        done, abs_td = False, 0.0
        while not done:
            a = self.epsilon_greedy(s)  # on Q1 + Q2
            obs, r, terminated, truncated = self.step_env(a)
            s2 = self.index(obs)
            update, other = (self.Q1, self.Q2) if self.rng.random() < 0.5 else (self.Q2, self.Q1)
            a_star = argmax_random(update[s2], self.rng)  # choose with one table,
            target = r + (0.0 if terminated else gamma * other[s2, a_star])  # value with the other
            delta = target - update[s, a]
            update[s, a] += alpha * delta
            self.Q[s, a] = self.Q1[s, a] + self.Q2[s, a]
            abs_td += abs(delta)
            s, done = s2, terminated or truncated
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}

    def tables(self) -> dict[str, np.ndarray]:
        return {"Q": self.Q, "Q1": self.Q1, "Q2": self.Q2}
