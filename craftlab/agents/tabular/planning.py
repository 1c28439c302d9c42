"""Planning by dynamic programming on a known finite MDP (Silver lecture 3;
Sutton & Barto chapter 4): the model as arrays (:class:`TabularModel`), policy
evaluation, policy iteration and value iteration. The DP agents
(:mod:`craftlab.agents.tabular.dp`) and the prediction agents' true values use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TabularModel:
    """A finite MDP as arrays."""

    R: np.ndarray
    """expected immediate reward, ``float64[S, A]``"""
    T: np.ndarray
    """probability of moving to s' *and continuing* (terminated=False), ``float64[S, A, S]``"""
    terminal: np.ndarray
    """``bool[S]``: states the episode never continues from (only reached by terminating transitions)"""

    @classmethod
    def from_P(cls, P: dict, n_states: int, n_actions: int) -> "TabularModel":
        R = np.zeros((n_states, n_actions))
        T = np.zeros((n_states, n_actions, n_states))
        continues_to = np.zeros(n_states, dtype=bool)
        for s in range(n_states):
            for a in range(n_actions):
                for p, s2, r, terminated in P[s][a]:
                    R[s, a] += p * r
                    if not terminated:
                        T[s, a, int(s2)] += p
                        continues_to[int(s2)] = True
        # A state is terminal if no transition goes on from it being entered, i.e.
        # every arrival ends the episode (FrozenLake's holes, the walk's ends).
        # Start states count as non-terminal even if nothing leads back to them.
        reached_by_end = np.zeros(n_states, dtype=bool)
        for s in range(n_states):
            for a in range(n_actions):
                for p, s2, r, terminated in P[s][a]:
                    if terminated and p > 0:
                        reached_by_end[int(s2)] = True
        terminal = reached_by_end & ~continues_to
        return cls(R=R, T=T, terminal=terminal)

    @property
    def n_states(self) -> int:
        return self.R.shape[0]

    @property
    def n_actions(self) -> int:
        return self.R.shape[1]

    def q_values(self, V: np.ndarray, gamma: float) -> np.ndarray:
        """One-step look-ahead: ``Q[s, a] = R[s, a] + gamma sum_s' T[s, a, s'] V[s']``, ``float64[S, A]``."""
        return self.R + gamma * self.T @ V

    def under_policy(self, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(r_pi float64[S], P_pi float64[S, S])`` for a policy ``pi float64[S, A]``."""
        r_pi = np.einsum("sa,sa->s", pi, self.R)
        P_pi = np.einsum("sa,sat->st", pi, self.T)
        return r_pi, P_pi


def greedy(Q: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Greedy deterministic policy ``int64[S]`` (lowest index among ties within ``tol``)."""
    return np.argmax(Q >= Q.max(axis=1, keepdims=True) - tol, axis=1)


def one_hot_policy(actions: np.ndarray, n_actions: int) -> np.ndarray:
    """``int64[S]`` actions -> ``float64[S, A]`` policy probabilities."""
    return np.eye(n_actions)[actions]


def policy_evaluation(
    model: TabularModel,
    pi: np.ndarray,
    gamma: float,
    theta: float = 1e-10,
    V: np.ndarray | None = None,
    max_sweeps: int = 1_000_000,
) -> tuple[np.ndarray, int]:
    """Iterative policy evaluation: repeat ``V <- r_pi + gamma P_pi V`` until no
    value changes by more than ``theta``. Returns ``(v_pi float64[S], sweeps)``."""
    r_pi, P_pi = model.under_policy(pi)
    V = np.zeros(model.n_states) if V is None else V.copy()
    for sweep in range(1, max_sweeps + 1):
        V_new = r_pi + gamma * P_pi @ V  # Bellman expectation backup, all states at once
        delta = np.max(np.abs(V_new - V))
        V = V_new
        if delta < theta:
            return V, sweep
    raise RuntimeError(f"policy evaluation did not converge in {max_sweeps} sweeps (improper policy with gamma=1?)")


def policy_iteration(
    model: TabularModel, gamma: float, theta: float = 1e-10, max_iterations: int = 1000
) -> tuple[np.ndarray, np.ndarray, int]:
    """Policy iteration from the uniform random policy.
    Returns ``(v* float64[S], pi* int64[S], policy improvement steps)``."""
    pi = np.full((model.n_states, model.n_actions), 1.0 / model.n_actions)
    V = None
    for iteration in range(1, max_iterations + 1):
        V, _ = policy_evaluation(model, pi, gamma, theta, V=V)  # 1. evaluate pi
        Q = model.q_values(V, gamma)
        new_actions = greedy(Q)  # 2. improve: act greedily on Q_pi
        # stable when pi already takes a greedy action everywhere (ties don't count as change)
        if np.all(np.einsum("sa,sa->s", pi, Q) >= Q.max(axis=1) - 1e-9) and iteration > 1:
            return V, new_actions, iteration
        pi = one_hot_policy(new_actions, model.n_actions)
    raise RuntimeError(f"policy iteration did not stabilise in {max_iterations} iterations")


def value_iteration(
    model: TabularModel, gamma: float, theta: float = 1e-10, max_sweeps: int = 1_000_000
) -> tuple[np.ndarray, np.ndarray, int]:
    """Value iteration: repeat ``V <- max_a (R + gamma T V)`` until no value
    changes by more than ``theta``. Returns ``(v* float64[S], greedy pi* int64[S], sweeps)``."""
    V = np.zeros(model.n_states)
    for sweep in range(1, max_sweeps + 1):
        V_new = model.q_values(V, gamma).max(axis=1)  # Bellman optimality backup
        delta = np.max(np.abs(V_new - V))
        V = V_new
        if delta < theta:
            return V, greedy(model.q_values(V, gamma)), sweep
    raise RuntimeError(f"value iteration did not converge in {max_sweeps} sweeps")


# ================================================================== agents
