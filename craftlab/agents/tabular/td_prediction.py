"""TD(0) and n-step TD prediction (Silver's Lecture 4; S&B Sections 6.1, 7.1).

TD(0) updates V(S) towards a one-step bootstrapped target after every step:

    delta = R + gamma V(S') - V(S)          (the TD error)
    V(S) <- V(S) + alpha delta

n-step TD waits n steps and uses the n-step return

    G_{t:t+n} = R_{t+1} + gamma R_{t+2} + ... + gamma^{n-1} R_{t+n} + gamma^n V(S_{t+n})

n = 1 is TD(0); n >= episode length is constant-alpha Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass

from craftlab.agents.tabular.base import PredictionAgent, PredictionConfig
from craftlab.core.config import require


class TD0(PredictionAgent):
    """TD(0) prediction of v_pi."""

    name = "td0"

    def run_episode(self) -> dict[str, float]:
        alpha, gamma = self.config.alpha, self.config.gamma
        s, done, abs_td = self.index(self.reset_env()), False, 0.0
        while not done:
            obs, r, terminated, truncated = self.step_env(self.policy_action(s))
            s2 = self.index(obs)
            delta = r + (0.0 if terminated else gamma * self.V[s2]) - self.V[s]  # TD error
            self.V[s] += alpha * delta
            abs_td += abs(delta)
            s, done = s2, terminated or truncated
        return self.log_stats(**{"losses/td_error": abs_td})


@dataclass
class NStepTDConfig(PredictionConfig):
    """Settings of n-step TD prediction."""

    n_steps: int = 4
    """n: rewards summed before bootstrapping on V (1 = TD(0))"""

    def validate(self) -> None:
        super().validate()
        require(self.n_steps >= 1, "n_steps", "must be >= 1")


class NStepTD(PredictionAgent):
    """n-step TD prediction of v_pi (S&B's pseudo-code, Section 7.1)."""

    name = "n_step_td"
    Config = NStepTDConfig
    config: NStepTDConfig

    def run_episode(self) -> dict[str, float]:
        alpha, gamma, n = self.config.alpha, self.config.gamma, self.config.n_steps
        states, rewards = [self.index(self.reset_env())], [0.0]  # rewards[t] = R_t
        T, t, bootstrap_at_end = float("inf"), 0, False
        while True:
            if t < T:
                obs, r, terminated, truncated = self.step_env(self.policy_action(states[t]))
                states.append(self.index(obs))
                rewards.append(r)
                if terminated or truncated:
                    T, bootstrap_at_end = t + 1, not terminated
            tau = t - n + 1  # the time whose estimate is updated now
            if tau >= 0:
                end = int(min(tau + n, T))
                G = sum(gamma ** (i - tau - 1) * rewards[i] for i in range(tau + 1, end + 1))
                if tau + n < T or bootstrap_at_end:
                    G += gamma ** (end - tau) * self.V[states[end]]  # + gamma^n V(S_{tau+n})
                self.V[states[tau]] += alpha * (G - self.V[states[tau]])
            if tau == T - 1:
                break
            t += 1
        return self.log_stats()
