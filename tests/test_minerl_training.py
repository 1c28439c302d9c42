"""configs/minerl/*.yaml validate, and their agents train end to end on the stand-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from craftlab.agents.registry import agent_class
from craftlab.envs.factory import EnvFactory
from craftlab.runs.run_config import load_run_config

CONFIGS = sorted((Path(__file__).parent.parent / "configs" / "minerl").glob("*.yaml"))
STANDIN = ["env.kwargs.standin=true", "env.kwargs.crash_recovery.backoff=0"]


def test_every_minerl_config_validates():
    assert len(CONFIGS) >= 5
    for path in CONFIGS:
        cfg = load_run_config(path, ["env.kwargs.standin=true"])
        assert cfg.env.id == "MineRLTreechop-v0"


@pytest.mark.parametrize(
    "config,overrides,steps",
    [
        ("sb3_ppo_treechop.yaml", ["algo.kwargs.n_steps=128"], 256),
        ("sb3_dqn_treechop.yaml", ["algo.kwargs.learning_starts=64", "algo.kwargs.buffer_size=1000"], 192),
        ("ppo_treechop.yaml", ["algo.num_steps=128"], 256),
    ],
)
def test_agent_trains_on_the_standin(config, overrides, steps):
    path = Path(__file__).parent.parent / "configs" / "minerl" / config
    extra = STANDIN + overrides + ["env.kwargs.standin_kwargs.crash_probability=0.01"]
    cfg = load_run_config(path, extra)
    factory = EnvFactory(cfg.env, num_envs=1, seed=0, vector="sync")
    agent = agent_class(cfg.algo.name)(cfg.algo, factory, "cpu", 0)
    agent.learn(steps)
    assert agent.num_timesteps >= steps
    obs, _ = factory.make().reset(seed=0)
    actions, _ = agent.act(obs[None])
    assert 0 <= int(np.asarray(actions).ravel()[0]) < 5
    agent.close()
