"""Dyna-Q: integrating learning and planning (Silver's Lecture 8; S&B Section 8.2).

Each real step does three things:

    (a) direct RL:      Q(S, A) <- Q(S, A) + alpha [R + gamma max_a Q(S', a) - Q(S, A)]
    (b) model learning: Model(S, A) <- (R, S', terminated)     (last outcome seen)
    (c) planning:       n times: pick a previously seen (s, a) at random,
                        (r, s') <- Model(s, a), and apply the same Q-learning update

so every real experience is replayed ``planning_steps`` times through the
learned model. The model is exact for deterministic environments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from craftlab.agents.tabular.base import ControlAgent, ControlConfig
from craftlab.core.config import require


@dataclass
class DynaQConfig(ControlConfig):
    """Settings of Dyna-Q."""

    planning_steps: int = 10
    """n: simulated updates from the learned model per real step (0 = Q-learning)"""

    def validate(self) -> None:
        super().validate()
        require(self.planning_steps >= 0, "planning_steps", "must be >= 0")


class DynaQ(ControlAgent):
    """Tabular Dyna-Q with a deterministic (last-outcome) model."""

    name = "dyna_q"
    Config = DynaQConfig
    config: DynaQConfig

    def __init__(self, config, envs, device="cpu", seed=0):
        super().__init__(config, envs, device, seed)
        # The model as arrays, so it checkpoints like a table: for each (s, a),
        # whether it was seen, and the reward, next state and end flag last seen.
        self.seen = np.zeros((self.n_states, self.n_actions), dtype=bool)
        self.model_reward = np.zeros((self.n_states, self.n_actions))
        self.model_next = np.zeros((self.n_states, self.n_actions), dtype=np.int64)
        self.model_terminated = np.zeros((self.n_states, self.n_actions), dtype=bool)
        self._seen_pairs: list[tuple[int, int]] = []

    def q_update(self, s: int, a: int, r: float, s2: int, terminated: bool) -> float:
        """One Q-learning update; returns the TD error."""
        target = r + (0.0 if terminated else self.config.gamma * self.Q[s2].max())
        delta = target - self.Q[s, a]
        self.Q[s, a] += self.config.alpha * delta
        return delta

    def run_episode(self) -> dict[str, float]:
        s = self.index(self.reset_env())
        done, abs_td = False, 0.0
        while not done:
            a = self.epsilon_greedy(s)
            obs, r, terminated, truncated = self.step_env(a)
            s2 = self.index(obs)
            abs_td += abs(self.q_update(s, a, r, s2, terminated))  # (a) direct RL
            if not self.seen[s, a]:  # (b) model learning
                self.seen[s, a] = True
                self._seen_pairs.append((s, a))
            self.model_reward[s, a], self.model_next[s, a], self.model_terminated[s, a] = r, s2, terminated
            for _ in range(self.config.planning_steps):  # (c) planning
                ps, pa = self._seen_pairs[int(self.rng.integers(len(self._seen_pairs)))]
                self.q_update(
                    ps, pa, self.model_reward[ps, pa], int(self.model_next[ps, pa]), bool(self.model_terminated[ps, pa])
                )
            s, done = s2, terminated or truncated
        return {"losses/td_error": abs_td, "charts/epsilon": self.epsilon}

    def tables(self) -> dict[str, np.ndarray]:
        return {
            "Q": self.Q,
            "seen": self.seen,
            "model_reward": self.model_reward,
            "model_next": self.model_next,
            "model_terminated": self.model_terminated,
        }

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        self._seen_pairs = [tuple(int(i) for i in p) for p in np.argwhere(self.seen)]
