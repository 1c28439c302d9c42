"""Learning tests of the Levine-course agents (fixed seeds, fixed step budgets):

- VPG (reward-to-go + learned baseline + normalised advantages) and A2C solve
  CartPole-v1 (mean greedy return >= 450) in at least 2 of 3 seeds;
- continuous PPO (Gaussian policy) reaches >= -300 on Pendulum-v1;
- PPO + RND finds the sparse reward of ``probe/sparse_corridor`` while plain PPO
  with the same settings and budget does not, in most seeds.

Each test fails if its agent learns nothing (the targets are far above a random
policy: CartPole ~22, Pendulum ~-1200, corridor 0). The PPO CartPole test is in
``test_ppo_learns.py``.
"""

from __future__ import annotations

import pytest
from test_ppo_learns import train_until_solved

from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent

SEEDS = (0, 1, 2)

VPG_BUDGET = 100_000
VPG_CARTPOLE = {
    "env": {"id": "CartPole-v1"},
    "algo": {
        "name": "vpg",
        "num_steps": 500,
        "learning_rate": 1e-2,
        "gamma": 0.99,
        "reward_to_go": True,
        "baseline": True,
        "norm_adv": True,
        "value_steps": 5,
    },
    "train": {"num_envs": 4, "progress_bar": False, "device": "cpu"},
}

A2C_BUDGET = 150_000
A2C_CARTPOLE = {
    "env": {"id": "CartPole-v1"},
    # Stable-Baselines3's A2C defaults (configs/levine/a2c_cartpole.yaml)
    "algo": {
        "name": "a2c",
        "num_steps": 5,
        "learning_rate": 7e-4,
        "gamma": 0.99,
        "gae_lambda": 1.0,
        "ent_coef": 0.0,
        "optimizer": "rmsprop",
    },
    "train": {"num_envs": 8, "progress_bar": False, "device": "cpu"},
}

PENDULUM_BUDGET = 100_000
PENDULUM_TARGET = -300.0
PPO_PENDULUM = {
    "env": {"id": "Pendulum-v1"},
    # RL Baselines3 Zoo's Pendulum-v1 PPO settings without gSDE, minibatch 256, value targets normalised
    "algo": {
        "name": "ppo",
        "num_steps": 1024,
        "learning_rate": 1e-3,
        "gamma": 0.9,
        "gae_lambda": 0.95,
        "update_epochs": 10,
        "num_minibatches": 16,
        "ent_coef": 0.0,
        "clip_vloss": False,
        "norm_value": True,
    },
    "train": {"num_envs": 4, "progress_bar": False, "device": "cpu"},
}

CORRIDOR_BUDGET = 16_000
CORRIDOR_ALGO = {"num_steps": 64, "learning_rate": 1e-3, "ent_coef": 0.01, "update_epochs": 4, "num_minibatches": 4}


@pytest.mark.slow
def test_vpg_solves_cartpole_in_2_of_3_seeds():
    results = [train_until_solved(VPG_CARTPOLE, seed=s, budget=VPG_BUDGET, target=450.0) for s in SEEDS]
    solved = sum(best >= 450.0 for _, best in results)
    print(f"VPG CartPole-v1 (steps, best) per seed: {results}")
    assert solved >= 2, f"VPG solved CartPole-v1 in {solved}/3 seeds: (steps, best) = {results}"


@pytest.mark.slow
def test_a2c_solves_cartpole_in_2_of_3_seeds():
    results = [train_until_solved(A2C_CARTPOLE, seed=s, budget=A2C_BUDGET, target=450.0) for s in SEEDS]
    solved = sum(best >= 450.0 for _, best in results)
    print(f"A2C CartPole-v1 (steps, best) per seed: {results}")
    assert solved >= 2, f"A2C solved CartPole-v1 in {solved}/3 seeds: (steps, best) = {results}"


@pytest.mark.slow
def test_ppo_continuous_pendulum():
    steps, best = train_until_solved(
        PPO_PENDULUM, seed=0, budget=PENDULUM_BUDGET, target=PENDULUM_TARGET, eval_every=8192
    )
    print(f"PPO Pendulum-v1: best {best:.1f} at {steps} steps")
    assert best >= PENDULUM_TARGET, f"PPO reached only {best:.1f} on Pendulum-v1 in {steps} steps"


def _corridor_success(algo: str, seed: int) -> float:
    """Mean return of the *stochastic* policy after the budget (1 = always reaches the goal).
    Stochastic, because an untrained greedy policy may walk right by chance."""
    data = {
        "env": {"id": "probe/sparse_corridor"},
        "algo": {"name": algo, **CORRIDOR_ALGO},
        "train": {"num_envs": 8, "seed": seed, "progress_bar": False, "device": "cpu"},
    }
    agent = build_agent(load_run_config(data=data))
    agent.learn(CORRIDOR_BUDGET)
    agent.close()
    return evaluate(agent, agent.envs, episodes=20, deterministic=False, seed=77).summary()["mean_return"]


@pytest.mark.slow
def test_rnd_explores_where_ppo_does_not():
    rnd = [_corridor_success("ppo_rnd", s) for s in SEEDS]
    ppo = [_corridor_success("ppo", s) for s in SEEDS]
    print(f"sparse corridor, stochastic success rate per seed: PPO+RND {rnd}, PPO {ppo}")
    assert sum(r >= 0.5 for r in rnd) >= 2, f"PPO+RND found the corridor's reward in too few seeds: {rnd}"
    assert sum(r >= 0.5 for r in ppo) <= 1, f"plain PPO found it too: the probe does not need exploration {ppo}"
