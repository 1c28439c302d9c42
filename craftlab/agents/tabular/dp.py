"""Planning by dynamic programming with a known model (Silver's Lecture 3; S&B Chapter 4).

The model ``P[s][a] = [(p, s', r, terminated), ...]`` is first turned into two
arrays (:class:`TabularModel`): ``R[s, a]``, the expected reward, and
``T[s, a, s']``, the probability of going on to ``s'`` without the episode
ending. Then a one-step look-ahead is a matrix product::

    Q(s, a) = R[s, a] + gamma * sum_s' T[s, a, s'] V(s')

and the three algorithms are the synchronous backups of Silver's slides:

* iterative policy evaluation:  V <- r_pi + gamma P_pi V         (Bellman expectation)
* policy iteration:             evaluate pi, then pi <- greedy(Q), until pi is stable
* value iteration:              V <- max_a (R + gamma T V)        (Bellman optimality)

The functions work on any model; the agents at the bottom wrap them for
``train.py`` (their ``num_timesteps`` counts sweeps: one sweep backs up every state once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from craftlab.agents.tabular.base import TabularAgent, TabularConfig
from craftlab.core.config import require

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory


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


def policy_evaluation(model: TabularModel, pi: np.ndarray, gamma: float, theta: float = 1e-10,
                      V: np.ndarray | None = None, max_sweeps: int = 1_000_000) -> tuple[np.ndarray, int]:
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


def policy_iteration(model: TabularModel, gamma: float, theta: float = 1e-10,
                     max_iterations: int = 1000) -> tuple[np.ndarray, np.ndarray, int]:
    """Policy iteration from the uniform random policy.
    Returns ``(v* float64[S], pi* int64[S], policy improvement steps)``."""
    pi = np.full((model.n_states, model.n_actions), 1.0 / model.n_actions)
    V = None
    for iteration in range(1, max_iterations + 1):
        V, _ = policy_evaluation(model, pi, gamma, theta, V=V)   # 1. evaluate pi
        Q = model.q_values(V, gamma)
        new_actions = greedy(Q)                                   # 2. improve: act greedily on Q_pi
        # stable when pi already takes a greedy action everywhere (ties don't count as change)
        if np.all(np.einsum("sa,sa->s", pi, Q) >= Q.max(axis=1) - 1e-9) and iteration > 1:
            return V, new_actions, iteration
        pi = one_hot_policy(new_actions, model.n_actions)
    raise RuntimeError(f"policy iteration did not stabilise in {max_iterations} iterations")


def value_iteration(model: TabularModel, gamma: float, theta: float = 1e-10,
                    max_sweeps: int = 1_000_000) -> tuple[np.ndarray, np.ndarray, int]:
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


@dataclass
class DPConfig(TabularConfig):
    """Settings of the dynamic-programming planners."""

    gamma: float = 0.99
    """discount factor gamma in [0, 1]; 1 only where every policy ends episodes"""
    theta: float = 1e-10
    """stop when a sweep changes no value by more than theta"""

    def validate(self) -> None:
        super().validate()
        require(self.theta > 0, "theta", "must be > 0")


@dataclass
class PolicyEvaluationConfig(DPConfig):
    """Settings of iterative policy evaluation."""

    policy: Literal["uniform"] = "uniform"
    """policy to evaluate ('uniform': every action equally likely)"""


class DPAgent(TabularAgent):
    """Plans on ``env.unwrapped.P``; takes no environment steps. ``num_timesteps``
    counts sweeps; ``learn`` stops at ``total_timesteps`` sweeps or on convergence."""

    Config = DPConfig
    config: DPConfig

    def __init__(self, config: DPConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        model = self.model()
        if model is None:
            raise ValueError(f"{self.name} needs the environment's model (env.unwrapped.P); {envs.id} has none")
        self.mdp: TabularModel = model
        self.V = np.zeros(self.n_states)
        """state values, ``float64[S]``"""
        self.policy = np.zeros(self.n_states, dtype=np.int64)
        """greedy action per state, ``int64[S]``"""
        self.converged = np.zeros(1, dtype=bool)

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        while self.num_timesteps < total_timesteps and not self.converged[0]:
            delta = self.sweep()
            self.num_timesteps += 1
            self.converged[0] = delta < self.config.theta
            if run is not None:
                run.log(self.num_timesteps, {"losses/delta": delta, "charts/start_value": self.start_value()})
                if not run.on_step(self.num_timesteps):
                    break
        self.on_learn_end(run)

    def sweep(self) -> float:
        """One synchronous sweep; returns max_s |V_new(s) - V(s)|."""
        raise NotImplementedError

    def start_value(self) -> float:
        """V at the start state(s), weighted by the start distribution."""
        d0 = getattr(self.env.unwrapped, "initial_state_distrib", None)
        return float(np.dot(d0, self.V)) if d0 is not None and len(d0) == self.n_states else float("nan")

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        return self.batch_act(obs, lambda s: int(self.policy[s])), state

    def tables(self) -> dict[str, np.ndarray]:
        return {"V": self.V, "policy": self.policy, "converged": self.converged}

    def values(self):
        return self.V, self.policy


class PolicyEvaluation(DPAgent):
    """Iterative policy evaluation of a fixed policy (its greedy policy is only shown)."""

    name = "policy_evaluation"
    Config = PolicyEvaluationConfig

    def sweep(self) -> float:
        pi = np.full((self.n_states, self.n_actions), 1.0 / self.n_actions)
        r_pi, P_pi = self.mdp.under_policy(pi)
        V_new = r_pi + self.config.gamma * P_pi @ self.V  # V <- r_pi + gamma P_pi V
        delta = float(np.max(np.abs(V_new - self.V)))
        self.V[:] = V_new
        self.policy[:] = greedy(self.mdp.q_values(self.V, self.config.gamma))
        return delta


class PolicyIteration(DPAgent):
    """Policy iteration: evaluation sweeps until converged, then one greedy
    improvement; converged when an improvement changes nothing."""

    name = "policy_iteration"

    def __init__(self, config: DPConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.pi = np.full((self.n_states, self.n_actions), 1.0 / self.n_actions)
        """the policy being evaluated, ``float64[S, A]`` (starts uniform)"""

    def sweep(self) -> float:
        gamma = self.config.gamma
        r_pi, P_pi = self.mdp.under_policy(self.pi)
        V_new = r_pi + gamma * P_pi @ self.V  # evaluation sweep
        delta = float(np.max(np.abs(V_new - self.V)))
        self.V[:] = V_new
        if delta >= self.config.theta:
            return delta  # keep evaluating
        Q = self.mdp.q_values(self.V, gamma)
        stable = bool(np.all(np.einsum("sa,sa->s", self.pi, Q) >= Q.max(axis=1) - 1e-9))
        self.policy[:] = greedy(Q)  # improvement: pi <- greedy(Q_pi)
        self.pi[:] = one_hot_policy(self.policy, self.n_actions)
        return 0.0 if stable else float("inf")

    def tables(self) -> dict[str, np.ndarray]:
        return {**super().tables(), "pi": self.pi}


class ValueIteration(DPAgent):
    """Value iteration: Bellman optimality backups until converged."""

    name = "value_iteration"

    def sweep(self) -> float:
        Q = self.mdp.q_values(self.V, self.config.gamma)
        V_new = Q.max(axis=1)  # V <- max_a (R + gamma T V)
        delta = float(np.max(np.abs(V_new - self.V)))
        self.V[:] = V_new
        self.policy[:] = greedy(self.mdp.q_values(self.V, self.config.gamma))
        return delta
