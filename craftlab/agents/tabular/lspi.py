"""Least-squares policy iteration, LSPI (Silver's Lecture 6; Lagoudakis & Parr, JMLR 2003).

Batch reinforcement learning: the agent first collects a fixed batch of
samples D = {(s, a, r, s', terminated)} with a uniformly random behaviour
policy (``train.total_timesteps`` samples), then runs approximate policy
iteration on that batch alone, with a linear action value

    q(s, a, w) = phi(s, a) . w,   phi(s, a) = the state features x(s) in action a's block

Policy evaluation is LSTDQ: the w whose q satisfies the Bellman equation of
the current greedy policy pi on the samples (a TD fixed point, solved in one
linear system instead of by stochastic updates):

    A = sum_D phi(s, a) (phi(s, a) - gamma phi(s', pi(s')))^T    (phi(s', .) = 0 if s' is terminal)
    b = sum_D phi(s, a) r
    w = A^-1 b

Policy improvement is implicit: pi(s) = argmax_a q(s, a, w). LSPI repeats
w <- LSTDQ(D, pi_w) until w changes by less than ``tolerance`` (the same
samples are reused by every iteration, whatever policy is evaluated).

With ``features: one_hot`` (x(s) = e_s) A and b are the counts of the sample
model, w is exactly Q_pi of the empirical MDP, and LSPI is exact policy
iteration on that model. ``polynomial`` and ``rbf`` are the paper's features
for the chain walk (``tabular/chain_walk``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from craftlab.agents.tabular import planning
from craftlab.agents.tabular.base import TabularAgent, TabularConfig
from craftlab.core.config import require

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory


@dataclass
class LSPIConfig(TabularConfig):
    """Settings of LSPI."""

    gamma: float = 0.9
    """discount factor gamma in [0, 1) (the chain walk is continuing: gamma < 1)"""
    features: Literal["one_hot", "polynomial", "rbf"] = "rbf"
    """state features x(s) of the state index s: 'one_hot' e_s (exact, tabular); 'polynomial'
    (1, z, ..., z^degree) with z = s / (n_states - 1); 'rbf' a constant and Gaussian bumps"""
    degree: int = 4
    """highest power of the 'polynomial' features"""
    rbf_centers: int = 10
    """number of Gaussian 'rbf' features, centred evenly over the states"""
    rbf_sigma: float = 4.0
    """width (standard deviation, in states) of each 'rbf' feature"""
    max_iterations: int = 20
    """most policy iterations (approximate policy iteration need not converge; it may cycle)"""
    tolerance: float = 1e-6
    """stop when the L2 norm of the change in w is below this"""
    ridge: float = 1e-6
    """delta added to A's diagonal (A + delta I) so that unsampled (s, a) leave it invertible"""

    def validate(self) -> None:
        super().validate()
        require(self.gamma < 1.0, "gamma", "must be < 1 (LSTDQ's A can be singular with gamma = 1)")
        require(self.degree >= 0, "degree", "must be >= 0")
        require(self.rbf_centers >= 1, "rbf_centers", "must be >= 1")
        require(self.rbf_sigma > 0, "rbf_sigma", "must be > 0")
        require(self.max_iterations >= 1, "max_iterations", "must be >= 1")
        require(self.tolerance >= 0, "tolerance", "must be >= 0")
        require(self.ridge >= 0, "ridge", "must be >= 0")


def state_features(
    kind: str, n_states: int, degree: int = 4, rbf_centers: int = 10, rbf_sigma: float = 4.0
) -> np.ndarray:
    """x(s) for every state index s, ``float64[n_states, k]``."""
    s = np.arange(n_states, dtype=np.float64)
    if kind == "one_hot":
        return np.eye(n_states)
    if kind == "polynomial":
        z = s / max(n_states - 1, 1)  # scaled to [0, 1] for a well-conditioned A
        return z[:, None] ** np.arange(degree + 1)[None, :]  # (1, z, z^2, ..., z^degree)
    if kind == "rbf":
        centres = np.linspace(0, n_states - 1, rbf_centers)
        bumps = np.exp(-((s[:, None] - centres[None, :]) ** 2) / (2 * rbf_sigma**2))
        return np.hstack([np.ones((n_states, 1)), bumps])  # (1, exp(-(s - c_i)^2 / 2 sigma^2) ...)
    raise ValueError(f"unknown features {kind!r}")


