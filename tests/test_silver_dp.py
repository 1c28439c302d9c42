"""Lecture 3, planning by dynamic programming: policy evaluation is the
solution of the Bellman expectation equation, and policy iteration and value
iteration find the same optimal values (and the known optimal returns)."""

from __future__ import annotations

import numpy as np
import pytest

from craftlab.agents.tabular import dp
from craftlab.agents.tabular.dp import PolicyIteration, ValueIteration
from craftlab.core.config import EnvConfig
from craftlab.envs.factory import EnvFactory, make_env

ENVS = {
    "FrozenLake-v1": ("FrozenLake-v1", {}),
    "CliffWalking-v1": ("CliffWalking-v1", {}),
    "Taxi-v4": ("Taxi-v4", {}),
    "crafting_world": ("tabular/crafting_world", {}),
    "crafting_world_slippery": ("tabular/crafting_world", {"slip": 0.1}),
    "random_walk": ("tabular/random_walk", {}),
    "windy_gridworld": ("tabular/windy_gridworld", {}),
}


def model_of(name: str) -> tuple[dict, int, int, dp.TabularModel]:
    env_id, kwargs = ENVS[name]
    env = make_env(EnvConfig(id=env_id, kwargs=kwargs))
    n_s, n_a = env.observation_space.n, env.action_space.n
    P = env.unwrapped.P
    return P, n_s, n_a, dp.TabularModel.from_P(P, n_s, n_a)


@pytest.mark.parametrize(
    "name,gamma",
    [
        ("FrozenLake-v1", 0.9),
        ("random_walk", 1.0),
        ("CliffWalking-v1", 0.95),
        ("crafting_world_slippery", 0.95),
        ("Taxi-v4", 0.9),
    ],
)
def test_policy_evaluation_solves_the_bellman_equation(name, gamma):
    P, n_s, n_a, model = model_of(name)
    pi = np.random.default_rng(0).dirichlet(np.ones(n_a), size=n_s)  # an arbitrary stochastic policy
    # r_pi and P_pi straight from P (independently of TabularModel)
    r_pi, P_pi = np.zeros(n_s), np.zeros((n_s, n_s))
    for s in range(n_s):
        for a in range(n_a):
            for p, s2, r, done in P[s][a]:
                r_pi[s] += pi[s, a] * p * r
                if not done:
                    P_pi[s, s2] += pi[s, a] * p
    v_exact = np.linalg.solve(np.eye(n_s) - gamma * P_pi, r_pi)  # v = (I - gamma P_pi)^-1 r_pi
    v, sweeps = dp.policy_evaluation(model, pi, gamma, theta=1e-12)
    assert sweeps > 1
    np.testing.assert_allclose(v, v_exact, rtol=0, atol=1e-8)


def test_random_walk_true_values_are_linear():
    _, n_s, n_a, model = model_of("random_walk")
    v, _ = dp.policy_evaluation(model, np.full((n_s, n_a), 0.5), 1.0, theta=1e-13)
    np.testing.assert_allclose(v[1:20], (np.arange(1, 20) - 10) / 10, atol=1e-8)  # v(s) = -1 + 2 s / 20
    assert model.terminal.tolist() == [True] + [False] * 19 + [True]


@pytest.mark.parametrize(
    "name,gamma",
    [
        ("FrozenLake-v1", 0.99),
        ("CliffWalking-v1", 1.0),
        ("Taxi-v4", 0.99),
        ("crafting_world", 0.95),
        ("crafting_world_slippery", 0.99),
    ],
)
def test_policy_iteration_and_value_iteration_agree(name, gamma):
    _, n_s, n_a, model = model_of(name)
    v_pi, pi_pi, iterations = dp.policy_iteration(model, gamma, theta=1e-11)
    v_vi, pi_vi, sweeps = dp.value_iteration(model, gamma, theta=1e-11)
    assert iterations >= 2 and sweeps >= 2
    np.testing.assert_allclose(v_pi, v_vi, atol=1e-6)
    # both greedy policies are optimal: evaluating them gives v*
    for actions in (pi_pi, pi_vi):
        v, _ = dp.policy_evaluation(model, dp.one_hot_policy(actions, n_a), gamma, theta=1e-11)
        np.testing.assert_allclose(v, v_vi, atol=1e-5)


@pytest.mark.parametrize(
    "name,kwargs,gamma,start,optimal",
    [
        ("CliffWalking-v1", {}, 1.0, 36, -13.0),  # S&B Example 6.6: 13 steps along the cliff
        ("tabular/windy_gridworld", {}, 1.0, 30, -15.0),  # S&B Example 6.5: 15 steps
        # crafting world: 3 moves to a tree, 3 wood, table, pickaxe, 2 moves to the stone, mine = 11 steps, +3 reward
        ("tabular/crafting_world", {"step_reward": -1.0}, 1.0, None, 3.0 - 11.0),
    ],
)
def test_value_iteration_agent_finds_known_optimal_returns(name, kwargs, gamma, start, optimal):
    factory = EnvFactory(EnvConfig(id=name, kwargs=kwargs), num_envs=1, seed=0)
    for cls in (ValueIteration, PolicyIteration):
        agent = cls(cls.Config(name=cls.name, gamma=gamma, theta=1e-10), factory, "cpu", 0)
        agent.learn(1_000_000)  # sweeps; evaluating the uniform policy on the cliff with gamma=1 takes 160k
        assert agent.converged[0]
        s0 = start if start is not None else int(np.argmax(agent.env.unwrapped.initial_state_distrib))
        assert agent.V[s0] == pytest.approx(optimal, abs=1e-6)
        # following the greedy policy in the (deterministic) env earns exactly that
        obs, _ = agent.env.reset(seed=0)
        total, done, steps = 0.0, False, 0
        while not done and steps < 100:
            (a,), _ = agent.act(np.array([obs]))
            obs, r, term, trunc, _ = agent.env.step(a)
            total, done, steps = total + r, term or trunc, steps + 1
        assert total == pytest.approx(optimal)
