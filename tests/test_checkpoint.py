"""Checkpoints: atomic writes, crash leftovers cleaned, clear errors for a checkpoint of another algorithm or env."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from craftlab.core import checkpoint as checkpoint_module
from craftlab.core.checkpoint import Checkpointer, CheckpointError, load_into
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent


def make_agent(algo: str = "ppo", env: str = "CartPole-v1"):
    algo_cfg = {"name": algo, "num_steps": 16} if algo == "ppo" else {"name": algo, "kwargs": {"n_steps": 16}}
    config = load_run_config(
        data={
            "env": {"id": env},
            "algo": algo_cfg,
            "train": {"num_envs": 1, "total_timesteps": 64, "progress_bar": False},
        }
    )
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


def test_a_crash_while_pruning_leaves_no_half_deleted_checkpoint(tmp_path, monkeypatch):
    """Pruning renames a checkpoint to .old-* before deleting it: killed mid-delete,
    no step_* folder is left half-deleted, and cleanup removes the rest."""
    agent = make_agent()
    ckpt = Checkpointer(tmp_path, keep=2)
    for steps in (16, 32):
        agent.learn(steps)
        ckpt.save(agent)

    def killed_mid_delete(path, ignore_errors=False):
        (Path(path) / "meta.json").unlink()  # the deletion got this far
        raise KeyboardInterrupt  # when the process died

    agent.learn(48)
    monkeypatch.setattr(shutil, "rmtree", killed_mid_delete)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(agent)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_0000000032", "step_0000000048"]
    assert ckpt.cleanup() == [f"removed .old-step_0000000016-{os.getpid()}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "step_0000000032", "step_0000000048"]


def test_cleanup_removes_crash_leftovers_and_nothing_else(tmp_path):
    agent = make_agent()
    ckpt = Checkpointer(tmp_path / "checkpoints", keep=0)
    for steps in (16, 32):
        agent.learn(steps)
        ckpt.save(agent)
    folder = ckpt.directory
    (folder / ".tmp-step_0000000048-999").mkdir()  # a save cut short
    (folder / ".tmp-step_0000000048-999" / "agent.pt").write_bytes(b"half a file")
    (folder / ".old-step_0000000008-999").mkdir()  # a prune cut short
    (folder / ".latest.tmp-999").write_text("step_")  # a cut-short replacement of latest
    (folder / "step_0000000010").mkdir()  # a deletion (older code) cut short: meta.json already gone
    (folder / "step_0000000010" / "agent.pt").write_bytes(b"weights")
    # not leftovers: the user's files, a newest step_* without meta.json (reported, not deleted),
    # and anything outside the checkpoints folder
    (folder / "notes.txt").write_text("mine")
    (folder / ".tmp-mine").mkdir()
    (folder / "step_0000000064").mkdir()
    (tmp_path / ".tmp-step_0000000001-1").mkdir()
    done = ckpt.cleanup()
    assert len(done) == 4, done
    assert sorted(p.name for p in folder.iterdir()) == [
        ".tmp-mine",
        "latest",
        "notes.txt",
        "step_0000000016",
        "step_0000000032",
        "step_0000000064",
    ]
    assert (tmp_path / ".tmp-step_0000000001-1").exists()
    assert ckpt.latest().step == 32
    assert ckpt.cleanup() == []


def test_cleanup_puts_back_a_checkpoint_whose_replacement_never_arrived(tmp_path):
    """A crash while re-saving a step (the old folder renamed away, the new one not
    in place yet) would leave ``latest`` naming nothing: cleanup restores it."""
    agent = make_agent()
    ckpt = Checkpointer(tmp_path)
    agent.learn(32)
    ckpt.save(agent)
    (tmp_path / "step_0000000032").rename(tmp_path / ".old-step_0000000032-999")
    (tmp_path / ".tmp-step_0000000032-999").mkdir()
    assert ckpt.latest() is None
    assert ckpt.cleanup() == [
        "removed .tmp-step_0000000032-999",
        "restored step_0000000032 from .old-step_0000000032-999",
    ]
    assert ckpt.latest().step == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "step_0000000032"]


def test_torch_full_disk_error_becomes_no_space_left_and_leaves_no_temp_folder(tmp_path, monkeypatch):
    """torch.save on a full disk raises RuntimeError('... file write failed'), not OSError:
    the checkpointer names it as a full disk (so the CLI prints 'no space left ... <path>')
    and removes its temporary folder."""
    agent = make_agent("ppo")

    def full_disk_save(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(torch, "save", full_disk_save)
    monkeypatch.setattr(checkpoint_module.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1024))
    checkpointer = Checkpointer(tmp_path / "checkpoints")
    with pytest.raises(OSError) as info:
        checkpointer.save(agent)
    assert info.value.errno == errno.ENOSPC and "checkpoints" in info.value.filename
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "checkpoints").iterdir())
