"""MineRL 0.4.4 demonstrations: format, alignment, corrupt files, and BC that learns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from craftlab.commands.cli import main
from craftlab.core.config import EnvConfig, WrapperConfig
from craftlab.datasets.minerl import DemonstrationDataset, read_trajectory

ROOT = Path(__file__).resolve().parent.parent
RECIPE = {
    "always_keys": ["attack"],
    "reverse_keys": ["forward"],
    "exclude_keys": ["back", "left", "right", "sneak", "sprint"],
}
# pov colour -> demonstrated action (a function of the pov), and the Discrete(5) index it maps to
COLOURS = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 230, 30), (230, 30, 230)]
KEYS = ("attack", "back", "forward", "jump", "left", "right", "sneak", "sprint")


def _demo_action(kind: int) -> dict:
    a = {k: 0 for k in KEYS}
    a["attack"], a["forward"], camera = 1, 1, [0.0, 0.0]
    if kind == 1:
        a["forward"] = 0
    elif kind == 2:
        a["jump"] = 1
    elif kind == 3:
        camera = [0.0, -9.0]
    elif kind == 4:
        camera = [0.5, 11.0]
    return {**a, "camera": camera}


def write_trajectory(
    root: Path,
    name: str,
    steps: int,
    seed: int,
    lead_frames: int = 2,
    video_frames: int | None = None,
    npz_steps: int | None = None,
) -> list[int]:
    """A Treechop trajectory in MineRL's layout; returns the action kind of each step."""
    import imageio.v2 as imageio

    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 5, steps + 1).tolist()
    d = root / "MineRLTreechop-v0" / name
    d.mkdir(parents=True)
    frames = [np.zeros((64, 64, 3), np.uint8)] * lead_frames  # MineRL skips these
    for k in kinds:
        img = np.empty((64, 64, 3), np.uint8)
        img[:] = COLOURS[k]
        img[rng.integers(0, 64), :] = 128  # a little texture
        frames.append(img)
    frames = frames[:video_frames] if video_frames is not None else frames
    with imageio.get_writer(
        d / "recording.mp4", fps=20, codec="libx264", macro_block_size=1, ffmpeg_log_level="error"
    ) as writer:
        for f in frames:
            writer.append_data(f)
    acts = [_demo_action(k) for k in kinds[:steps]]
    n = npz_steps if npz_steps is not None else steps
    data = {"reward": rng.integers(0, 2, steps).astype(np.float32)}  # npz_steps < steps: inconsistent file
    for key in KEYS:
        data[f"action${key}"] = np.array([a[key] for a in acts], np.int64)[:n]
    data["action$camera"] = np.array([a["camera"] for a in acts], np.float32)[:n]
    np.savez(d / "rendered.npz", **data)
    (d / "metadata.json").write_text(
        json.dumps(
            {
                "success": True,
                "duration_ms": steps * 50,
                "duration_steps": steps,
                "total_reward": float(data["reward"].sum()),
                "stream_name": name,
                "true_video_frame_count": steps + 1 + lead_frames,
            }
        )
    )
    return kinds[:steps]


def _config() -> EnvConfig:
    return EnvConfig(
        id="minerl-standin/MineRLTreechop-v0",
        wrappers=[WrapperConfig("minerl_discrete", RECIPE), WrapperConfig("minerl_pov")],
    )


def _colour_kind(pov: np.ndarray) -> int:
    mean = pov.reshape(-1, 3).mean(0)
    return int(np.argmin([np.abs(mean - c).sum() for c in COLOURS]))


def test_reader_follows_minerl_alignment(tmp_path):
    kinds = write_trajectory(tmp_path, "v3_alpha_stream", steps=12, seed=0)
    items = list(read_trajectory(tmp_path / "MineRLTreechop-v0" / "v3_alpha_stream"))
    assert len(items) == 12
    for t, (obs, act, reward, nxt, done) in enumerate(items):
        assert obs["pov"].shape == (64, 64, 3) and obs["pov"].dtype == np.uint8
        assert _colour_kind(obs["pov"]) == kinds[t]  # lead frames skipped
        assert act["forward"] == _demo_action(kinds[t])["forward"] and act["camera"].shape == (2,)
        assert isinstance(reward, np.float32) and bool(done) == (t == 11)
        if t < 11:
            assert np.array_equal(nxt["pov"], items[t + 1][0]["pov"])
    assert np.array_equal(items[-1][3]["pov"], items[-1][0]["pov"])  # last frame duplicated


def test_corrupt_trajectories_are_skipped_with_a_warning(tmp_path):
    write_trajectory(tmp_path, "v3_good_one", steps=20, seed=1)
    write_trajectory(tmp_path, "v3_short_video", steps=20, seed=2, video_frames=10)
    write_trajectory(tmp_path, "v3_bad_npz", steps=20, seed=3, npz_steps=15)
    bad = tmp_path / "MineRLTreechop-v0" / "v3_broken_mp4"
    bad.mkdir()
    (bad / "recording.mp4").write_bytes(b"not a video")
    np.savez(bad / "rendered.npz", reward=np.zeros(3, np.float32))
    (tmp_path / "MineRLTreechop-v0" / "not_a_stream").mkdir()
    data = DemonstrationDataset(tmp_path, "MineRLTreechop-v0", _config())
    assert len(data.paths) == 4
    with pytest.warns(RuntimeWarning) as caught:
        transitions = list(data.iter_transitions())
    names = " ".join(str(w.message) for w in caught)
    assert "v3_short_video" in names and "v3_bad_npz" in names and "v3_broken_mp4" in names
    assert "v3_good_one" not in names and len(data.skipped) == 3
    complete = [t for t in transitions if t[4]]
    assert len(complete) == 1  # only the good trajectory reached its end
    assert sum(data.action_counts.values()) == len(transitions)
    report = data.report()
    assert "yaw+10" in report and "3 skipped" in report


