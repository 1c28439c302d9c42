"""Model-based agents (``agents/model_based/``) learn a model, plan with it, and resume:

- the dynamics ensemble fit by ``mpc_pendulum.yaml`` (its random steps, one fit) predicts
  held-out Pendulum-v1 transitions far better than "nothing changes" / "the mean reward";
- on that one model (a module-scoped fixture), MPC with CEM beats random-shooting MPC at the
  same number of model evaluations per action, and both beat a random policy;
- MBPO (``mbpo_pendulum.yaml``) reaches a greedy mean return >= -250 on Pendulum-v1 within
  MBPO_BUDGET env steps (SAC needs 3k-4k, ``tests/test_sac_td3.py``; random: about -1200);
- a checkpoint round trip (data included) continues identically and acts identically.

docs/levine.md has the measured figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

from craftlab.agents.model_based import Transitions
from craftlab.agents.run_context import RunContext
from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent

torch.set_num_threads(1)

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "levine"


def shipped_config(name: str, **algo: Any) -> dict[str, Any]:
    """A shipped YAML config as a dict (``algo`` overrides), on the CPU without a progress bar."""
    data = yaml.safe_load((CONFIGS / name).read_text())
    data["algo"].update(algo)
    data["train"].update(progress_bar=False, device="cpu", seed=0)
    return data


# ------------------------------------------------------------------ the model


@pytest.fixture(scope="module")
def pendulum_mpc():
    """mpc_pendulum.yaml's agent (seed 0) after its random steps and first model fit."""
    agent = build_agent(load_run_config(data=shipped_config("mpc_pendulum.yaml")))
    agent.learn(agent.config.random_steps)
    agent.close()
    assert agent.num_model_fits == 1
    return agent


def random_transitions(steps: int, seed: int) -> Transitions:
    """Pendulum-v1 transitions under uniformly random actions, in episodes the model never saw."""
    env = gym.make("Pendulum-v1")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: list[tuple] = []
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, reward, next_obs))
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    columns = [torch.as_tensor(np.array(c), dtype=torch.float32) for c in zip(*rows)]
    return Transitions(*columns)


STATE_ERROR_FRACTION = 0.01
"""the model's next-state MSE must be below this fraction of predicting s_{t+1} = s_t"""
REWARD_ERROR_FRACTION = 0.1
"""the model's reward MSE must be below this fraction of the rewards' variance (predicting the mean)"""


def test_ensemble_learns_pendulum_dynamics(pendulum_mpc):
    held_out = random_transitions(2000, seed=12345)
    next_obs, rewards = pendulum_mpc.model.predict(held_out.observations, held_out.actions)  # [E, n, ...]
    state_mse = ((next_obs - held_out.next_observations) ** 2).mean(dim=(1, 2))  # per member
    zero_delta_mse = float(((held_out.observations - held_out.next_observations) ** 2).mean())
    reward_mse = ((rewards - held_out.rewards) ** 2).mean(dim=1)
    reward_variance = float(held_out.rewards.var())
    print(
        f"held-out next-state MSE per member {[f'{x:.2e}' for x in state_mse.tolist()]} vs zero delta "
        f"{zero_delta_mse:.4f}; reward MSE {[f'{x:.3f}' for x in reward_mse.tolist()]} vs variance {reward_variance:.2f}"
    )
    assert torch.all(state_mse < STATE_ERROR_FRACTION * zero_delta_mse), (
        f"next-state MSE {state_mse.tolist()} is not below {STATE_ERROR_FRACTION} x the zero-delta {zero_delta_mse:.4f}"
    )
    assert torch.all(reward_mse < REWARD_ERROR_FRACTION * reward_variance), (
        f"reward MSE {reward_mse.tolist()} is not below {REWARD_ERROR_FRACTION} x the variance {reward_variance:.2f}"
    )


# ------------------------------------------------------------------ planning

EVAL_SEEDS = [100, 101, 102, 103, 104]
CEM_MARGIN = 75.0
"""CEM's mean return must beat random shooting's by this much (measured gaps: 120-200)"""
RANDOM_MARGIN = 300.0
"""random shooting's mean return must beat the random policy's by this much"""


def pendulum_returns(act, seeds: list[int]) -> np.ndarray:
    """Undiscounted returns of whole Pendulum-v1 episodes (200 steps), one per seed, played
    side by side: ``act(obs[B, 3], state, episode_start) -> (actions[B, 1], state)``."""
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("Pendulum-v1")] * len(seeds))
    obs, _ = envs.reset(seed=seeds)
    returns, state, episode_start = np.zeros(len(seeds)), None, np.ones(len(seeds), dtype=bool)
    for _ in range(200):
        actions, state = act(obs, state, episode_start)
        obs, rewards, terminated, truncated, _ = envs.step(actions.astype(np.float32))
        returns += rewards
        episode_start = terminated | truncated
    envs.close()
    assert episode_start.all(), "Pendulum episodes are 200 steps"
    return returns


