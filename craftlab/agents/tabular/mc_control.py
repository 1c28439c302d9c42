"""GLIE Monte Carlo control (Silver's Lecture 5; S&B Section 5.4).

Play a whole episode with the epsilon-greedy policy, then for each pair
(S_t, A_t) in it move Q towards the return that followed:

    G_t = R_{t+1} + gamma G_{t+1}                (computed backwards from the end)
    N(S_t, A_t) <- N(S_t, A_t) + 1
    Q(S_t, A_t) <- Q(S_t, A_t) + 1/N(S_t, A_t) (G_t - Q(S_t, A_t))     (the running mean)

Exploration decays per state as in Silver's Easy21 assignment,
epsilon(s) = N0 / (N0 + N(s)) -- greedy in the limit with infinite
exploration (GLIE), so Q -> q* and the policy -> pi*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from craftlab.agents.tabular.base import ControlAgent, ControlConfig, argmax_random
from craftlab.core.config import require


@dataclass
class MCControlConfig(ControlConfig):
    """Settings of GLIE Monte Carlo control (``alpha``, ``epsilon`` and
    ``epsilon_decay_episodes`` are used only when ``n0`` is 0)."""

    n0: float = 100.0
    """GLIE exploration constant: epsilon(s) = n0 / (n0 + N(s)); 0 uses the
    fixed/decayed ``epsilon`` instead"""
    sample_average: bool = True
    """step size 1/N(s, a) (the exact running mean); false uses the constant ``alpha``"""
    first_visit: bool = False
    """update only the first visit of each (s, a) in an episode"""

    def validate(self) -> None:
        super().validate()
        require(self.n0 >= 0, "n0", "must be >= 0")


class GLIEMonteCarloControl(ControlAgent):
    """Every-visit (or first-visit) Monte Carlo control with GLIE exploration."""

    name = "mc_control"
    Config = MCControlConfig
    config: MCControlConfig

    def __init__(self, config, envs, device="cpu", seed=0):
        super().__init__(config, envs, device, seed)
        self.N = np.zeros_like(self.Q)
        """visits of each pair, float64[S, A]"""

    def behaviour(self, s: int) -> int:
        """epsilon-greedy with epsilon(s) = n0 / (n0 + N(s))."""
        if self.config.n0 == 0:
            return self.epsilon_greedy(s)
        epsilon = self.config.n0 / (self.config.n0 + self.N[s].sum())
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        return argmax_random(self.Q[s], self.rng)

    def run_episode(self) -> dict[str, float]:
        # 1. generate an episode S_0, A_0, R_1, ..., S_{T-1}, A_{T-1}, R_T
        episode: list[tuple[int, int, float]] = []
        s, done = self.index(self.reset_env()), False
        while not done:
            a = self.behaviour(s)
            obs, r, terminated, truncated = self.step_env(a)
            episode.append((s, a, r))
            s, done = self.index(obs), terminated or truncated
        # 2. G_t backwards; update each visited pair towards its return
        first = {}
        if self.config.first_visit:
            for t, (s, a, _) in enumerate(episode):
                first.setdefault((s, a), t)
        G, abs_err = 0.0, 0.0
        for t in range(len(episode) - 1, -1, -1):
            s, a, r = episode[t]
            G = r + self.config.gamma * G
            if self.config.first_visit and first[(s, a)] != t:
                continue
            self.N[s, a] += 1
            step = 1.0 / self.N[s, a] if self.config.sample_average else self.config.alpha
            abs_err += abs(G - self.Q[s, a])
            self.Q[s, a] += step * (G - self.Q[s, a])
        return {"losses/mc_error": abs_err}

    def tables(self) -> dict[str, np.ndarray]:
        return {"Q": self.Q, "N": self.N}
