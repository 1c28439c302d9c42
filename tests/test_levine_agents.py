"""Plumbing of the on-policy agents: recurrent rollouts replay exactly in the update,
checkpoints round-trip, configs reject impossible settings, value normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from craftlab.agents.on_policy import RolloutBuffer, ValueNormalizer
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent


def _agent(name: str, env_id: str = "probe/memory", **algo):
    data = {
        "env": {"id": env_id},
        "algo": {"name": name, "num_steps": 12, **algo},
        "train": {"num_envs": 4, "seed": 3, "progress_bar": False, "device": "cpu"},
    }
    return build_agent(load_run_config(data=data))


@pytest.mark.parametrize("lstm", [0, 8])
def test_update_replays_the_rollouts_log_probs(lstm):
    """Before any update, evaluate_actions on the stored minibatches (whole env sequences
    for an LSTM, with resets at episode starts) must give the rollout's log-probs and values."""
    agent = _agent("ppo", network={"lstm": lstm}, num_minibatches=2)
    agent._vec_env = agent.envs.make_vector()
    obs, _ = agent._vec_env.reset(seed=0)
    agent._next_obs = agent._obs_tensor(obs)
    agent._state = agent.policy.initial_state(4)
    agent._episode_start = torch.ones(4)
    buffer = RolloutBuffer(12, 4, agent.observation_space, agent.action_space, agent.device)
    agent.collect_rollout(agent._vec_env, buffer, RunContext())
    agent.close()
    assert buffer.episode_starts[1:].sum() > 0, "the rollout should cross episode boundaries"
    seen = 0
    for mb in buffer.minibatches(2, np.random.default_rng(0), by_env=agent.policy.recurrent):
        with torch.no_grad():
            out = agent.policy.evaluate_actions(mb.observations, mb.actions, mb.lstm_states, mb.episode_starts)
        torch.testing.assert_close(out["log_prob"], mb.old_log_probs, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out["value"], mb.old_values, atol=1e-5, rtol=1e-5)
        seen += len(mb.old_log_probs)
    assert seen == 48


@pytest.mark.parametrize("name", ["vpg", "a2c", "ppo", "ppo_rnd"])
def test_checkpoint_round_trip(name, tmp_path):
    agent = _agent(name, env_id="probe/observation_action_reward")
    agent.learn(96)
    agent.save(tmp_path)
    other = _agent(name, env_id="probe/observation_action_reward")
    other.load(tmp_path)  # torch.load(weights_only=True)
    obs = np.array([[-1.0], [1.0]], dtype=np.float32)
    np.testing.assert_array_equal(agent.act(obs)[0], other.act(obs)[0])
    assert other.num_timesteps == agent.num_timesteps
    for key, value in agent.policy.state_dict().items():
        torch.testing.assert_close(value, other.policy.state_dict()[key])
    agent.close()


def test_vpg_gae_needs_a_baseline():
    with pytest.raises(ConfigError, match="algo.use_gae"):
        _agent("vpg", use_gae=True, baseline=False)


def test_network_config_is_validated():
    with pytest.raises(ConfigError, match="algo.network.lstm"):
        _agent("ppo", network={"lstm": -1})


def test_value_normalizer_tracks_return_statistics():
    norm = ValueNormalizer(beta=0.9)
    x = torch.tensor([0.5])
    assert torch.equal(norm.normalize(x), x)  # identity before the first update
    rng = torch.Generator().manual_seed(0)
    for _ in range(200):
        norm.update(10.0 + 3.0 * torch.randn(1000, generator=rng))
    mu, sigma = norm.stats()
    assert abs(mu.item() - 10.0) < 0.2 and abs(sigma.item() - 3.0) < 0.2
    torch.testing.assert_close(norm.denormalize(norm.normalize(x)), x)


def test_vpg_full_trajectory_return_is_constant_within_an_episode():
    """reward_to_go: false -> every step of an episode gets the same Psi (its return)."""
    agent = _agent("vpg", env_id="probe/two_step", reward_to_go=False, baseline=False, norm_adv=False)
    agent._vec_env = agent.envs.make_vector()
    obs, _ = agent._vec_env.reset(seed=0)
    agent._next_obs, agent._episode_start = agent._obs_tensor(obs), torch.ones(4)
    buffer = RolloutBuffer(12, 4, agent.observation_space, agent.action_space, agent.device)
    agent.collect_rollout(agent._vec_env, buffer, RunContext())
    agent.close()
    # two-step probe, gamma 0.99: R(tau) = 0.99 for both steps of every episode
    torch.testing.assert_close(buffer.advantages, torch.full_like(buffer.advantages, 0.99))
    # reward-to-go differs: 0.99 at the first step, 1 at the second
    torch.testing.assert_close(buffer.returns[0], torch.full((4,), 0.99))
    torch.testing.assert_close(buffer.returns[1], torch.ones(4))
