"""Silver's configs through the real command line (``python train.py CONFIG``,
called in-process through ``craftlab.commands.cli.main``): one of each kind -- a
dynamic-programming planner, a prediction method, a control method, a bandit
and the linear methods of Lecture 6 -- exits 0 and leaves a complete run folder:
the resolved ``config.yaml``, TensorBoard events with the tags the agent
reports, a loadable checkpoint, ``summary.json``, and the value heat map
``values.png`` where the env can be drawn."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from tb import read_scalars

from craftlab.commands.cli import main

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "silver"

CASES = [
    # config, overrides, TensorBoard tags that must exist, values.png expected
    ("value_iteration", [], {"losses/delta", "charts/start_value"}, True),
    ("td0", ["train.total_timesteps=2000"], {"charts/rms_error", "losses/td_error", "charts/episodic_return"}, True),
    (
        "q_learning",
        ["train.total_timesteps=3000"],
        {"losses/td_error", "charts/epsilon", "charts/episodic_return"},
        True,
    ),
    ("bandit_ucb1", ["train.total_timesteps=2000"], {"charts/average_reward", "charts/episodic_return"}, False),
    (
        "lspi",
        ["train.total_timesteps=3000"],
        {"losses/weight_change", "charts/optimal_action_fraction", "charts/episodic_return"},
        True,
    ),
    ("linear_sarsa_mountaincar", ["train.total_timesteps=2000"], {"losses/td_error", "charts/episodic_return"}, True),
]


@pytest.mark.parametrize("name,overrides,tags,has_values", CASES, ids=[c[0] for c in CASES])
def test_silver_config_runs_through_the_cli(tmp_path, name, overrides, tags, has_values):
    run_dir = tmp_path / name
    argv = [
        str(CONFIGS / f"{name}.yaml"),
        "--run-dir",
        str(run_dir),
        "--set",
        "train.progress_bar=false",
        "--set",
        "train.device=cpu",
    ]
    for override in overrides:
        argv += ["--set", override]
    assert main(argv) == 0

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    source = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    assert config["algo"]["name"] == source["algo"]["name"] and config["env"]["id"] == source["env"]["id"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["num_timesteps"] > 0

    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    state = torch.load(run_dir / "checkpoints" / latest / "agent.pt", weights_only=True)
    assert state["num_timesteps"] == summary["num_timesteps"]

    scalars = read_scalars(run_dir)
    assert tags <= set(scalars), sorted(scalars)
    assert all(math.isfinite(v) for tag in tags for _, v in scalars[tag])
    assert (run_dir / "values.png").exists() == has_values

    if name == "td0":  # prediction: V moves towards v_pi
        errors = [v for _, v in scalars["charts/rms_error"]]
        assert errors[-1] < errors[0]
    if name == "value_iteration":  # DP: the sweeps converge
        assert scalars["losses/delta"][-1][1] < 1e-10
