"""Fidelity to the Crafter recipe (Moon et al. 2023, snu-mllab/Achievement-Distillation)
and independent seeds: each test checks a number against a known answer and fails on
the behaviour it replaced (overlapping env seeds, a rollout-rate value normaliser,
the half-weighted value loss, per-minibatch advantages, the IMPALA layer order, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from craftlab.agents.on_policy import RolloutBuffer
from craftlab.agents.run_context import RunContext
from craftlab.commands.cli import main
from craftlab.core.config import EnvConfig
from craftlab.envs.factory import EnvFactory
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent

# ----------------------------------------------------------------------------- seeds

RESET_SEEDS: list[int] = []
"""every seed a SeedRecorder env was reset with (in this process: sync vector envs)"""


class SeedRecorder(gym.Env):
    """One-step episodes; remembers the seeds its resets receive."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            RESET_SEEDS.append(int(seed))
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, True, False, {}


if "craftlab-test/SeedRecorder-v0" not in gym.registry:
    gym.register("craftlab-test/SeedRecorder-v0", entry_point=SeedRecorder)


def test_env_seeds_of_different_run_seeds_never_overlap():
    """With ``seed + i`` runs 0 and 1 shared 7 of their 8 env streams."""
    seen: dict[int, tuple[int, int]] = {}
    for run_seed in range(20):
        seeds = EnvFactory(EnvConfig(id="CartPole-v1"), num_envs=8, seed=run_seed).env_seeds()
        assert len(set(seeds)) == 8
        for i, s in enumerate(seeds):
            assert s not in seen, f"run {run_seed} env {i} reuses the stream of run/env {seen[s]}"
            seen[s] = (run_seed, i)
    factory = EnvFactory(EnvConfig(id="CartPole-v1"), num_envs=8, seed=0)
    assert factory.env_seeds(3) == factory.env_seeds()[:3], "env i's seed must not depend on num_envs"
    assert not set(factory.env_seeds(8, stream=1)) & set(factory.env_seeds()), "streams must not meet"


@pytest.mark.parametrize(
    "algo",
    [
        {"name": "ppo", "num_steps": 2},
        {"name": "dqn", "learning_starts": 100},
        {"name": "sb3_ppo", "kwargs": {"n_steps": 2, "batch_size": 4}},
    ],
)
def test_every_agent_resets_its_envs_with_the_factory_seeds(algo):
    """The on-policy, off-policy and SB3 loops reset env i with ``env_seeds()[i]``."""
    seen = {}
    for run_seed in (0, 1):
        data = {
            "env": {"id": "craftlab-test/SeedRecorder-v0"},
            "algo": algo,
            "train": {"num_envs": 4, "seed": run_seed, "vector": "sync", "device": "cpu", "progress_bar": False},
        }
        agent = build_agent(load_run_config(data=data))
        RESET_SEEDS.clear()
        agent.learn(8)
        agent.close()
        assert RESET_SEEDS[:4] == agent.envs.env_seeds(), algo["name"]
        seen[run_seed] = set(RESET_SEEDS[:4])
    assert not seen[0] & seen[1]


# ---------------------------------------------------------------- value normaliser


def _agent(algo: dict, env_id: str = "probe/constant_reward", num_envs: int = 2, seed: int = 0):
    data = {
        "env": {"id": env_id},
        "algo": algo,
        "train": {"num_envs": num_envs, "seed": seed, "vector": "sync", "device": "cpu", "progress_bar": False},
    }
    return build_agent(load_run_config(data=data))