@pytest.mark.slow
def test_cem_beats_random_shooting_at_equal_cost(pendulum_mpc):
    cem = pendulum_mpc
    assert cem.config.planner == "cem"
    data = shipped_config("mpc_pendulum.yaml", planner="random_shooting", num_sequences=cem.config.sequences_per_action)
    shooting = build_agent(load_run_config(data=data))
    shooting.load_state_dict(cem.state_dict())  # the same model
    cost = cem.config.model_evaluations_per_action
    assert shooting.config.model_evaluations_per_action == cost

    rng = np.random.default_rng(0)
    random_policy = pendulum_returns(lambda obs, s, e: (rng.uniform(-2.0, 2.0, (len(obs), 1)), None), EVAL_SEEDS)
    shooting_returns = pendulum_returns(lambda obs, s, e: shooting.act(obs, s, e), EVAL_SEEDS)
    cem_returns = pendulum_returns(lambda obs, s, e: cem.act(obs, s, e), EVAL_SEEDS)
    print(
        f"Pendulum-v1, {cost} model evaluations per action: CEM {cem_returns.round().tolist()} "
        f"(mean {cem_returns.mean():.0f}), random shooting {shooting_returns.round().tolist()} "
        f"(mean {shooting_returns.mean():.0f}), random policy mean {random_policy.mean():.0f}"
    )
    assert cem_returns.mean() >= shooting_returns.mean() + CEM_MARGIN, (
        f"CEM {cem_returns.mean():.0f} does not beat random shooting {shooting_returns.mean():.0f} by {CEM_MARGIN}"
    )
    assert shooting_returns.mean() >= random_policy.mean() + RANDOM_MARGIN, (
        f"random shooting {shooting_returns.mean():.0f} does not beat a random policy "
        f"{random_policy.mean():.0f} by {RANDOM_MARGIN}"
    )


# ------------------------------------------------------------------ MBPO

MBPO_BUDGET = 1000
MBPO_TARGET = -250.0


@pytest.mark.slow
def test_mbpo_learns_pendulum_in_few_env_steps():
    """mbpo_pendulum.yaml, seed 0: every 100 env steps 10 greedy episodes; stop once their mean
    reaches the target (measured: at 600 steps; seeds 1 / 2: 1200 / 700)."""
    agent = build_agent(load_run_config(data=shipped_config("mbpo_pendulum.yaml")))
    run = RunContext(total_timesteps=MBPO_BUDGET, eval_interval=100)
    best = float("-inf")

    def check(agent_, step):
        nonlocal best
        best = max(best, evaluate(agent_, agent_.envs, episodes=10, seed=1000).summary()["mean_return"])
        if best >= MBPO_TARGET:
            run.interrupted = True  # solved: stop early

    run.evaluate, run.agent = check, agent
    try:
        agent.learn(MBPO_BUDGET, run)
    finally:
        agent.close()
    print(f"MBPO Pendulum-v1: best {best:.1f} at {agent.num_timesteps} env steps")
    assert best >= MBPO_TARGET, f"MBPO reached only {best:.1f} on Pendulum-v1 in {agent.num_timesteps} env steps"


# ------------------------------------------------------------------ checkpoints

MODEL = {"ensemble_size": 2, "hidden_sizes": [16], "train_steps": 20, "batch_size": 32}
ROUND_TRIP = {
    "mpc": {"random_steps": 60, "train_interval": 40, "planning_horizon": 5, "num_sequences": 10, "cem_elites": 3},
    "mbpo": {
        "learning_starts": 60,
        "batch_size": 32,
        "gradient_steps": 2,
        "buffer_size": 1000,
        "model_train_freq": 40,
        "rollout_batch_size": 16,
        "rollout_length": 2,
        "network": {"hidden_sizes": [16, 16]},
    },
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_checkpoint_round_trip_continues_identically(name, tmp_path):
    """Train 100 steps and save (data included), then (a) the same agent restarts its envs and
    trains on to 160, (b) a fresh agent loads the checkpoint, acts as the saved one did, and
    trains on to 160. Both end with identical models and actions: model, optimisers, counters,
    RNGs and data all made the round trip."""
    data = {
        "env": {"id": "Pendulum-v1"},
        "algo": {"name": name, "model": MODEL, **ROUND_TRIP[name]},
        "train": {"num_envs": 2, "seed": 3, "progress_bar": False, "device": "cpu"},
    }
    config = load_run_config(data=data)
    run = RunContext(save_replay_buffer=True)
    obs = np.array([[1.0, 0.0, 0.5], [-1.0, 0.0, -2.0]], dtype=np.float32)
    first = build_agent(config)
    first.learn(100, run)
    first.save(tmp_path)
    saved_actions = first.act(obs)[0]
    first.close()  # a resumed run starts new envs: so does this one
    first.learn(160, run)  # before the second agent exists: building it draws from torch's global RNG

    second = build_agent(config)
    second.load(tmp_path)  # torch.load(weights_only=True)
    np.testing.assert_array_equal(second.act(obs)[0], saved_actions)
    second.learn(160, run)
    first.close(), second.close()
    assert first.num_timesteps == second.num_timesteps == 160
    for net_name, net in (first.networks() if name == "mbpo" else {"model": first.model}).items():
        other = (second.networks() if name == "mbpo" else {"model": second.model})[net_name].state_dict()
        for key, value in net.state_dict().items():
            assert torch.equal(value, other[key]), f"{name}: {net_name}.{key} differs after resuming"
    np.testing.assert_array_equal(first.act(obs)[0], second.act(obs)[0])
