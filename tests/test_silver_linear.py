"""Lecture 6, value function approximation.

* Tile coding (S&B 9.5.4): one active tile per tiling, generalisation that
  falls off with distance.
* Semi-gradient SARSA with tile coding on Mountain Car (S&B Section 10.1,
  Fig 10.1/10.2): after 50,000 env steps (~340 episodes) the greedy policy
  reaches the goal from >= 19 of 20 start states with a mean return > -140
  (S&B's curves level off near -120..-130), for >= 3 of 5 seeds; untrained, it
  never reaches the goal in 200 steps.
* LSPI (Lagoudakis & Parr 2003) on their chain walk: the 4-state chain's policy
  is the paper's R R L L; on the 50-state chain with the paper's RBF features
  the greedy action is optimal (value iteration's q*) in every state for
  >= 3 of 5 seeds and in >= 95% of states for all; with one-hot features LSPI
  is exact policy iteration on the sample model: its q equals q* of the MDP
  estimated from the same samples.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from test_silver_control import make_agent, seeds_passing

from craftlab.agents.tabular import dp
from craftlab.agents.tabular.lspi import LSPI
from craftlab.agents.tabular.tile_coding import TileCoder

# ------------------------------------------------------------------ tile coding


def test_tile_coder_one_tile_per_tiling_and_local_generalisation():
    coder = TileCoder(np.array([-1.2, -0.07]), np.array([0.6, 0.07]), n_tilings=8, tiles=8)
    assert coder.n_features == 8 * 9 * 9
    rng = np.random.default_rng(0)
    points = rng.uniform(coder.low, coder.high, size=(500, 2))
    for x in points:
        active = coder.active(x)
        assert len(set(active.tolist())) == 8
        assert np.all(active // 81 == np.arange(8))  # tile i lies in tiling i's block
        assert active.min() >= 0 and active.max() < coder.n_features
    width = (coder.high - coder.low) / 8
    x = np.array([-0.5, 0.0])
    shared = lambda y: len(set(coder.active(x).tolist()) & set(coder.active(y).tolist()))  # noqa: E731
    assert shared(x) == 8
    # the offsets along the first axis are spaced 1/8 of a tile apart, so moving (just under)
    # k/8 of a tile along it crosses the tile boundary of k or k - 1 tilings
    for k in range(1, 9):
        assert 8 - k <= shared(x + np.array([k / 8 * width[0] * (1 - 1e-9), 0.0])) <= 9 - k
    assert shared(x + 1.01 * width) == 0  # a tile away in both directions: nothing in common
    # asymmetric offsets (displacement (1, 3)): not all tilings shifted along the diagonal
    assert len({tuple(o) for o in np.round(coder.offsets, 9)}) == 8
    assert not np.allclose(coder.offsets[:, 0], coder.offsets[:, 1])


# ------------------------------------------------------------------ linear SARSA


def greedy_returns(agent, episodes: int = 20) -> list[float]:
    """Returns of the greedy policy (no learning) from ``episodes`` fixed start states."""
    env = gym.make("MountainCar-v0")
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=1000 + i)
        G, done = 0.0, False
        while not done:
            (a,), _ = agent.act(obs[None], deterministic=True)
            obs, r, terminated, truncated, _ = env.step(int(a))
            G, done = G + float(r), terminated or truncated
        returns.append(G)
    return returns


MOUNTAIN_CAR = dict(alpha=0.5, epsilon=0.0, n_tilings=8, tiles=8, initial_value=0.0, gamma=1.0)


def test_linear_sarsa_untrained_never_reaches_the_goal():
    agent = make_agent("linear_sarsa", "MountainCar-v0", 0, **MOUNTAIN_CAR)
    assert max(greedy_returns(agent, 5)) == -200.0


def test_linear_sarsa_tile_coding_solves_mountain_car():
    def check(seed: int) -> bool:
        agent = make_agent("linear_sarsa", "MountainCar-v0", seed, **MOUNTAIN_CAR)
        agent.learn(50_000)
        returns = np.array(greedy_returns(agent))
        return bool(np.sum(returns > -200) >= 19 and returns.mean() > -140)

    assert seeds_passing(check) >= 3


# ------------------------------------------------------------------ LSPI


def make_lspi(seed: int, n_states: int, **algo) -> LSPI:
    return make_agent("lspi", "tabular/chain_walk", seed, env_kwargs={"n_states": n_states}, gamma=0.9, **algo)


def test_chain_walk_model_matches_its_steps():
    """P is a distribution, sampled steps are among P's outcomes at about P's
    frequencies (0.9 the intended way), and episodes are truncated, never terminated."""
    from craftlab.core.config import EnvConfig
    from craftlab.envs.factory import make_env

    env = make_env(
        EnvConfig(id="tabular/chain_walk", kwargs={"n_states": 50, "episode_steps": 100}), render_mode="ansi"
    )
    P = env.unwrapped.P
    assert len(P) == 50 and env.unwrapped.rewarded == (9, 40)
    for s in range(50):
        for a in range(2):
            assert sum(p for p, *_ in P[s][a]) == pytest.approx(1.0)
    rounded = lambda ts: [(round(p, 9), s2, r, d) for p, s2, r, d in ts]  # noqa: E731
    assert rounded(P[0][0]) == [(0.9, 0, 0.0, False), (0.1, 1, 0.0, False)]  # the left end is a dead end
    assert rounded(P[9][1]) == [(0.9, 10, 1.0, False), (0.1, 8, 1.0, False)]  # r(s) = 1 in rewarded states
    rng = np.random.default_rng(0)
    s, _ = env.reset(seed=0)
    assert "@" in env.render()
    intended, steps = 0, 0
    for t in range(1, 1001):
        a = int(rng.integers(2))
        s2, r, terminated, truncated, _ = env.step(a)
        assert (s2, r, terminated) in {(t2[1], t2[2], t2[3]) for t2 in P[s][a]}
        if 0 < s < 49:
            intended, steps = intended + (s2 - s == (1 if a else -1)), steps + 1
        assert truncated == (t % 100 == 0)
        s = env.reset()[0] if truncated else s2
    assert 0.85 < intended / steps < 0.95


def test_chain_walk_optimal_policies():
    """Value iteration on the paper's chains (gamma 0.9): 4 states -> R R L L;
    50 states -> towards the nearer of the rewards at 10 and 41 (1-based)."""
    four = make_lspi(0, 4).model()
    _, pi, _ = dp.value_iteration(four, 0.9)
    assert "".join("LR"[a] for a in pi) == "RRLL"
    fifty = make_lspi(0, 50).model()
    v, pi, _ = dp.value_iteration(fifty, 0.9)
    q = fifty.q_values(v, 0.9)
    right_optimal = q[:, 1] >= q.max(axis=1) - 1e-9
    left_optimal = q[:, 0] >= q.max(axis=1) - 1e-9
    assert right_optimal[:9].all() and left_optimal[10:25].all() and right_optimal[25:40].all()
    assert left_optimal[41:].all()


def test_lspi_four_state_chain_is_rrll():
    for seed in range(3):
        agent = make_lspi(seed, 4, features="polynomial", degree=2)
        agent.learn(500)
        assert "".join("LR"[a] for a in agent.greedy_table()) == "RRLL"


def test_lspi_rbf_finds_optimal_policy_of_50_state_chain():
    fractions = []
    for seed in range(5):
        agent = make_lspi(seed, 50, features="rbf", rbf_centers=10, rbf_sigma=4.0)
        agent.learn(10_000)
        assert agent.iterations[0] < agent.config.max_iterations  # converged: w stopped changing
        fractions.append(agent.optimal_fraction())
    assert min(fractions) >= 0.95 and sum(f == 1.0 for f in fractions) >= 3, fractions


def empirical_model(agent: LSPI) -> dp.TabularModel:
    """The MDP the samples estimate: R(s, a) = mean reward, T(s, a, s') = visit frequencies."""
    S, A = agent.n_states, agent.n_actions
    N, R, T = np.zeros((S, A)), np.zeros((S, A)), np.zeros((S, A, S))
    for s, a, r, s2, terminated in zip(*agent.samples.values()):
        N[s, a] += 1
        R[s, a] += r
        T[s, a, s2] += not terminated
    assert N.min() > 0, "every (s, a) must be sampled"
    return dp.TabularModel(R=R / N, T=T / N[:, :, None], terminal=np.zeros(S, dtype=bool))


def test_lspi_one_hot_is_exact_policy_iteration_on_the_sample_model():
    agent = make_lspi(0, 20, features="one_hot", ridge=1e-9)
    agent.learn(4_000)
    model = empirical_model(agent)
    v_hat, _, _ = dp.value_iteration(model, 0.9, theta=1e-12)
    q_hat = model.q_values(v_hat, 0.9)
    np.testing.assert_allclose(agent.q_table(), q_hat, atol=1e-5)
    chosen = q_hat[np.arange(agent.n_states), agent.greedy_table()]
    assert np.all(chosen >= q_hat.max(axis=1) - 1e-9)


def test_lspi_checkpoint_keeps_the_batch():
    agent = make_lspi(0, 10, features="rbf", rbf_centers=4, rbf_sigma=2.0)
    agent.learn(300)
    clone = make_lspi(1, 10, features="rbf", rbf_centers=4, rbf_sigma=2.0)
    clone.load_state_dict(agent.state_dict())
    assert clone.samples == agent.samples and clone.num_timesteps == 300
    np.testing.assert_array_equal(clone.W, agent.W)
    clone.learn(600)
    assert len(clone.samples["s"]) == 600