def test_value_normaliser_moves_every_minibatch_with_the_recipes_floor():
    """Constant returns of 1: mu -> 1, sigma = the floor (0.1, not 0.01), and the averages
    move 4 epochs x 2 minibatches = 8 times per rollout: 1 - beta^k with k = 5 x 8 updates."""
    agent = _agent(
        {"name": "ppo", "num_steps": 8, "update_epochs": 4, "num_minibatches": 2, "norm_value": True, "gamma": 0.5}
    )
    agent.learn(5 * 8 * 2)
    agent.close()
    norm = agent.policy.value_normalizer
    assert float(norm.debias) == pytest.approx(1 - 0.99**40, rel=1e-5)
    mu, sigma = norm.stats()
    assert float(mu) == pytest.approx(1.0, abs=1e-5) and float(sigma) == pytest.approx(0.1, abs=1e-6)
    rollout = _agent(
        {
            "name": "ppo",
            "num_steps": 8,
            "update_epochs": 4,
            "num_minibatches": 2,
            "norm_value": True,
            "norm_value_update": "rollout",
            "norm_value_std_floor": 0.01,
        }
    )
    rollout.learn(5 * 8 * 2)
    rollout.close()
    assert float(rollout.policy.value_normalizer.debias) == pytest.approx(1 - 0.99**5, rel=1e-5)
    assert float(rollout.policy.value_normalizer.stats()[1]) == pytest.approx(0.01, abs=1e-7)


# ------------------------------------------------------- value loss, advantage scope


def _first_minibatch(agent, num_minibatches: int = 1):
    agent._vec_env = agent.envs.make_vector()
    obs, _ = agent._vec_env.reset(seed=agent.envs.env_seeds())
    agent._next_obs, agent._state = agent._obs_tensor(obs), None
    agent._episode_start = torch.ones(agent._vec_env.num_envs)
    buffer = RolloutBuffer(
        agent.config.num_steps, agent._vec_env.num_envs, agent.observation_space, agent.action_space, agent.device
    )
    agent.collect_rollout(agent._vec_env, buffer, RunContext())
    agent.close()
    return buffer, next(buffer.minibatches(num_minibatches, np.random.default_rng(0)))


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_value_loss_mse_is_twice_half_squared(algo):
    """``value_loss: mse`` is (V - R)^2 (SB3, the recipe), ``half_squared`` 1/2 (V - R)^2 (CleanRL)."""
    losses = {}
    for kind in ("mse", "half_squared"):
        agent = _agent(
            {"name": algo, "num_steps": 8, "value_loss": kind, "learning_rate": 1e-12},
            env_id="probe/observation_reward",
            seed=3,
        )
        buffer, batch = _first_minibatch(agent)
        v = agent.policy.value(batch.observations).detach()
        expected = float(((v - batch.returns) ** 2).mean()) * (1.0 if kind == "mse" else 0.5)
        if algo == "ppo":
            losses[kind] = float(agent.loss(batch)[1]["value_loss"])
        else:
            losses[kind] = agent.update(buffer)["value_loss"]
        assert losses[kind] == pytest.approx(expected, rel=1e-5)
    assert losses["mse"] == pytest.approx(2 * losses["half_squared"], rel=1e-5)
    assert _agent({"name": "a2c"}).config.value_loss == "mse", "A2C's defaults are SB3's: F.mse_loss"
    assert _agent({"name": "ppo"}).config.value_loss == "half_squared", "PPO's defaults are CleanRL's"