class LSPI(TabularAgent):
    """LSPI: random-policy samples, then LSTDQ + greedy improvement until w settles."""

    name = "lspi"
    Config = LSPIConfig
    config: LSPIConfig

    def __init__(self, config: LSPIConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.X = state_features(config.features, self.n_states, config.degree, config.rbf_centers, config.rbf_sigma)
        """state features x(s), ``float64[n_states, k]``"""
        self.k = self.X.shape[1]
        self.W = np.zeros((self.n_actions, self.k))
        """weights, one block per action: q(s, a) = X[s] . W[a] (w = W flattened)"""
        self.iterations = np.zeros(1, dtype=np.int64)
        """policy iterations of the last LSPI run"""
        self.samples: dict[str, list] = {"s": [], "a": [], "r": [], "s2": [], "terminated": []}
        """the batch D, one list per field"""
        self._obs: Any = None
        model = self.model()
        self.q_star: np.ndarray | None = None
        """q* by value iteration when the env has a model (only for logging how optimal pi is)"""
        if model is not None:
            v_star, _, _ = planning.value_iteration(model, config.gamma, theta=1e-12)
            self.q_star = model.q_values(v_star, config.gamma)

    # ------------------------------------------------------------ the policy

    def q_table(self) -> np.ndarray:
        """q(s, a, w) for every state and action, ``float64[n_states, n_actions]``."""
        return self.X @ self.W.T

    def greedy_table(self) -> np.ndarray:
        """pi_w(s) = argmax_a q(s, a, w), ``int64[n_states]`` (lowest action among ties, as planning.greedy)."""
        return planning.greedy(self.q_table())

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        policy = self.greedy_table()
        return self.batch_act(obs, lambda s: int(policy[s])), state

    def optimal_fraction(self, policy: np.ndarray | None = None) -> float:
        """Fraction of states where pi's action is optimal, q*(s, pi(s)) = v*(s) (NaN without a model)."""
        if self.q_star is None:
            return float("nan")
        policy = self.greedy_table() if policy is None else policy
        chosen = self.q_star[np.arange(self.n_states), policy]
        return float(np.mean(chosen >= self.q_star.max(axis=1) - 1e-9))

    # ------------------------------------------------------------ learning

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        self._run = run
        try:
            self.collect(total_timesteps, run)
            self.policy_iteration(run)
            if run is not None:
                run.on_step(self.num_timesteps)
            self.on_learn_end(run)
        finally:
            self._run = None

    def collect(self, total_timesteps: int, run: "RunContext | None") -> None:
        """Add samples (s, a, r, s', terminated) of the uniformly random policy until
        ``num_timesteps`` reaches ``total_timesteps`` (the batch D)."""
        while self.num_timesteps < total_timesteps:
            if self._obs is None:
                self._obs = self.reset_env()
            a = int(self.rng.integers(self.n_actions))  # behaviour policy: uniform random
            obs, r, terminated, truncated = self.step_env(a)
            for key, value in zip(self.samples, (self.index(self._obs), a, r, self.index(obs), terminated)):
                self.samples[key].append(value)
            self._obs = None if (terminated or truncated) else obs
            if (terminated or truncated) and run is not None and not run.on_step(self.num_timesteps):
                break

    def batch_counts(self) -> tuple[np.ndarray, ...]:
        """The batch D with repeated transitions merged (the sums over D below only
        need each distinct (s, a, s', terminated) once, times its count):
        ``(s, a, s2, terminated, count, reward_sum)``, each an array over the distinct rows."""
        rows = np.stack([np.array(self.samples[key], dtype=np.int64) for key in ("s", "a", "s2", "terminated")], 1)
        unique, inverse, count = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
        reward_sum = np.bincount(inverse.reshape(-1), weights=np.array(self.samples["r"]), minlength=len(unique))
        return unique[:, 0], unique[:, 1], unique[:, 2], unique[:, 3].astype(bool), count.astype(np.float64), reward_sum

    def lstdq(self, policy: np.ndarray, batch: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        """LSTDQ: the weights ``float64[n_actions, k]`` of q_pi's TD fixed point on the batch."""
        gamma, k = self.config.gamma, self.k
        s, a, s2, terminated, count, reward_sum = self.batch_counts() if batch is None else batch
        n = len(s)
        phi = np.zeros((n, self.n_actions * k))  # phi(s, a): x(s) in block a
        phi_next = np.zeros((n, self.n_actions * k))  # phi(s', pi(s')), 0 after termination
        cols = np.arange(k)
        phi[np.arange(n)[:, None], a[:, None] * k + cols] = self.X[s]
        phi_next[np.arange(n)[:, None], policy[s2][:, None] * k + cols] = self.X[s2] * ~terminated[:, None]
        # A = sum_D phi (phi - gamma phi')^T,  b = sum_D phi r   (each distinct row weighted by its count)
        A = (phi * count[:, None]).T @ (phi - gamma * phi_next) + self.config.ridge * np.eye(self.n_actions * k)
        b = phi.T @ reward_sum
        return np.linalg.solve(A, b).reshape(self.n_actions, k)  # w = A^-1 b

    def policy_iteration(self, run: "RunContext | None") -> None:
        """LSPI proper: w <- LSTDQ(D, greedy(w)) until ||w' - w|| < tolerance."""
        if not self.samples["s"]:
            return
        batch = self.batch_counts()
        for iteration in range(1, self.config.max_iterations + 1):
            policy = self.greedy_table()  # pi <- greedy(q(., ., w))
            W_new = self.lstdq(policy, batch)  # evaluate pi by LSTDQ
            change = float(np.linalg.norm(W_new - self.W))
            self.W[...] = W_new
            self.iterations[0] = iteration
            if run is not None:
                stats = {
                    "losses/weight_change": change,
                    "charts/policy_changes": float(np.sum(self.greedy_table() != policy)),
                }
                if self.q_star is not None:
                    stats["charts/optimal_action_fraction"] = self.optimal_fraction()
                run.log(self.num_timesteps + iteration - 1, stats)
            if change < self.config.tolerance:
                break

    # ------------------------------------------------------------ state

    def tables(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "iterations": self.iterations}

    def values(self):
        return self.q_table().max(axis=1), self.greedy_table()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["samples"] = {
            key: torch.tensor(np.array(values, dtype=np.float64)) for key, values in self.samples.items()
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.samples = {key: state["samples"][key].numpy().tolist() for key in self.samples}
        for key in ("s", "a", "s2"):
            self.samples[key] = [int(v) for v in self.samples[key]]
        self.samples["terminated"] = [bool(v) for v in self.samples["terminated"]]
        self._obs = None
