"""Every SB3 agent trains a few hundred steps through train.py and writes craftlab's tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tb import read_scalars

from craftlab.commands.cli import main

ROOT = Path(__file__).resolve().parent.parent

SB3 = {
    "sb3_ppo": ["algo.kwargs.n_steps=64", "algo.kwargs.batch_size=32", "algo.kwargs.n_epochs=2"],
    "sb3_a2c": ["algo.kwargs.n_steps=8"],
    "sb3_dqn": ["algo.kwargs.learning_starts=64", "algo.kwargs.train_freq=4"],
    "sb3_qrdqn": ["algo.kwargs.learning_starts=64", "algo.kwargs.train_freq=4"],
    "sb3_recurrent_ppo": ["algo.kwargs.n_steps=64", "algo.kwargs.batch_size=32", "algo.kwargs.n_epochs=2"],
}


@pytest.mark.parametrize("algo", list(SB3))
def test_sb3_agent_trains_through_train_py(algo, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / algo
    config = tmp_path / "c.yaml"
    config.write_text(f"env: {{id: CartPole-v1}}\nalgo: {{name: {algo}}}\n")
    overrides = [f"--set={o}" for o in SB3[algo]]
    code = main(
        [
            str(config),
            "--run-dir",
            str(run_dir),
            "--device",
            "cpu",
            *overrides,
            "--set",
            "train.total_timesteps=384",
            "--set",
            "train.num_envs=1",
            "--set",
            "train.checkpoint_interval=0",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 0
    scalars = read_scalars(run_dir)
    for tag in ("charts/episodic_return", "charts/episodic_length", "charts/SPS"):
        assert tag in scalars, f"{algo} wrote no {tag}; tags: {sorted(scalars)}"
    losses = [t for t in scalars if t.startswith("losses/")]
    assert losses, f"{algo} wrote no losses/*; tags: {sorted(scalars)}"
    assert not any(t.startswith(("train/", "rollout/", "time/")) for t in scalars)  # SB3 keys mapped
    assert json.loads((run_dir / "summary.json").read_text())["num_timesteps"] >= 384
    assert (run_dir / "config.yaml").exists() and (run_dir / "checkpoints" / "latest").exists()


def test_sb3_losses_are_written_at_each_update_before_the_next_checkpoint(tmp_path, monkeypatch):
    """SB3 dumps an update's losses only after the next rollout: a run killed after a
    checkpoint inside that rollout lost the point, and the last update was never
    written (nor was that update made). Every update, the last included, runs and has its
    point on disk at its step."""
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "run"
    config = tmp_path / "c.yaml"
    config.write_text("env: {id: CartPole-v1}\nalgo: {name: sb3_ppo}\n")
    overrides = [*SB3["sb3_ppo"], "train.total_timesteps=384", "train.num_envs=1", "train.progress_bar=false"]
    overrides += ["train.checkpoint_interval=64"]
    code = main([str(config), "--run-dir", str(run_dir), "--device", "cpu", *[f"--set={o}" for o in overrides]])
    assert code == 0
    points = read_scalars(run_dir)["losses/policy_gradient_loss"]
    assert [step for step, _ in points] == [64, 128, 192, 256, 320, 384]  # 6 rollouts of 64 steps, 6 updates
