"""Configs: every shipped YAML loads; each kind of bad input is one clear line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from craftlab.core.config import ConfigError, parse_override
from craftlab.runs.run_config import load_run_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT / "configs")) for p in CONFIGS])
def test_shipped_configs_are_valid(path):
    config = load_run_config(path)
    assert config.algo.name == yaml.safe_load(path.read_text())["algo"]["name"]


def test_defaults_fill_in_and_overrides_apply():
    config = load_run_config(
        ROOT / "configs/default.yaml", ["algo.learning_rate=1e-3", "train.seed=7", "algo.network.kind=impala"]
    )
    assert config.algo.learning_rate == pytest.approx(1e-3)
    assert config.train.seed == 7
    assert config.algo.network.kind == "impala"
    assert config.algo.clip_coef == 0.2  # a default nobody wrote
    assert config.env.id == "crafter"


def test_override_values_are_yaml():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=3e-4")[1] == pytest.approx(3e-4)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["algo.learnig_rate=0.1"], "config key 'algo.learnig_rate' does not exist; did you mean 'learning_rate'"),
        (["trian.seed=1"], "config key 'trian' does not exist; did you mean 'train'"),
        (["train.num_envs=four"], "config key 'train.num_envs' must be an integer"),
        (["algo.anneal_lr=3"], "config key 'algo.anneal_lr' must be true or false"),
        (["algo.name=ppoo"], "unknown algorithm 'ppoo'; did you mean 'ppo'"),
        (["env.id=crafterr"], "unknown environment 'crafterr'; did you mean 'crafter'"),
        (["train.device=gpu"], "config key 'train.device' must be one of ['auto', 'cpu', 'cuda']"),
        (["train.total_timesteps=-5"], "config key 'train.total_timesteps' must be > 0"),
        (["algo.network.kind=resnet"], "config key 'algo.network.kind' must be one of"),
        (["env.kwargs.lenght=100"], "config key 'env.kwargs.lenght' does not exist; did you mean 'length'"),
    ],
)
def test_bad_input_names_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_run_config(ROOT / "configs/default.yaml", overrides)
    assert message in str(info.value)


def test_sb3_kwargs_are_checked_against_the_class():
    with pytest.raises(ConfigError, match="'algo.kwargs.n_step' is not an argument of PPO; did you mean 'n_steps'"):
        load_run_config(ROOT / "configs/sb3/ppo_crafter.yaml", ["algo.kwargs.n_step=128"])
    with pytest.raises(ConfigError, match="'algo.kwargs.seed' is set by craftlab; use train.seed"):
        load_run_config(ROOT / "configs/sb3/ppo_crafter.yaml", ["algo.kwargs.seed=1"])


def test_unknown_wrapper_is_named(tmp_path):
    bad = {"env": {"id": "CartPole-v1", "wrappers": [{"name": "frame_stak"}]}, "algo": {"name": "ppo"}}
    with pytest.raises(ConfigError, match="unknown wrapper 'frame_stak'; did you mean 'frame_stack'"):
        load_run_config(data=bad)


@pytest.mark.parametrize(
    "args",
    [
        ["configs/default.yaml", "--set", "algo.learnig_rate=1"],
        ["configs/default.yaml", "--set", "algo.name=nope"],
        ["configs/default.yaml", "--set", "env.id=nope"],
        ["configs/default.yaml", "--set", "train.seed=x"],
        ["configs/missing.yaml"],
    ],
)
def test_cli_prints_one_line_and_exits_2(args):
    proc = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_every_setting_with_its_doc(capsys):
    from craftlab.commands.cli import main

    assert main(["help", "ppo"]) == 0
    out = capsys.readouterr().out
    assert "algo.clip_coef: float = 0.2" in out and "epsilon of the clipped surrogate objective" in out
    assert "algo.network.kind: 'auto' | 'mlp' | 'nature_cnn' | 'impala' = 'auto'" in out  # nested sections too


def test_help_shows_an_agents_own_nested_defaults(capsys):
    """SAC's network section defaults to [256, 256] ReLU (its default_factory), not the
    generic NetworkConfig's [64, 64] tanh; `help` must show what a run would use."""
    from craftlab.agents.sac import SACConfig
    from craftlab.commands.cli import main

    assert main(["help", "sac"]) == 0
    out = capsys.readouterr().out
    expected = SACConfig().network
    assert f"algo.network.hidden_sizes: list[int] = {expected.hidden_sizes!r}" in out
    assert f"algo.network.activation: 'tanh' | 'relu' = {expected.activation!r}" in out
    assert expected.hidden_sizes != [64, 64]
