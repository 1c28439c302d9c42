"""The tabular environments of Silver's course: models are consistent with
what the environments do, and text rendering works."""

from __future__ import annotations

import numpy as np
import pytest

from craftlab.core.config import EnvConfig
from craftlab.envs.factory import make_env
from craftlab.envs.tabular.bandit import BanditTestbedEnv
from craftlab.envs.tabular.crafting_world import DO, MAKE_PICKAXE, PLACE_TABLE, CraftingWorldEnv

MODEL_ENVS = [
    ("tabular/random_walk", {}),
    ("tabular/windy_gridworld", {}),
    ("tabular/windy_gridworld", {"king_moves": True, "stochastic_wind": True}),
    ("tabular/crafting_world", {}),
    ("tabular/crafting_world", {"slip": 0.2}),
    ("tabular/bandit", {}),
]


@pytest.mark.parametrize("env_id,kwargs", MODEL_ENVS)
def test_model_is_a_distribution_and_matches_sampled_steps(env_id, kwargs):
    env = make_env(EnvConfig(id=env_id, kwargs=kwargs, max_episode_steps=200), render_mode="ansi")
    P = env.unwrapped.P
    n_s, n_a = env.observation_space.n, env.action_space.n
    assert len(P) == n_s
    for s in range(n_s):
        for a in range(n_a):
            assert sum(p for p, *_ in P[s][a]) == pytest.approx(1.0)
            assert all(0 <= s2 < n_s for _, s2, _, _ in P[s][a])
    rng = np.random.default_rng(0)
    s, _ = env.reset(seed=0)
    assert isinstance(env.render(), str) and env.render()
    for _ in range(300):
        a = int(rng.integers(n_a))
        s2, r, terminated, truncated, _ = env.step(a)
        if env_id != "tabular/bandit":  # the bandit's model holds expected rewards
            assert (s2, r, terminated) in {(t[1], t[2], t[3]) for t in P[s][a] if t[0] > 0}
        s = s2
        if terminated or truncated:
            s, _ = env.reset()


def test_random_walk_layout():
    env = make_env(EnvConfig(id="tabular/random_walk"))
    s, _ = env.reset(seed=0)
    assert env.observation_space.n == 21 and s == 10
    assert env.unwrapped.P[1][0] == [(1.0, 0, -1.0, True)]
    assert env.unwrapped.P[19][1] == [(1.0, 20, 1.0, True)]


def test_windy_gridworld_wind_pushes_up():
    env = make_env(EnvConfig(id="tabular/windy_gridworld"))
    u = env.unwrapped
    # moving right from (3, 6), wind 2 in column 6, lands two rows up in column 7
    ((_, s2, r, done),) = u.P[u.encode(3, 6)][1]
    assert u.decode(s2) == (1, 7) and r == -1.0 and not done


def test_crafting_world_tech_tree():
    env = CraftingWorldEnv()
    env.reset(seed=0)
    # walk next to the bottom-left tree: down, left ((3,1) is next to (4,1)? no: go to (3,0))
    for a in (2, 3, 3):  # (2,2) -> (3,2) -> (3,1) -> (3,0), next to the tree at (4,0)
        env.step(a)
    assert env.decode(env.s)[:2] == (3, 0)
    _, r, *_ = env.step(MAKE_PICKAXE)  # no table yet: nothing happens
    assert r == 0.0 and env.decode(env.s)[2:] == (0, 0, 0)
    for _ in range(3):
        env.step(DO)
    assert env.decode(env.s)[2] == 3
    assert env.step(PLACE_TABLE)[1] == 1.0
    assert env.step(MAKE_PICKAXE)[1] == 1.0
    assert env.decode(env.s)[2:] == (0, 1, 1)
    assert env.step(DO)[2] is False  # stone is not next to (3, 0)
    assert "pickaxe yes" in env.render_text()


def test_bandit_draws_a_new_problem_each_episode():
    env = BanditTestbedEnv(k=10, steps=5)
    env.reset(seed=1)
    q1 = env.q_star.copy()
    rewards = [env.step(3)[1] for _ in range(5)]
    assert env.t == 5 and len(set(rewards)) == 5
    env.reset()
    assert not np.allclose(q1, env.q_star)
    assert env.P[0][3][0][2] == env.q_star[3]
