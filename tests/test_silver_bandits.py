"""Lecture 9, k-armed bandits on the 10-armed testbed (S&B Section 2.3):
UCB beats epsilon-greedy significantly (S&B Fig 2.4), and every method beats
pulling arms at random by far."""

from __future__ import annotations

import numpy as np
import pytest

from craftlab.agents.registry import agent_class
from craftlab.core.config import EnvConfig, build_dataclass
from craftlab.envs.factory import EnvFactory

STEPS = 1000  # pulls per problem (one episode)


class RecordingRun:
    def __init__(self):
        self.episodes, self.run_dir = [], None

    def on_step(self, step):
        return True

    def log(self, step, scalars):
        pass

    def record_episode(self, step, episode):
        self.episodes.append(episode)


def average_rewards(name: str, problems: int, seed: int = 0, **algo) -> np.ndarray:
    """Average reward per pull of each of ``problems`` testbed problems, ``float64[problems]``.
    The same seed gives the same problems (and reward noise) to every method."""
    cls = agent_class(name)
    config = build_dataclass(cls.Config, {"name": name, **algo})
    factory = EnvFactory(EnvConfig(id="tabular/bandit", kwargs={"steps": STEPS}), num_envs=1, seed=seed)
    agent, run = cls(config, factory, "cpu", seed), RecordingRun()
    agent.learn(problems * STEPS, run)
    assert len(run.episodes) == problems
    return np.array([e["r"] / STEPS for e in run.episodes])


def test_ucb_beats_epsilon_greedy_significantly():
    problems = 100
    ucb = average_rewards("bandit_ucb1", problems, c=2.0)
    eps = average_rewards("bandit_epsilon_greedy", problems, epsilon=0.1)
    diff = ucb - eps  # paired: the same 100 problems
    t_stat = diff.mean() / (diff.std(ddof=1) / np.sqrt(problems))
    # S&B Fig 2.4: ~1.5 vs ~1.35 average reward over 1000 steps
    assert ucb.mean() > 1.2 and t_stat > 3.0, (ucb.mean(), eps.mean(), t_stat)


@pytest.mark.parametrize(
    "name,algo",
    [
        ("bandit_epsilon_greedy", {"epsilon": 0.1}),
        ("bandit_epsilon_greedy", {"epsilon": 0.0, "initial_value": 5.0, "alpha": 0.1}),  # optimistic greedy
        ("bandit_ucb1", {"c": 2.0}),
        ("bandit_thompson", {}),
        ("bandit_gradient", {"alpha": 0.1}),
    ],
)
def test_bandits_learn(name, algo):
    # random pulls earn E[q*] = 0; the best arm is worth ~1.54 on average
    assert average_rewards(name, 40, seed=1, **algo).mean() > 1.0
