"""Monte Carlo tree search with UCT (Silver's Lecture 8; Kocsis & Szepesvari 2006).

Before every real move the agent plans on a *simulator*: a copy of the
environment (``copy.deepcopy(env.unwrapped)``) whose state it sets to the real
one (toy-text environments keep it in ``.s``). Each of ``simulations`` runs:

1. selection: from the root, pick a = argmax_a Q(s, a) + c sqrt(ln N(s) / N(s, a))
   (untried actions first) and step the simulator, down the tree;
2. expansion: the first new state reached becomes a node;
3. simulation: from it, a random rollout of up to ``rollout_depth`` steps;
4. backup: every (s, a) on the path moves Q towards the return that followed,
   Q(s, a) <- Q(s, a) + (G - Q(s, a)) / N(s, a).

The real move is the most visited root action. Nothing is kept between moves,
so ``learn`` only plays episodes (and logs their returns).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from craftlab.agents.tabular.base import TabularAgent, TabularConfig
from craftlab.core.config import require


@dataclass
class MCTSConfig(TabularConfig):
    """Settings of UCT."""

    simulations: int = 200
    """simulated episodes per real move"""
    c: float = 1.4
    """UCB exploration weight in the tree policy"""
    rollout_depth: int = 30
    """steps of the random rollout after the tree (and the depth limit of the tree)"""

    def validate(self) -> None:
        super().validate()
        require(self.simulations >= 1, "simulations", "must be >= 1")
        require(self.rollout_depth >= 1, "rollout_depth", "must be >= 1")


@dataclass
class Node:
    """A state in the search tree."""

    n_actions: int
    N: int = 0
    Na: np.ndarray = field(default=None)  # type: ignore[assignment]
    Q: np.ndarray = field(default=None)  # type: ignore[assignment]
    children: dict = field(default_factory=dict)
    """(action, next state) -> Node"""

    def __post_init__(self):
        self.Na = np.zeros(self.n_actions)
        self.Q = np.zeros(self.n_actions)


class MCTS(TabularAgent):
    """UCT planning with a simulator copy of the environment."""

    name = "mcts"
    Config = MCTSConfig
    config: MCTSConfig

    def __init__(self, config, envs, device="cpu", seed=0):
        super().__init__(config, envs, device, seed)
        self.simulator = copy.deepcopy(self.env.unwrapped)
        self.simulator.reset(seed=seed + 10_000)  # its own random numbers for stochastic transitions
        if not hasattr(self.simulator, "s"):
            raise TypeError(f"mcts needs an environment that keeps its state in .s (toy-text); {envs.id} does not")

    def plan(self, state: int) -> int:
        """The most visited root action after ``simulations`` simulations from ``state``."""
        root = Node(self.n_actions)
        for _ in range(self.config.simulations):
            self.simulator.s = state
            self.simulate(root, depth=0)
        return int(np.argmax(root.Na + 1e-6 * self.rng.random(self.n_actions)))  # random tie-break

    def simulate(self, node: Node, depth: int) -> float:
        """One selection-expansion-rollout-backup pass below ``node``; returns its return G."""
        if depth >= self.config.rollout_depth:
            return 0.0
        untried = np.flatnonzero(node.Na == 0)
        if len(untried):
            a = int(self.rng.choice(untried))
        else:  # UCT: Q + c sqrt(ln N / N(a))
            a = int(np.argmax(node.Q + self.config.c * np.sqrt(math.log(node.N) / node.Na)))
        s2, r, terminated, _, _ = self.simulator.step(a)
        if terminated:
            G = r
        elif (a, int(s2)) in node.children:  # selection continues down the tree
            G = r + self.config.gamma * self.simulate(node.children[(a, int(s2))], depth + 1)
        else:  # expansion, then a random rollout
            node.children[(a, int(s2))] = Node(self.n_actions)
            G = r + self.config.gamma * self.rollout(depth + 1)
        node.N += 1
        node.Na[a] += 1
        node.Q[a] += (G - node.Q[a]) / node.Na[a]  # backup: running mean of returns
        return G

    def rollout(self, depth: int) -> float:
        """Discounted return of uniformly random actions until the end or the depth limit."""
        G, discount = 0.0, 1.0
        for _ in range(depth, self.config.rollout_depth):
            _, r, terminated, _, _ = self.simulator.step(int(self.rng.integers(self.n_actions)))
            G += discount * r
            discount *= self.config.gamma
            if terminated:
                break
        return G

    def run_episode(self) -> dict[str, float]:
        s, done = self.index(self.reset_env()), False
        while not done:
            obs, _, terminated, truncated = self.step_env(self.plan(s))
            s, done = self.index(obs), terminated or truncated
        return {}

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        return self.batch_act(obs, self.plan), state
