"""A run's whole configuration, resolved: the YAML's ``algo`` section is checked
against the chosen agent's own dataclass and ``env`` against the env registry.

This sits above the agents and envs (it needs both registries); the schema
pieces it assembles live in :mod:`craftlab.core.config`.
"""

from __future__ import annotations

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
    check_value,
    fix_yaml_floats,
    apply_override,
    build_dataclass,
    did_you_mean,
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
    env = build_dataclass(EnvConfig, data.get("env") or {}, prefix="env.")
    check_env_config(env)
    algo_data = dict(data.get("algo") or {})
    if "name" not in algo_data:
        raise ConfigError("config key 'algo.name' is required: the algorithm to train (python train.py list)")
    cls = agent_class(str(algo_data["name"]))
    algo = build_dataclass(cls.Config, algo_data, prefix="algo.")
    train = build_dataclass(TrainConfig, data.get("train") or {}, prefix="train.")
    return RunConfig(env=env, algo=algo, train=train, name=name)


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