def test_batches_have_the_general_format_and_actions_use_the_agent_table(tmp_path):
    kinds = write_trajectory(tmp_path, "v3_a", steps=30, seed=4)
    data = DemonstrationDataset(tmp_path, "MineRLTreechop-v0", _config())
    batches = list(data.batches(batch_size=8, shuffle_buffer=16, seed=0, epochs=1))
    assert sum(len(b) for b in batches) == 30
    b = batches[0]
    assert b.obs.shape == (8, 64, 64, 3) and b.obs.dtype == np.uint8 and b.next_obs.shape == b.obs.shape
    assert b.action.dtype == np.int64 and b.reward.dtype == np.float32 and b.done.dtype == bool
    assert sum(int(x.done.sum()) for x in batches) == 1
    assert data.action_counts == {data.action_wrapper.labels[k]: kinds.count(k) for k in set(kinds)}
    for batch in batches:  # the discretised action is the colour's action
        for pov, a in zip(batch.obs, batch.action):
            assert a == _colour_kind(pov)


def test_multidiscrete_demonstrations(tmp_path):
    write_trajectory(tmp_path, "v3_m", steps=10, seed=5)
    cfg = EnvConfig(
        id="minerl-standin/MineRLTreechop-v0",
        wrappers=[WrapperConfig("minerl_multidiscrete", {"camera_bins": 3}), WrapperConfig("minerl_pov")],
    )
    data = DemonstrationDataset(tmp_path, "MineRLTreechop-v0", cfg)
    b = next(data.batches(batch_size=10, epochs=1))
    assert b.action.shape == (10, 10)
    assert "camera_yaw=2" in data.action_counts or "camera_yaw=0" in data.action_counts


def test_bc_learns_an_action_that_is_a_function_of_the_pov(tmp_path, monkeypatch):
    from craftlab.agents.bc import BCConfig, BehaviourCloning
    from craftlab.agents.networks import NetworkConfig
    from craftlab.envs.factory import EnvFactory

    for i in range(4):
        write_trajectory(tmp_path / "train", f"v3_train_{i}", steps=80, seed=10 + i)
    kinds = write_trajectory(tmp_path / "test", "v3_heldout", steps=80, seed=99)
    monkeypatch.setenv("MINERL_DATA_ROOT", str(tmp_path / "train"))
    factory = EnvFactory(_config(), num_envs=1, seed=0)
    cfg = BCConfig(batch_size=32, learning_rate=1e-3, shuffle_buffer=400, network=NetworkConfig(features=64))
    agent = BehaviourCloning(cfg, factory, "cpu", seed=0)
    agent.learn(32 * 120)
    assert agent.num_timesteps >= 32 * 120
    held = [tr for tr in DemonstrationDataset(tmp_path / "test", "MineRLTreechop-v0", _config()).iter_transitions()]
    obs = np.stack([t[0] for t in held])
    pred, _ = agent.act(obs)
    target = np.array([t[1] for t in held])
    accuracy = float((pred == target).mean())
    assert np.array_equal(target, kinds)
    assert accuracy > 0.9, accuracy
    # save/load round trip with weights_only
    import torch

    agent.save(tmp_path)
    again = BehaviourCloning(cfg, factory, "cpu", seed=1)
    again.load(tmp_path)
    assert np.array_equal(again.act(obs)[0], pred) and again.num_timesteps == agent.num_timesteps
    state = torch.load(tmp_path / "agent.pt", weights_only=True)
    assert any(k.startswith("policy_head.") for k in state["policy"])

    # PPO fine-tuning starts from the BC weights (algo.init_from): before any
    # PPO update its greedy actions are exactly BC's.
    from craftlab.agents.ppo import PPO, PPOConfig

    ppo = PPO(PPOConfig(network=NetworkConfig(features=64), init_from=str(tmp_path)), factory, "cpu", seed=0)
    assert np.array_equal(ppo.act(obs)[0], pred)
    fresh = PPO(PPOConfig(network=NetworkConfig(features=64)), factory, "cpu", seed=0)
    assert not np.array_equal(fresh.act(obs)[0], pred)  # without it, it acts otherwise


@pytest.mark.filterwarnings("error:Converting a tensor with requires_grad")
def test_bc_logs_its_loss_without_a_torch_warning(tmp_path, monkeypatch):
    """``float(loss)`` on a loss that requires grad warns on every BC run; the warning is an error here."""
    for i in range(2):
        write_trajectory(tmp_path / "data", f"v3_w_{i}", steps=40, seed=20 + i)
    monkeypatch.chdir(ROOT)
    code = main(
        [
            "configs/minerl/bc_treechop.yaml",
            "--device",
            "cpu",
            "--run-dir",
            str(tmp_path / "run"),
            "--set",
            "env.kwargs.standin=true",
            "--set",
            f"algo.data_root={tmp_path / 'data'}",
            "--set",
            "algo.batch_size=8",
            "--set",
            "algo.shuffle_buffer=32",
            "--set",
            "algo.network.features=32",
            "--set",
            "train.total_timesteps=16",
            "--set",
            "train.checkpoint_interval=0",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["num_timesteps"] >= 16
