"""k-armed bandits: exploration and exploitation (Silver's Lecture 9; S&B Chapter 2).

A bandit agent keeps an estimate Q(a) of each arm's mean reward and a count
N(a); the algorithms differ only in how they choose the next arm:

* epsilon-greedy:  random arm with probability epsilon, else argmax_a Q(a);
                   ``initial_value`` > 0 gives optimistic initial values (S&B 2.6)
* UCB1:            argmax_a Q(a) + c sqrt(ln t / N(a))   (c = sqrt 2 is Auer et al.'s UCB1)
* Thompson:        sample q(a) ~ posterior of each arm's mean, pull the best sample
                   (Gaussian prior and rewards with known variance)
* gradient bandit: softmax over preferences H(a),
                   H(a) <- H(a) + alpha (R - mean reward) (1[a = A] - pi(a))

Estimates update as the incremental mean  Q(A) <- Q(A) + 1/N(A) (R - Q(A))
(or with a constant ``alpha``). In ``tabular/bandit`` each episode is a new
problem, so by default the agent forgets everything at the start of an episode
(one run of S&B's testbed = one episode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from craftlab.agents.base import AgentConfig
from craftlab.agents.tabular.base import EpisodicAgent, argmax_random
from craftlab.core.config import require


@dataclass
class BanditConfig(AgentConfig):
    """Settings every bandit agent has."""

    reset_each_episode: bool = True
    """forget all estimates when an episode starts (the testbed draws a new problem per episode)"""


class BanditAgent(EpisodicAgent):
    """Shared bandit machinery: Q float64[k], N float64[k], t, the pull loop."""

    Config = BanditConfig

    def __init__(self, config, envs, device="cpu", seed=0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise TypeError(f"bandit agents need Discrete actions, got {self.action_space}")
        self.k = int(self.action_space.n)
        self.Q = np.zeros(self.k)
        """estimated mean reward of each arm"""
        self.N = np.zeros(self.k)
        """pulls of each arm"""
        self.reset_estimates()

    def reset_estimates(self) -> None:
        self.Q[:] = 0.0
        self.N[:] = 0.0

    def choose(self) -> int:
        """The arm to pull next."""
        raise NotImplementedError

    def update(self, a: int, r: float) -> None:
        """Learn from reward r of arm a: the incremental sample mean."""
        self.N[a] += 1
        self.Q[a] += (r - self.Q[a]) / self.N[a]

    def run_episode(self) -> dict[str, float]:
        self.reset_env()
        if self.config.reset_each_episode:
            self.reset_estimates()
        done, total, pulls = False, 0.0, 0
        while not done:
            a = self.choose()
            _, r, terminated, truncated = self.step_env(a)
            self.update(a, r)
            total, pulls, done = total + r, pulls + 1, terminated or truncated
        return {"charts/average_reward": total / max(pulls, 1)}

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        n = len(np.asarray(obs).reshape(-1))
        return np.array(
            [self.choose() if not deterministic else argmax_random(self.Q, self.rng) for _ in range(n)], dtype=np.int64
        ), state

    def tables(self) -> dict[str, np.ndarray]:
        return {"Q": self.Q, "N": self.N}


@dataclass
class EpsilonGreedyConfig(BanditConfig):
    """Settings of the epsilon-greedy bandit."""

    epsilon: float = 0.1
    """probability of pulling a uniformly random arm"""
    initial_value: float = 0.0
    """initial Q(a); e.g. 5 with epsilon 0 is S&B's optimistic greedy (Fig 2.3)"""
    alpha: float = 0.0
    """constant step size; 0 uses the sample average 1/N(a)"""

    def validate(self) -> None:
        require(0.0 <= self.epsilon <= 1.0, "epsilon", "must be in [0, 1]")
        require(0.0 <= self.alpha <= 1.0, "alpha", "must be in [0, 1] (0 = sample average)")


class EpsilonGreedyBandit(BanditAgent):
    """epsilon-greedy action selection (with optional optimistic initial values)."""

    name = "bandit_epsilon_greedy"
    Config = EpsilonGreedyConfig
    config: EpsilonGreedyConfig

    def reset_estimates(self) -> None:
        super().reset_estimates()
        self.Q[:] = self.config.initial_value

    def choose(self) -> int:
        if self.rng.random() < self.config.epsilon:
            return int(self.rng.integers(self.k))
        return argmax_random(self.Q, self.rng)

    def update(self, a: int, r: float) -> None:
        if self.config.alpha == 0.0:
            super().update(a, r)
        else:
            self.N[a] += 1
            self.Q[a] += self.config.alpha * (r - self.Q[a])


