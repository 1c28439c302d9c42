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
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from craftlab.agents.tabular.base import TabularAgent, TabularConfig
from craftlab.agents.tabular.planning import (
    TabularModel,
    greedy,
    one_hot_policy,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)
from craftlab.core.config import require

__all__ = [  # the DP algorithms themselves live in planning.py; lecture 3's agents and them, here
    "DPAgent",
    "PolicyEvaluation",
    "PolicyIteration",
    "ValueIteration",
    "TabularModel",
    "greedy",
    "one_hot_policy",
    "policy_evaluation",
    "policy_iteration",
    "value_iteration",
]

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory


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
