"""Atomic checkpoints in ``runs/<name>/checkpoints/``.

Layout::

    checkpoints/
      step_0000050000/      one folder per checkpoint
        meta.json           algorithm, step, spaces, time
        agent.pt            the agent's files (Agent.save decides)
      final -> ...          (no symlinks: see ``latest``)
      latest                text file naming the newest complete folder

A checkpoint is first written into a hidden temporary folder, its files are
flushed to disk, and only then is the folder renamed to ``step_N`` (a rename is
atomic on POSIX and Windows) and ``latest`` replaced (``os.replace``, atomic).
A crash mid-save leaves at worst a stray ``.tmp-*`` folder, never a half-written
checkpoint under a real name, and ``latest`` always names a complete one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym


class Checkpointable(Protocol):
    """What the checkpointer needs of an agent (craftlab.agents.base.Agent has it all)."""

    name: str
    num_timesteps: int
    observation_space: gym.Space
    action_space: gym.Space

    def save(self, directory: str | Path) -> None: ...

    def load(self, directory: str | Path) -> None: ...


def space_signature(space: gym.Space) -> str:
    """A stable text description of a space, stored in checkpoints to detect a
    checkpoint from an env with other observations or actions."""
    return repr(space)

META_FILE = "meta.json"
LATEST_FILE = "latest"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used here; the message says why and what to do."""


@dataclass
class CheckpointInfo:
    path: Path
    step: int
    meta: dict[str, Any]


def _fsync_tree(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Checkpointer:
    """Saves and finds an agent's checkpoints in one run folder."""

    def __init__(self, directory: str | Path, keep: int = 3):
        self.directory = Path(directory)
        self.keep = keep
        """periodic checkpoints kept (the newest ``keep``); 0 keeps all"""

    def save(self, agent: Checkpointable, extra_meta: dict[str, Any] | None = None) -> Path:
        """Write ``agent`` at its current step; returns the checkpoint folder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        step = int(agent.num_timesteps)
        final = self.directory / f"step_{step:010d}"
        tmp = self.directory / f".tmp-step_{step:010d}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        agent.save(tmp)
        meta = {
            "format": FORMAT_VERSION,
            "algorithm": agent.name,
            "num_timesteps": step,
            "observation_space": space_signature(agent.observation_space),
            "action_space": space_signature(agent.action_space),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(extra_meta or {}),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        _fsync_tree(tmp)
        if final.exists():  # re-saving the same step (e.g. final save right after a periodic one)
            old = self.directory / f".old-{final.name}-{os.getpid()}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
        _fsync_dir(self.directory)
        write_text_atomic(self.directory / LATEST_FILE, final.name + "\n")
        self._prune()
        return final

    def _prune(self) -> None:
        if self.keep <= 0:
            return
        complete = self.list()
        for info in complete[: -self.keep]:
            shutil.rmtree(info.path, ignore_errors=True)

    def list(self) -> list[CheckpointInfo]:
        """Complete checkpoints, oldest first."""
        out = []
        if not self.directory.exists():
            return out
        for path in self.directory.glob("step_*"):
            meta = read_meta(path)
            if meta is not None:
                out.append(CheckpointInfo(path, int(meta["num_timesteps"]), meta))
        return sorted(out, key=lambda c: c.step)

    def latest(self) -> CheckpointInfo | None:
        """The checkpoint named by ``latest``, else the newest complete one."""
        pointer = self.directory / LATEST_FILE
        if pointer.exists():
            path = self.directory / pointer.read_text().strip()
            meta = read_meta(path)
            if meta is not None:
                return CheckpointInfo(path, int(meta["num_timesteps"]), meta)
        found = self.list()
        return found[-1] if found else None

    def find(self, step: int | None = None) -> CheckpointInfo:
        """Checkpoint at ``step`` (None: latest); CheckpointError naming the ones there are."""
        if step is None:
            info = self.latest()
            if info is None:
                raise CheckpointError(f"no checkpoint in '{self.directory}'; the run saved none yet "
                                      "(train.checkpoint_interval sets how often it saves)")
            return info
        found = self.list()
        for info in found:
            if info.step == step:
                return info
        steps = ", ".join(str(c.step) for c in found) or "none"
        raise CheckpointError(f"no checkpoint at step {step} in '{self.directory}'; available steps: {steps}")


def read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((Path(path) / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and "num_timesteps" in meta else None


def check_compatible(meta: dict[str, Any], agent: Checkpointable) -> None:
    """Refuse a checkpoint from another algorithm or another env's spaces, clearly."""
    if meta.get("algorithm") != agent.name:
        raise CheckpointError(
            f"checkpoint was written by algorithm '{meta.get('algorithm')}', but this run uses '{agent.name}'; "
            f"load it with algo.name={meta.get('algorithm')} or pick a checkpoint of a '{agent.name}' run"
        )
    for key, space in (("observation_space", agent.observation_space), ("action_space", agent.action_space)):
        if meta.get(key) != space_signature(space):
            raise CheckpointError(
                f"checkpoint's {key.replace('_', ' ')} {meta.get(key)} differs from this environment's "
                f"{space_signature(space)}; use the env (and wrappers) the checkpoint was trained with"
            )


def load_into(agent: Checkpointable, info: CheckpointInfo) -> None:
    """Check compatibility, then load ``info`` into ``agent``."""
    check_compatible(info.meta, agent)
    agent.load(info.path)
    agent.num_timesteps = info.step