def test_batch_advantage_normalisation_is_not_redone_per_minibatch():
    """A minibatch whose advantages are all 3: per-minibatch normalisation makes them 0 (loss 0);
    over the batch (the recipe) they stay as the update standardised them: -3 at ratio 1."""
    for scope, expected in (("minibatch", 0.0), ("batch", -3.0)):
        agent = _agent({"name": "ppo", "num_steps": 8, "norm_adv_scope": scope}, env_id="probe/observation_reward")
        _, batch = _first_minibatch(agent)
        batch = batch._replace(advantages=torch.full_like(batch.advantages, 3.0))
        assert float(agent.loss(batch)[1]["policy_loss"]) == pytest.approx(expected, abs=1e-5)
    agent = _agent(
        {"name": "ppo", "num_steps": 8, "norm_adv_scope": "batch", "update_epochs": 1},
        env_id="probe/observation_reward",
    )
    buffer, _ = _first_minibatch(agent)
    buffer.advantages = buffer.advantages * 5 + 2
    agent.update(buffer)
    assert float(buffer.advantages.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(buffer.advantages.std()) == pytest.approx(1.0, abs=1e-4)


# ----------------------------------------------------------------- IMPALA network

RECIPE_PARAMETERS = (
    (3 * 64 * 9 + 64)
    + 2 * 64
    + 4 * (2 * 64 + 64 * 64 * 9)  # stack 1: conv with bias, GN, 2 blocks
    + (2 * 64 + 64 * 128 * 9)
    + 2 * 128
    + 4 * (2 * 128 + 128 * 128 * 9)  # stack 2: GN -> conv, GN, 2 blocks
    + (2 * 128 + 128 * 128 * 9)
    + 2 * 128
    + 4 * (2 * 128 + 128 * 128 * 9)  # stack 3
    + (2 * 8192 + 8192 * 256)  # LayerNorm -> Linear 256 (no bias)
    + (2 * 256 + 256 * 1024)  # LayerNorm -> Linear 1024 (no bias)
    + (1024 * 17 + 17)
    + (1024 + 1)  # policy and value heads
)
"""parameters of snu-mllab/Achievement-Distillation's PPOModel on Crafter (configs/ppo.yaml), by hand"""

RECIPE_ORDER = (
    ["Conv2d", "MaxPool2d", "GroupNorm"]
    + ["GroupNorm", "Conv2d"] * 4
    + (["GroupNorm", "Conv2d", "MaxPool2d", "GroupNorm"] + ["GroupNorm", "Conv2d"] * 4) * 2
    + ["LayerNorm", "Linear", "LayerNorm", "Linear"]
)
"""the order the recipe's ImpalaCNN + dense layer run their layers (FanInInitReLULayer: norm first)"""


def test_crafter_config_builds_the_recipes_network():
    config = load_run_config("configs/levine/ppo_crafter.yaml", ["train.device=cpu"])
    torch.manual_seed(0)
    agent = build_agent(config)
    agent.close()
    policy = agent.policy
    assert sum(p.numel() for p in policy.parameters()) == RECIPE_PARAMETERS == 3_948_306
    order: list[str] = []
    leaves = (torch.nn.Conv2d, torch.nn.GroupNorm, torch.nn.MaxPool2d, torch.nn.LayerNorm, torch.nn.Linear)
    hooks = [
        m.register_forward_hook(lambda mod, i, o: order.append(type(mod).__name__))
        for m in policy.actor_encoder.modules()
        if isinstance(m, leaves)
    ]
    flat = []
    hooks.append(policy.actor_encoder[0].convs[-1].register_forward_hook(lambda mod, i, o: flat.append(o)))
    obs = torch.randint(0, 256, (4, 64, 64, 3), dtype=torch.uint8)
    with torch.no_grad():
        policy.actor_encoder(obs)
    for h in hooks:
        h.remove()
    assert order == RECIPE_ORDER
    assert float(flat[0].min()) < 0, "the recipe has no ReLU between the last block and the flatten"
    # fan-in init: each unit's weight vector has the recipe's norm; no bias after a norm
    convs = [m for m in policy.actor_encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    residual = (1 / 3**0.5 / 2**0.5) ** 0.5
    expected = [1.0, residual, residual, residual, residual] * 3
    for conv, scale in zip(convs, expected):
        norms = torch.linalg.vector_norm(conv.weight, dim=(1, 2, 3))
        torch.testing.assert_close(norms, torch.full_like(norms, scale))
    assert convs[0].bias is not None and all(c.bias is None for c in convs[1:])
    linears = [m for m in policy.actor_encoder.modules() if isinstance(m, torch.nn.Linear)]
    for linear, scale in zip(linears, (1.4, 1.0)):
        assert linear.bias is None
        norms = torch.linalg.vector_norm(linear.weight, dim=1)
        torch.testing.assert_close(norms, torch.full_like(norms, scale))
    cfg = agent.config
    assert (cfg.adam_eps, cfg.value_loss, cfg.norm_adv_scope, cfg.norm_value_update, cfg.norm_value_std_floor) == (
        1e-8,
        "mse",
        "batch",
        "minibatch",
        0.1,
    )


def test_default_impala_is_unchanged():
    """Existing configs keep their network: the pre-activation order, biases, PyTorch's conv init."""
    agent = _agent(
        {"name": "ppo", "network": {"kind": "impala", "cnn_norm": "group", "dense": [32], "dense_layer_norm": True}},
        env_id="probe/image_observation_action_reward",
    )
    agent.close()
    names = [n for n, _ in agent.policy.actor_encoder.named_parameters()]
    assert "0.convs.0.weight" in names and "0.convs.0.bias" in names and "0.fc.0.weight" in names
    assert "1.net.1.weight" in names, "the dense LayerNorm stays after the Linear"


# ------------------------------------------------------------------------------ RND


def test_rnd_warm_up_measures_the_random_walks_state_distribution():
    """Sparse corridor, uniformly random actions (1 of 4 steps right, a wall at 0): the walk's
    stationary distribution is pi_k proportional to 3^-k, so cell 0 holds 2/3 of the time and
    cell 1 2/9. The warm-up's observation statistics must show it before any training step."""
    agent = _agent(
        {"name": "ppo_rnd", "num_steps": 32, "rnd_warmup_steps": 1500}, env_id="probe/sparse_corridor", num_envs=4
    )
    agent.learn(0)
    agent.close()
    assert agent.num_timesteps == 0, "the warm-up is not part of the budget"
    rms = agent.policy.obs_rms
    assert float(rms.count) == pytest.approx(1500 * 4, abs=1e-3)
    assert float(rms.mean[0]) == pytest.approx(2 / 3, abs=0.04) and float(rms.mean[1]) == pytest.approx(2 / 9, abs=0.04)


def test_rnd_resume_continues_the_intrinsic_return(tmp_path):
    algo = {"name": "ppo_rnd", "num_steps": 16, "rnd_warmup_steps": 32}
    agent = _agent(algo, env_id="probe/sparse_corridor", num_envs=4)
    agent.learn(128)
    agent.save(tmp_path)
    agent.close()
    resumed = _agent(algo, env_id="probe/sparse_corridor", num_envs=4)
    resumed.load(tmp_path)
    assert resumed._int_return is not None and float(agent._int_return.abs().sum()) > 0
    torch.testing.assert_close(resumed._int_return, agent._int_return)
    torch.testing.assert_close(resumed.policy.obs_rms.mean, agent.policy.obs_rms.mean)
    count = float(resumed.policy.obs_rms.count)
    resumed.learn(144)  # one more rollout: no second warm-up
    resumed.close()
    assert float(resumed.policy.obs_rms.count) == pytest.approx(count + 16 * 4)


# ------------------------------------------------------------------------ eval labels


def test_eval_never_calls_the_greedy_score_the_crafter_score(tmp_path, capsys):
    """The benchmark's Crafter score is over training episodes of the stochastic policy;
    ``eval`` plays greedy episodes by default and must label its number as such."""
    run = tmp_path / "crafter"
    config = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"
    assert (
        main(
            [
                str(config),
                "--run-dir",
                str(run),
                "--set",
                "train.total_timesteps=64",
                "--set",
                "train.num_envs=2",
                "--set",
                "algo.num_steps=32",
                "--set",
                "train.device=cpu",
                "--set",
                "train.progress_bar=false",
                "--set",
                "train.vector=sync",
            ]
        )
        == 0
    )
    summary = json.loads((run / "summary.json").read_text())
    summary["crafter_score"] = 1.25  # as a run with finished episodes has it
    (run / "summary.json").write_text(json.dumps(summary))
    capsys.readouterr()
    for flag, policy in (("--deterministic", "greedy"), ("--stochastic", "stochastic")):
        out = tmp_path / f"{policy}.json"
        assert main(["eval", str(run), "--episodes", "2", "--max-steps", "5", flag, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        record = json.loads(out.read_text())
        assert "crafter_score" not in record and record["achievement_score_policy"] == policy
        assert record["training_crafter_score"] == 1.25
        score_lines = [line for line in printed.splitlines() if "Crafter score" in line]
        assert score_lines == [
            "benchmark Crafter score of this run (all training episodes, stochastic policy; summary.json): 1.25%"
        ], printed
        assert f"{policy}-policy achievement score" in printed
