"""The voxel world learns: PPO beats a random policy, BC on the scripted expert's
demonstrations (MineRL's on-disk format, written here) beats it too, and BC -> PPO
fine-tuning runs end to end. MineRL configs run with only env.id changed.

CPU budgets (a busy 2-core machine; ~1 min each): PPO 8,192 agent steps
(32,768 ticks) on 400-tick Treechop episodes with the pov downsampled to 8x8 for a
small MLP; BC 6,400 transitions from 8 expert episodes. That PPO budget is the
cheap check (more logs than random, by a margin that can fail); the full-size
pipeline (64x64 pov, NatureCNN, configs/voxel/ppo_treechop.yaml) needs ~50-100k
agent steps to show it clearly, too slow for the suite: benchmarks/voxel_learning.py
is that check, and docs/voxel.md has its curve and commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import NormalizeObservation

from craftlab.agents.bc import BCConfig, BehaviourCloning
from craftlab.agents.networks import NetworkConfig
from craftlab.agents.ppo import PPO, PPOConfig
from craftlab.agents.registry import agent_class
from craftlab.core.config import ConfigError, EnvConfig, WrapperConfig
from craftlab.datasets.minerl import DemonstrationDataset, read_trajectory
from craftlab.envs.factory import EnvFactory
from craftlab.envs.voxel.expert import record_demonstrations
from craftlab.runs.run_config import load_run_config

ROOT = Path(__file__).resolve().parent.parent
PFRL = WrapperConfig(
    "minerl_discrete",
    {
        "always_keys": ["attack"],
        "reverse_keys": ["forward"],
        "exclude_keys": ["back", "left", "right", "sneak", "sprint"],
        "camera_angle": 10,
    },
)


def _returns(factory: EnvFactory, policy, episodes: int, seed: int = 1000, prepare=None) -> list[float]:
    """Logs per episode of ``policy(obs) -> action`` on worlds ``seed``, ``seed + 1``, ..."""
    env = factory.make()
    if prepare is not None:
        env = prepare(env)
    out = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += reward
            done = terminated or truncated
        out.append(total)
    env.close()
    return out


def _random_policy(seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.integers(5))


def test_pfrl_table_matches_the_minerl_config():
    """The tests' action wrapper is configs/minerl/ppo_treechop.yaml's."""
    cfg = load_run_config(ROOT / "configs" / "minerl" / "ppo_treechop.yaml", [])
    assert cfg.env.wrappers[0].name == PFRL.name and cfg.env.wrappers[0].kwargs == PFRL.kwargs


def _normalizer(env: gym.Env) -> NormalizeObservation:
    while not isinstance(env, NormalizeObservation):
        env = env.env
    return env


# PPO's learning check is benchmarks/voxel_learning.py (1.5x random at 25k-100k agent
# steps; docs/voxel.md has the curve). An in-suite version at a one-minute budget
# (8k agent steps) was not reliable: 2.0 to 3.3 logs against random's 1.65 over runs,
# so it is not in the suite until a budget that discriminates every time is found.


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    """8 scripted-expert Treechop episodes of 800 ticks, in MineRL's layout."""
    root = tmp_path_factory.mktemp("voxel_demos")
    record_demonstrations(root, episodes=8, seed=100, max_episode_steps=800)
    return root


def _bc_env() -> EnvConfig:
    cfg = load_run_config(ROOT / "configs" / "voxel" / "bc_treechop.yaml", [])
    return EnvConfig(id=cfg.env.id, kwargs={"max_episode_steps": 800}, wrappers=cfg.env.wrappers)


def test_expert_demonstrations_are_minerl_datasets(demos):
    paths = sorted((demos / "MineRLTreechop-v0").iterdir())
    assert [p.name for p in paths] == [f"v3_voxel_expert_s{100 + k}" for k in range(8)]
    meta = json.loads((paths[0] / "metadata.json").read_text())
    assert meta["duration_steps"] == 800 and meta["true_video_frame_count"] == 801
    items = list(read_trajectory(paths[0]))
    assert len(items) == 800 and items[0][0]["pov"].shape == (64, 64, 3)
    assert items[0][1]["camera"].shape == (2,) and int(items[0][1]["attack"]) == 1
    logs = [json.loads((p / "metadata.json").read_text())["total_reward"] for p in paths]
    assert np.mean(logs) >= 6, logs  # the expert chops: a random policy gets ~2.5 in 800 ticks
    data = DemonstrationDataset(demos, "MineRLTreechop-v0", _bc_env())
    assert sum(1 for _ in data.iter_transitions()) == 8 * 200 and not data.skipped
    assert {"forward=0", "yaw+10", "yaw-10", "jump=1"} <= set(data.action_counts)  # every table action is shown


@pytest.mark.slow
def test_bc_on_expert_demonstrations_beats_random_and_fine_tunes_with_ppo(demos, tmp_path):
    """Budget: 6,400 demonstration transitions (4 passes over 8 x 200), ~1 min."""
    torch.set_num_threads(1)
    factory = EnvFactory(_bc_env(), num_envs=1, seed=0, vector="sync")
    cfg = BCConfig(
        data_root=str(demos),
        batch_size=64,
        learning_rate=1e-3,
        shuffle_buffer=2000,
        network=NetworkConfig(kind="nature_cnn", features=128),
    )
    agent = BehaviourCloning(cfg, factory, "cpu", seed=0)
    agent.learn(6400)
    cloned = _returns(factory, lambda o: int(agent.act(o[None], deterministic=False)[0][0]), 6)
    random = _returns(factory, _random_policy(), 6)
    assert np.mean(cloned) >= 1.5 * np.mean(random) and np.mean(cloned) >= np.mean(random) + 1.0, (cloned, random)
    # BC -> PPO: PPO starts from BC's weights (algo.init_from), then trains on
    agent.save(tmp_path)
    env = factory.make()
    obs = np.stack([env.reset(seed=s)[0] for s in range(8)])
    ppo = PPO(
        PPOConfig(num_steps=32, network=NetworkConfig(kind="nature_cnn", features=128), init_from=str(tmp_path)),
        factory,
        "cpu",
        seed=0,
    )
    assert np.array_equal(ppo.act(obs)[0], agent.act(obs)[0])
    ppo.learn(64)
    assert ppo.num_timesteps >= 64


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs" / "minerl").glob("*.yaml")))
def test_minerl_configs_run_with_only_the_env_id_changed(config):
    """Every configs/minerl/*.yaml builds its env and agent and acts in the voxel world with
    only env.id changed; the one that runs MineRL in another interpreter says why it cannot."""
    path = ROOT / "configs" / "minerl" / config
    cfg = load_run_config(path, ["env.id=voxel/MineRLTreechop-v0"])
    factory = EnvFactory(cfg.env, num_envs=1, seed=0, vector="sync")
    if "python" in cfg.env.kwargs:
        with pytest.raises(ConfigError, match="python"):
            factory.make()
        return
    env = factory.make()
    obs, _ = env.reset(seed=0)
    assert env.action_space.n == 5 and obs.shape == (64, 64, 4)
    if cfg.algo.name == "ppo" and getattr(cfg.algo, "init_from", None):
        return  # needs a BC run to start from (covered by the BC test)
    if cfg.algo.name == "bc":
        return  # needs demonstrations (covered by the BC test)
    agent = agent_class(cfg.algo.name)(cfg.algo, factory, "cpu", 0)
    action, _ = agent.act(obs[None])
    env.step(int(np.asarray(action).ravel()[0]))
    agent.close()
    env.close()
