"""Checkpoints: atomic writes, clear errors for a checkpoint of another algorithm or env."""

from __future__ import annotations

import pytest

from craftlab.core.checkpoint import CheckpointError, Checkpointer, load_into
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent


def make_agent(algo: str = "ppo", env: str = "CartPole-v1"):
    algo_cfg = {"name": algo, "num_steps": 16} if algo == "ppo" else {"name": algo, "kwargs": {"n_steps": 16}}
    config = load_run_config(data={"env": {"id": env}, "algo": algo_cfg,
                                   "train": {"num_envs": 1, "total_timesteps": 64, "progress_bar": False}})
    return build_agent(config)


def test_save_then_load_restores_weights_and_step(tmp_path):
    agent = make_agent()
    agent.learn(64)
    saved = Checkpointer(tmp_path).save(agent)
    other = make_agent()
    load_into(other, Checkpointer(tmp_path).find())
    assert other.num_timesteps == agent.num_timesteps == 64
    for a, b in zip(agent.policy.parameters(), other.policy.parameters()):
        assert a.data.equal(b.data)
    assert saved.name == "step_0000000064"


def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path):
    agent = make_agent()
    agent.learn(32)
    ckpt = Checkpointer(tmp_path)
    ckpt.save(agent)
    agent.learn(64)

    original_save = agent.save

    def crashing_save(directory):
        original_save(directory)
        (directory / "agent.pt").write_bytes(b"half a file")
        raise OSError("disk full")  # the process dies in the middle of writing

    agent.save = crashing_save
    with pytest.raises(OSError):
        ckpt.save(agent)
    latest = ckpt.latest()
    assert latest is not None and latest.step == 32  # the complete one, not the broken one
    fresh = make_agent()
    load_into(fresh, latest)
    assert fresh.num_timesteps == 32


def test_checkpoint_of_another_algorithm_is_refused(tmp_path):
    agent = make_agent("ppo")
    agent.learn(32)
    Checkpointer(tmp_path).save(agent)
    other = make_agent("sb3_ppo")
    with pytest.raises(CheckpointError, match="written by algorithm 'ppo', but this run uses 'sb3_ppo'"):
        load_into(other, Checkpointer(tmp_path).find())


def test_checkpoint_of_another_env_is_refused(tmp_path):
    agent = make_agent("ppo", "CartPole-v1")
    agent.learn(32)
    Checkpointer(tmp_path).save(agent)
    other = make_agent("ppo", "Acrobot-v1")
    with pytest.raises(CheckpointError, match="observation space .* differs"):
        load_into(other, Checkpointer(tmp_path).find())


def test_missing_step_lists_available(tmp_path):
    agent = make_agent()
    agent.learn(32)
    Checkpointer(tmp_path).save(agent)
    with pytest.raises(CheckpointError, match="available steps: 32"):
        Checkpointer(tmp_path).find(step=5)


def test_keep_prunes_old_checkpoints(tmp_path):
    agent = make_agent()
    ckpt = Checkpointer(tmp_path, keep=2)
    for steps in (16, 32, 48):
        agent.learn(steps)
        ckpt.save(agent)
    assert [c.step for c in ckpt.list()] == [32, 48]