@dataclass
class UCB1Config(BanditConfig):
    """Settings of UCB."""

    c: float = 2.0
    """exploration weight c in Q(a) + c sqrt(ln t / N(a)); sqrt(2) is UCB1, S&B Fig 2.4 uses 2"""

    def validate(self) -> None:
        require(self.c >= 0.0, "c", "must be >= 0")


class UCB1Bandit(BanditAgent):
    """Upper confidence bound action selection; each arm is pulled once first."""

    name = "bandit_ucb1"
    Config = UCB1Config
    config: UCB1Config

    def choose(self) -> int:
        untried = np.flatnonzero(self.N == 0)
        if len(untried):
            return int(untried[0])
        t = self.N.sum()
        return argmax_random(self.Q + self.config.c * np.sqrt(math.log(t) / self.N), self.rng)


@dataclass
class ThompsonConfig(BanditConfig):
    """Settings of Gaussian Thompson sampling."""

    prior_mean: float = 0.0
    """mean of the Gaussian prior on every arm's mean reward"""
    prior_std: float = 1.0
    """standard deviation of that prior"""
    reward_std: float = 1.0
    """assumed (known) standard deviation of rewards around an arm's mean"""

    def validate(self) -> None:
        require(self.prior_std > 0, "prior_std", "must be > 0")
        require(self.reward_std > 0, "reward_std", "must be > 0")


class ThompsonBandit(BanditAgent):
    """Thompson sampling (probability matching) with a conjugate Gaussian posterior."""

    name = "bandit_thompson"
    Config = ThompsonConfig
    config: ThompsonConfig

    def choose(self) -> int:
        cfg = self.config
        # posterior of arm a's mean: precision = 1/s0^2 + N/s^2, mean = (m0/s0^2 + sum r/s^2) / precision
        precision = 1.0 / cfg.prior_std**2 + self.N / cfg.reward_std**2
        mean = (cfg.prior_mean / cfg.prior_std**2 + self.Q * self.N / cfg.reward_std**2) / precision
        return int(np.argmax(self.rng.normal(mean, 1.0 / np.sqrt(precision))))


@dataclass
class GradientBanditConfig(BanditConfig):
    """Settings of the gradient bandit."""

    alpha: float = 0.1
    """step size of the preference update"""
    baseline: bool = True
    """subtract the average reward so far (S&B Fig 2.5 shows why it matters)"""


class GradientBandit(BanditAgent):
    """Softmax policy over preferences H(a), stochastic gradient ascent on E[R]."""

    name = "bandit_gradient"
    Config = GradientBanditConfig
    config: GradientBanditConfig

    def __init__(self, config, envs, device="cpu", seed=0):
        self.H = np.zeros(int(envs.action_space.n))
        """action preferences"""
        self.mean_reward = np.zeros(1)
        """average reward so far (the baseline)"""
        super().__init__(config, envs, device, seed)

    def reset_estimates(self) -> None:
        super().reset_estimates()
        self.H[:] = 0.0
        self.mean_reward[:] = 0.0

    def policy(self) -> np.ndarray:
        """pi(a) = exp(H(a)) / sum_b exp(H(b)), float64[k]."""
        z = np.exp(self.H - self.H.max())
        return z / z.sum()

    def choose(self) -> int:
        return int(self.rng.choice(self.k, p=self.policy()))

    def update(self, a: int, r: float) -> None:
        super().update(a, r)  # keeps Q and N for display
        pi = self.policy()
        baseline = self.mean_reward[0] if self.config.baseline else 0.0
        one_hot = np.zeros(self.k)
        one_hot[a] = 1.0
        self.H += self.config.alpha * (r - baseline) * (one_hot - pi)
        self.mean_reward[0] += (r - self.mean_reward[0]) / self.N.sum()

    def tables(self) -> dict[str, np.ndarray]:
        return {**super().tables(), "H": self.H, "mean_reward": self.mean_reward}
