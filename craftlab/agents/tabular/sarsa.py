"""SARSA: on-policy TD control (Silver's Lecture 5; S&B Section 6.4).

    Q(S, A) <- Q(S, A) + alpha [R + gamma Q(S', A') - Q(S, A)]

with A' drawn from the same epsilon-greedy policy that will be followed, so
SARSA learns the values of the policy it actually runs (exploration included).
"""

from __future__ import annotations

from craftlab.agents.tabular.base import ControlAgent


class Sarsa(ControlAgent):
    """SARSA with an epsilon-greedy policy."""

    name = "sarsa"

    def run_episode(self) -> dict[str, float]:
        alpha, gamma = self.config.alpha, self.config.gamma
        s = self.index(self.reset_env())
        a = self.epsilon_greedy(s)
        done, abs_td = False, 0.0
        while not done:
            obs, r, terminated, truncated = self.step_env(a)
            s2 = self.index(obs)
            a2 = self.epsilon_greedy(s2)
            target = r + (0.0 if terminated else gamma * self.Q[s2, a2])  # R + gamma Q(S', A')
            delta = target - self.Q[s, a]  # TD error
            self.Q[s, a] += alpha * delta
            abs_td += abs(delta)
            s, a, done = s2, a2, terminated or truncated
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}
