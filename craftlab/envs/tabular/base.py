"""The one piece every model-based tabular environment shares: sampling a step
from its transition model ``P``.

A subclass builds ``self.P`` (see the package docstring for its form), the
start-state distribution ``self.initial_state_distrib`` (``float64[n_states]``)
and implements :meth:`render_text`. Everything else -- spaces, ``reset``,
``step``, ``render`` -- follows from the model, so the environment an agent
samples from and the model dynamic programming solves cannot disagree.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

Transition = tuple[float, int, float, bool]
"""(probability, next_state, reward, terminated)"""
Model = dict[int, dict[int, list[Transition]]]
"""``P[s][a]``: the list of possible transitions from state s under action a"""


class ModelEnv(gym.Env):
    """A finite MDP given by its model. Observation ``Discrete(n_states)``
    (the state index), action ``Discrete(n_actions)``."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, P: Model, initial_state_distrib: np.ndarray, n_actions: int, render_mode: str | None = None):
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.P = P
        self.initial_state_distrib = np.asarray(initial_state_distrib, dtype=np.float64)
        self.observation_space = gym.spaces.Discrete(len(P))
        self.action_space = gym.spaces.Discrete(n_actions)
        self.render_mode = render_mode
        self.s = int(np.argmax(self.initial_state_distrib))
        """the current state (toy-text name; MCTS sets it on its simulator copy)"""
        self.lastaction: int | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(len(self.initial_state_distrib), p=self.initial_state_distrib))
        self.lastaction = None
        return self.s, {"prob": 1.0}

    def step(self, action):
        transitions = self.P[self.s][int(action)]
        probs = np.array([t[0] for t in transitions])
        i = int(self.np_random.choice(len(transitions), p=probs)) if len(transitions) > 1 else 0
        prob, next_state, reward, terminated = transitions[i]
        self.s, self.lastaction = int(next_state), int(action)
        return self.s, float(reward), bool(terminated), False, {"prob": float(prob)}

    def render(self):
        if self.render_mode == "ansi":
            return self.render_text()
        return None

    def render_text(self) -> str:
        """The current state as text (subclasses draw their world)."""
        return f"state {self.s}\n"
