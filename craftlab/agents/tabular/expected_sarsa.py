"""Expected SARSA (S&B Section 6.6): SARSA with the expectation over the next
action instead of a sample of it, which removes the variance A' adds:

    Q(S, A) <- Q(S, A) + alpha [R + gamma sum_a pi(a|S') Q(S', a) - Q(S, A)]

with pi the epsilon-greedy policy (with epsilon = 0 this is Q-learning).
"""

from __future__ import annotations

import numpy as np

from craftlab.agents.tabular.base import ControlAgent


class ExpectedSarsa(ControlAgent):
    """Expected SARSA with an epsilon-greedy target and behaviour policy."""

    name = "expected_sarsa"

    def run_episode(self) -> dict[str, float]:
        alpha, gamma = self.config.alpha, self.config.gamma
        s = self.index(self.reset_env())
        done, abs_td = False, 0.0
        while not done:
            a = self.epsilon_greedy(s)
            obs, r, terminated, truncated = self.step_env(a)
            s2 = self.index(obs)
            expected_q = float(np.dot(self.epsilon_greedy_probs(s2), self.Q[s2]))  # E_pi[Q(S', .)]
            delta = r + (0.0 if terminated else gamma * expected_q) - self.Q[s, a]
            self.Q[s, a] += alpha * delta
            abs_td += abs(delta)
            s, done = s2, terminated or truncated
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}
