"""Q-learning: off-policy TD control (Silver's Lecture 5; S&B Section 6.5).

    Q(S, A) <- Q(S, A) + alpha [R + gamma max_a Q(S', a) - Q(S, A)]

The behaviour policy is epsilon-greedy; the target is the greedy policy, so Q
approaches q* whatever the exploration (S&B Example 6.6: it learns the path
along the cliff edge, and falls in now and then while exploring).
"""

from __future__ import annotations

from craftlab.agents.tabular.base import ControlAgent


class QLearning(ControlAgent):
    """Q-learning with an epsilon-greedy behaviour policy."""

    name = "q_learning"

    def run_episode(self) -> dict[str, float]:
        alpha, gamma = self.config.alpha, self.config.gamma
        s = self.index(self.reset_env())
        done, abs_td = False, 0.0
        while not done:
            a = self.epsilon_greedy(s)
            obs, r, terminated, truncated = self.step_env(a)
            s2 = self.index(obs)
            target = r + (0.0 if terminated else gamma * self.Q[s2].max())  # R + gamma max_a Q(S', a)
            delta = target - self.Q[s, a]
            self.Q[s, a] += alpha * delta
            abs_td += abs(delta)
            s, done = s2, terminated or truncated
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}
