"""TD(lambda) prediction, forward and backward views (Silver's Lecture 4;
S&B Sections 12.1 and 12.2).

Forward view (offline lambda-return algorithm): at the end of the episode,
move every V(S_t) towards the lambda-return, a geometric mix of all n-step returns

    G_t^lambda = (1 - lambda) sum_{n>=1} lambda^{n-1} G_{t:t+n}
    computed backwards:  G_t^lambda = R_{t+1} + gamma [(1 - lambda) V(S_{t+1}) + lambda G_{t+1}^lambda]

Backward view (online, eligibility traces): after every step,

    delta = R + gamma V(S') - V(S)
    E(S) <- E(S) + 1          (accumulating trace; 'replacing' sets E(S) = 1)
    V    <- V + alpha delta E (all states)
    E    <- gamma lambda E

Offline, with accumulating traces, the two views make the same total update
per episode; online they differ slightly (S&B Fig 12.3 vs 12.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from craftlab.agents.tabular.base import PredictionAgent, PredictionConfig
from craftlab.core.config import require


@dataclass
class TDLambdaConfig(PredictionConfig):
    """Settings of TD(lambda)."""

    lambda_: float = 0.8
    """trace decay lambda in [0, 1]: 0 is TD(0), 1 is Monte Carlo"""
    trace: Literal["accumulating", "replacing"] = "accumulating"
    """backward view only: how a visit bumps E(s)"""

    def validate(self) -> None:
        super().validate()
        require(0.0 <= self.lambda_ <= 1.0, "lambda_", "must be in [0, 1]")


class TDLambdaForward(PredictionAgent):
    """Offline lambda-return algorithm (forward-view TD(lambda))."""

    name = "td_lambda_forward"
    Config = TDLambdaConfig
    config: TDLambdaConfig

    def run_episode(self) -> dict[str, float]:
        gamma, lam = self.config.gamma, self.config.lambda_
        states, rewards = [], []
        s, done = self.index(self.reset_env()), False
        while not done:
            obs, r, terminated, truncated = self.step_env(self.policy_action(s))
            states.append(s)
            rewards.append(r)
            s, done = self.index(obs), terminated or truncated
        # lambda-returns with V frozen for the episode (offline), backwards from the end
        v_next = 0.0 if terminated else self.V[s]
        G_lambda_next = v_next
        targets = np.zeros(len(states))
        for t in range(len(states) - 1, -1, -1):
            targets[t] = rewards[t] + gamma * ((1 - lam) * v_next + lam * G_lambda_next)
            v_next, G_lambda_next = self.V[states[t]], targets[t]
        for s_t, G in zip(states, targets):  # apply the updates at the end (offline)
            self.V[s_t] += self.config.alpha * (G - self.V[s_t])
        return self.log_stats()


class TDLambda(PredictionAgent):
    """Online TD(lambda) with eligibility traces (backward view)."""

    name = "td_lambda"
    Config = TDLambdaConfig
    config: TDLambdaConfig

    def run_episode(self) -> dict[str, float]:
        alpha, gamma, lam = self.config.alpha, self.config.gamma, self.config.lambda_
        E = np.zeros_like(self.V)  # eligibility traces, float64[S]
        s, done, abs_td = self.index(self.reset_env()), False, 0.0
        while not done:
            obs, r, terminated, truncated = self.step_env(self.policy_action(s))
            s2 = self.index(obs)
            delta = r + (0.0 if terminated else gamma * self.V[s2]) - self.V[s]  # TD error
            E[s] = 1.0 if self.config.trace == "replacing" else E[s] + 1.0
            self.V += alpha * delta * E
            E *= gamma * lam
            abs_td += abs(delta)
            s, done = s2, terminated or truncated
        return self.log_stats(**{"losses/td_error": abs_td})
