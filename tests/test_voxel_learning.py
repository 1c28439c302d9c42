"""The voxel world learns: PPO beats a random policy, BC on the scripted expert's
demonstrations (MineRL's on-disk format, written here) beats it too, and BC -> PPO
fine-tuning runs end to end. MineRL configs run with only env.id changed.

CPU budgets (1 torch thread; about a minute of one core each, 2-4 min of wall clock on
the busy 2-core development machine): PPO 12,288 agent steps (49,152 ticks) of
400-tick Treechop episodes in a flat forest (``hills: 0``, the curriculum setting of
docs/voxel.md), with the PFRL table and frame skip 4 and the pov averaged down to 16x16
RGB for a small two-stack IMPALA CNN; BC 6,400 transitions from 8 expert episodes. The
full-size pipeline (hilly forest, 64x64 grayscale pov, NatureCNN,
configs/voxel/ppo_treechop.yaml) needs ~50-100k agent steps to show learning clearly:
benchmarks/voxel_learning.py is that check, and docs/voxel.md has its curve and commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from craftlab.agents.bc import BCConfig, BehaviourCloning
from craftlab.agents.networks import NetworkConfig
from craftlab.agents.ppo import PPO, PPOConfig
from craftlab.agents.registry import agent_class
from craftlab.core.config import ConfigError, EnvConfig, WrapperConfig
from craftlab.datasets.minerl import DemonstrationDataset, read_trajectory
from craftlab.envs.factory import EnvFactory
from craftlab.envs.voxel.env import VoxelMineRLEnv
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
            total += float(reward)
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


PPO_BUDGET = 12_288
"""agent steps of the in-suite PPO check: 8 envs x 64 steps x 24 updates (49,152 ticks)"""


def _curriculum_env() -> EnvConfig:
    """Treechop in a flat forest (``hills: 0``), 400-tick episodes, the PFRL table, frame skip
    4 and a 16x16 RGB pov (trunks stay a brown column or two of pixels)."""
    return EnvConfig(
        id="voxel/MineRLTreechop-v0",
        kwargs={"max_episode_steps": 400, "hills": 0},
        wrappers=[
            PFRL,
            WrapperConfig("minerl_pov"),
            WrapperConfig("minerl_frame_skip", {"skip": 4}),
            WrapperConfig("minerl_pov_transform", {"size": 16}),
        ],
    )


def ppo_and_random_logs(total_timesteps: int, seed: int = 0, episodes: int = 20) -> tuple[list[float], list[float]]:
    """Logs per episode of PPO trained for ``total_timesteps`` agent steps (its stochastic
    policy) and of a uniform policy over the same table, on the same ``episodes`` worlds."""
    torch.set_num_threads(1)
    factory = EnvFactory(_curriculum_env(), num_envs=8, seed=seed, vector="sync")
    agent = PPO(
        PPOConfig(
            num_steps=64,
            learning_rate=1e-3,
            anneal_lr=False,
            gamma=0.95,
            update_epochs=8,
            network=NetworkConfig(kind="impala", cnn_channels=[16, 32], cnn_blocks=0, features=128),
        ),
        factory,
        "cpu",
        seed=seed,
    )
    agent.learn(total_timesteps)
    learned = _returns(factory, lambda o: int(agent.act(o[None], deterministic=False)[0][0]), episodes)
    random = _returns(factory, _random_policy(seed), episodes)
    agent.close()
    return learned, random


def test_the_curriculum_forest_is_the_same_forest_on_flat_ground():
    """``hills: 0`` (the PPO check's setting) flattens the ground and keeps the trees: the
    same (x, z) and trunk heights as the default world of the same seed."""
    flat, hilly = VoxelMineRLEnv(hills=0), VoxelMineRLEnv()
    for seed in (0, 1):
        flat.seed(seed), hilly.seed(seed)
        flat.reset(), hilly.reset()
        assert flat.game is not None and hilly.game is not None
        assert np.ptp(flat.game.world.ground) == 0 and np.ptp(hilly.game.world.ground) >= 3
        assert [(x, z, h) for x, z, _, h in flat.game.world.trees] == [
            (x, z, h) for x, z, _, h in hilly.game.world.trees
        ]


@pytest.mark.slow
def test_ppo_collects_clearly_more_logs_than_random():
    """Budget: PPO_BUDGET = 12,288 agent steps (49,152 ticks), ~1 min of one core (CPU time;
    2-4 min of wall clock on the busy 2-core machine). Untrained (0 steps) the policy is
    near-uniform and fails the assertion; trained, it turns to trunks and walks into them."""
    learned, random = ppo_and_random_logs(PPO_BUDGET)
    assert np.mean(learned) >= 2 * np.mean(random) and np.mean(learned) >= np.mean(random) + 2, (learned, random)


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
