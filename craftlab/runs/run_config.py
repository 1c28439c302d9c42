"""A run's whole configuration, resolved: the YAML's ``algo`` section is checked
against the chosen agent's own dataclass and ``env`` against the env registry.

This sits above the agents and envs (it needs both registries); the schema
pieces it assembles live in :mod:`craftlab.core.config`.
"""

from __future__ import annotations

import os
import re
import shutil
import typing
from pathlib import Path
from typing import Any, Union

from craftlab.agents.registry import agent_class
from craftlab.core.config import (
    SECTIONS,
    ConfigError,
    EnvConfig,
    RunConfig,
    TrainConfig,
    apply_override,
    build_dataclass,
    check_run_name,
    check_value,
    did_you_mean,
    fix_yaml_floats,
    load_yaml,
    parse_override,
)
from craftlab.envs.registry import check_env_config


def build_run_config(data: dict[str, Any]) -> RunConfig:
    """Validate a whole mapping (YAML after overrides) into a :class:`RunConfig`."""
    data = fix_yaml_floats(data)
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f"config key '{key}' does not exist; {did_you_mean(key, SECTIONS)}")
    name = check_value(data.get("name"), Union[str, None], "name")
    check_run_name(name)
    env = build_dataclass(EnvConfig, data.get("env") or {}, prefix="env.")
    check_env_config(env)
    algo_data = dict(data.get("algo") or {})
    if "name" not in algo_data:
        raise ConfigError("config key 'algo.name' is required: the algorithm to train (python train.py list)")
    cls = agent_class(str(algo_data["name"]))
    algo = build_dataclass(cls.Config, algo_data, prefix="algo.")
    train = build_dataclass(TrainConfig, data.get("train") or {}, prefix="train.")
    check_rollout_budget(algo, train)
    return RunConfig(env=env, algo=algo, train=train, name=name)


def check_rollout_budget(algo: Any, train: TrainConfig) -> None:
    """Refuse a rollout larger than the whole budget: an agent that collects
    ``rollout length x num_envs`` steps between updates would round the budget
    up to a whole rollout (``num_envs=10000`` with a budget of 64 trained 320,000
    steps). Agent configs say their rollout length with ``rollout_steps()``."""
    rollout_steps = getattr(algo, "rollout_steps", None)
    rollout = rollout_steps() if callable(rollout_steps) else None
    if rollout is None:
        return
    key, steps = rollout
    size = steps * train.num_envs
    if size > train.total_timesteps:
        raise ConfigError(
            f"{key} * train.num_envs = {steps} * {train.num_envs} = {size} > train.total_timesteps = "
            f"{train.total_timesteps}: one rollout would overshoot the budget; lower {key} or train.num_envs, "
            "or raise train.total_timesteps"
        )


PYTHON_NAME = re.compile(r"(python|pypy)[0-9.]*(\.exe)?", re.IGNORECASE)
"""file names of Python interpreters (python, python3, python3.10, pypy3, python.exe)"""


def check_python_interpreter(value: Any, key: str) -> str:
    """A config value naming a program that craftlab will start (``env.kwargs.python``:
    MineRL's interpreter) must be an existing executable file named like a Python
    interpreter, itself or the file its links resolve to. Checked without running
    it (a config is code-equivalent input, but a typo should not start a random
    program), when the run is built: a config naming another machine's
    interpreter still loads (``python train.py help``, tests of the configs).
    Returns the path."""
    path = os.path.expanduser(str(value))
    fix = "give the path of a Python interpreter, e.g. ~/venv-minerl/bin/python"
    if not os.path.isabs(path) and os.sep not in path:  # a bare name: looked up on PATH, as subprocess does
        path = shutil.which(path) or path
    if not os.path.exists(path):
        raise ConfigError(f"config key '{key}': {value!r} does not exist; {fix}")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise ConfigError(f"config key '{key}': {value!r} is not an executable file; {fix}")
    names = {os.path.basename(path), os.path.basename(os.path.realpath(path))}
    if not any(PYTHON_NAME.fullmatch(n) for n in names):
        raise ConfigError(
            f"config key '{key}': {value!r} is not a Python interpreter (its file name is not python*); {fix}"
        )
    return path


def load_run_config(
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    data: dict[str, Any] | None = None,
) -> RunConfig:
    """Read a YAML file (or ``data``), apply ``key.path=value`` overrides, validate."""
    data = dict(data) if data is not None else load_yaml(path)  # type: ignore[arg-type]
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(data, keys, value)
    return build_run_config(data)
