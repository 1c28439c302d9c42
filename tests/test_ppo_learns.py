"""The from-scratch PPO learns: CartPole-v1 mean evaluation return >= 450 within a step
budget, in at least 2 of 3 seeds (each run stops as soon as it is solved)."""

from __future__ import annotations

import pytest
import torch

from craftlab.agents.run_context import RunContext
from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent

BUDGET = 150_000
"""env steps PPO may use to reach the target"""
TARGET = 450.0
"""mean return over 10 deterministic evaluation episodes (CartPole-v1's maximum is 500)"""

CARTPOLE = {
    "env": {"id": "CartPole-v1"},
    # RL Baselines3 Zoo's tuned CartPole-v1 PPO hyperparameters
    "algo": {
        "name": "ppo",
        "num_steps": 32,
        "learning_rate": 1e-3,
        "gamma": 0.98,
        "gae_lambda": 0.8,
        "update_epochs": 20,
        "num_minibatches": 1,
        "ent_coef": 0.0,
    },
    "train": {"total_timesteps": BUDGET, "num_envs": 8, "progress_bar": False},
}


def train_until_solved(
    data: dict, seed: int, budget: int, target: float, eval_every: int = 10_000
) -> tuple[int, float]:
    """Train; every ``eval_every`` steps evaluate 10 episodes and stop once the mean
    reaches ``target``. Returns (steps used, best evaluation mean)."""
    config = load_run_config(data={**data, "train": {**data["train"], "seed": seed}})
    agent = build_agent(config)
    best = float("-inf")
    run = RunContext(total_timesteps=budget, eval_interval=eval_every)

    def check(agent_, step):
        nonlocal best
        best = max(best, evaluate(agent_, agent_.envs, episodes=10, seed=1000 + seed).summary()["mean_return"])
        if best >= target:
            run.interrupted = True  # solved: stop early

    run.evaluate, run.agent = check, agent
    try:
        agent.learn(budget, run)
    finally:
        agent.close()
    return agent.num_timesteps, best


@pytest.mark.slow
def test_ppo_solves_cartpole():
    torch.set_num_threads(1)
    results = [train_until_solved(CARTPOLE, seed=seed, budget=BUDGET, target=TARGET) for seed in (0, 1, 2)]
    solved = sum(best >= TARGET for _, best in results)
    print(f"PPO CartPole-v1 (steps, best) per seed: {results}")
    assert solved >= 2, (
        f"PPO solved CartPole-v1 (target {TARGET}) in {solved}/3 seeds; (steps, best) per seed: {results}"
    )
