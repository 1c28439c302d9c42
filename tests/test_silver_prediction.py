"""Lecture 4, model-free prediction on the 19-state random walk (S&B Fig 7.2
and 12.3): the RMS error of V against the true values, averaged over the
first 10 episodes and 20 runs, is lower for n-step TD and TD(lambda) at
intermediate n / lambda than for Monte Carlo (and than TD(0)), each at its
best step size alpha from the same grid."""

from __future__ import annotations

import numpy as np
import pytest

from craftlab.agents.registry import agent_class
from craftlab.core.config import EnvConfig, build_dataclass
from craftlab.envs.factory import EnvFactory

ALPHAS = (0.05, 0.1, 0.2, 0.4, 0.6)
RUNS, EPISODES = 20, 10


def make_agent(name: str, seed: int, **algo):
    cls = agent_class(name)
    config = build_dataclass(cls.Config, {"name": name, "gamma": 1.0, **algo})
    return cls(config, EnvFactory(EnvConfig(id="tabular/random_walk"), num_envs=1, seed=seed), "cpu", seed)


def average_rms_error(name: str, alpha: float, **algo) -> float:
    """S&B's measure: RMS error over the 19 states after each episode, averaged over episodes and runs."""
    errors = []
    for seed in range(RUNS):
        agent = make_agent(name, seed, alpha=alpha, **algo)
        for _ in range(EPISODES):
            agent.learn(agent.num_timesteps + 1)  # one episode
            errors.append(agent.rms_error())
    return float(np.mean(errors))


def best_error(name: str, **algo) -> float:
    return min(average_rms_error(name, alpha, **algo) for alpha in ALPHAS)


@pytest.fixture(scope="module")
def monte_carlo_error() -> float:
    return best_error("mc_prediction", visits="every")  # constant-alpha MC (n = infinity, lambda = 1)


def test_true_values_come_from_dp():
    agent = make_agent("td0", 0)
    np.testing.assert_allclose(agent.v_true[1:20], (np.arange(1, 20) - 10) / 10, atol=1e-8)
    assert agent.rms_error() == pytest.approx(np.sqrt(np.mean(((np.arange(1, 20) - 10) / 10) ** 2)))


@pytest.mark.parametrize(
    "name,algo",
    [
        ("n_step_td", {"n_steps": 4}),
        ("td_lambda_forward", {"lambda_": 0.8}),
        ("td_lambda", {"lambda_": 0.8}),
    ],
)
def test_intermediate_bootstrapping_beats_monte_carlo(name, algo, monte_carlo_error):
    error = best_error(name, **algo)
    # S&B: ~0.26-0.28 for n = 4 and lambda = 0.8 against ~0.5 for Monte Carlo
    assert error < 0.33 and error < monte_carlo_error - 0.1, (error, monte_carlo_error)


def test_intermediate_n_beats_td0():
    assert best_error("n_step_td", n_steps=4) < best_error("td0") - 0.05


@pytest.mark.parametrize("visits", ["first", "every"])
def test_sample_average_monte_carlo_converges(visits):
    agent = make_agent("mc_prediction", 0, visits=visits, sample_average=True)
    agent.learn(30_000)  # ~300 episodes
    assert agent.rms_error() < 0.1
