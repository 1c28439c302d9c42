"""n-step SARSA (S&B Section 7.2).

The target looks n rewards ahead before bootstrapping on Q:

    G_{t:t+n} = R_{t+1} + gamma R_{t+2} + ... + gamma^{n-1} R_{t+n} + gamma^n Q(S_{t+n}, A_{t+n})
    Q(S_t, A_t) <- Q(S_t, A_t) + alpha [G_{t:t+n} - Q(S_t, A_t)]

n = 1 is SARSA; n = infinity is constant-alpha Monte Carlo. The loop follows
the book's pseudo-code: at time t it updates the pair visited at tau = t - n + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from craftlab.agents.tabular.base import ControlAgent, ControlConfig
from craftlab.core.config import require


@dataclass
class NStepSarsaConfig(ControlConfig):
    """Settings of n-step SARSA."""

    n_steps: int = 4
    """n: rewards summed before bootstrapping (1 = SARSA)"""

    def validate(self) -> None:
        super().validate()
        require(self.n_steps >= 1, "n_steps", "must be >= 1")


class NStepSarsa(ControlAgent):
    """n-step SARSA with an epsilon-greedy policy."""

    name = "n_step_sarsa"
    Config = NStepSarsaConfig
    config: NStepSarsaConfig

    def run_episode(self) -> dict[str, float]:
        alpha, gamma, n = self.config.alpha, self.config.gamma, self.config.n_steps
        states = [self.index(self.reset_env())]
        actions = [self.epsilon_greedy(states[0])]
        rewards = [0.0]  # rewards[t] is R_t (R_0 unused)
        T = float("inf")  # episode length, once known
        t, abs_td = 0, 0.0
        while True:
            if t < T:
                obs, r, terminated, truncated = self.step_env(actions[t])
                states.append(self.index(obs))
                rewards.append(r)
                if terminated or truncated:
                    T = t + 1
                    bootstrap_at_end = truncated and not terminated  # a cut episode still has a future
                else:
                    actions.append(self.epsilon_greedy(states[t + 1]))
            tau = t - n + 1  # the time whose estimate is updated now
            if tau >= 0:
                end = min(tau + n, T)
                G = sum(gamma ** (i - tau - 1) * rewards[i] for i in range(tau + 1, int(end) + 1))
                if tau + n < T:
                    G += gamma**n * self.Q[states[tau + n], actions[tau + n]]  # + gamma^n Q(S_{tau+n}, A_{tau+n})
                elif bootstrap_at_end:
                    G += gamma ** (T - tau) * self.Q[states[int(T)]].max()
                delta = G - self.Q[states[tau], actions[tau]]
                self.Q[states[tau], actions[tau]] += alpha * delta
                abs_td += abs(delta)
            if tau == T - 1:
                break
            t += 1
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}
