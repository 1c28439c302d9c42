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
Pruned checkpoints are renamed to ``.old-*`` before they are deleted, and
:meth:`Checkpointer.cleanup` (run at each start and resume) removes such leftovers.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import pickle
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym


class Checkpointable(Protocol):
    """What the checkpointer needs of an agent (craftlab.agents.base.Agent has it all)."""

    @property
    def name(self) -> str: ...

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
LOW_DISK_BYTES = 64 * 2**20
"""below this much free space a failed torch.save is reported as a full disk"""


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
            fsync_file(file)
    fsync_dir(path)


def fsync_file(path: Path) -> None:
    """Put ``path``'s data on disk (written through any file handle: fsync works on the file)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Put ``path``'s entries (files created, renamed, removed in it) on disk."""
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
    fsync_dir(path.parent)


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
        try:
            agent.save(tmp)
        except (OSError, RuntimeError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-written checkpoint behind
            # torch.save reports a full disk as RuntimeError("... file write failed"): say what it is
            if isinstance(exc, RuntimeError) and shutil.disk_usage(self.directory).free < LOW_DISK_BYTES:
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp)) from exc
            raise
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
        fsync_dir(self.directory)
        write_text_atomic(self.directory / LATEST_FILE, final.name + "\n")
        self._prune()
        return final

    def _prune(self) -> None:
        """Delete all but the newest ``keep`` checkpoints. Each is first renamed to
        ``.old-step_N-<pid>`` (atomic), then deleted: a crash mid-delete leaves a
        hidden folder for :meth:`cleanup`, never a half-deleted ``step_N``."""
        if self.keep <= 0:
            return
        complete = self.list()
        for info in complete[: -self.keep]:
            old = self.directory / f".old-{info.path.name}-{os.getpid()}"
            info.path.rename(old)
            shutil.rmtree(old, ignore_errors=True)

    def cleanup(self) -> list[str]:
        """Remove what a crash left in the checkpoints folder, and nothing else:
        ``.tmp-*`` folders of unfinished saves, ``.old-*`` folders of replaced or
        pruned checkpoints, a half-replaced ``latest``, and ``step_*`` folders an
        interrupted prune emptied (no ``meta.json``, older than the newest complete
        checkpoint). A replaced checkpoint that ``latest`` names and whose
        replacement never arrived is put back instead. Called at the start of every
        run and resume; returns what it did, one line per folder or file."""
        if not self.directory.is_dir():
            return []
        done = []
        pointer = self.directory / LATEST_FILE
        latest_name = pointer.read_text().strip() if pointer.is_file() else None
        for old in sorted(self.directory.glob(".old-step_*")):
            name = old.name[len(".old-") :].rsplit("-", 1)[0]  # .old-step_N-<pid> -> step_N
            if name == latest_name and not (self.directory / name).exists() and read_meta(old) is not None:
                try:
                    old.rename(self.directory / name)
                except OSError:  # a read-only folder: left as it is
                    continue
                done.append(f"restored {name} from {old.name}")
        for stray in [*self.directory.glob(".tmp-step_*"), *self.directory.glob(".old-step_*")]:
            shutil.rmtree(stray, ignore_errors=True)
            done.append(f"removed {stray.name}")
        for stray in self.directory.glob(f".{LATEST_FILE}.tmp-*"):  # write_text_atomic's temporary file
            try:
                stray.unlink()
            except OSError:
                continue
            done.append(f"removed {stray.name}")
        complete = self.list()
        for path in self.directory.glob("step_*"):  # zero-padded: names sort like steps
            if complete and path.is_dir() and not (path / META_FILE).exists() and path.name < complete[-1].path.name:
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"removed {path.name} (no {META_FILE}: a deletion cut short)")
        if done:
            fsync_dir(self.directory)
        return sorted(done)

    def list(self) -> builtins.list[CheckpointInfo]:
        """Complete checkpoints, oldest first."""
        out: builtins.list[CheckpointInfo] = []
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
        """Checkpoint at ``step`` (None: latest); CheckpointError naming the ones there are,
        and the corrupt ``meta.json`` files that hid others."""
        if step is None:
            info = self.latest()
            if info is None:
                corrupt = self.unreadable()
                if corrupt:
                    raise CheckpointError(
                        f"no usable checkpoint in '{self.directory}': {_list_corrupt(corrupt)}; "
                        "restore it from a backup, or start a new run"
                    )
                raise CheckpointError(
                    f"no checkpoint in '{self.directory}'; the run saved none yet "
                    "(train.checkpoint_interval sets how often it saves)"
                )
            return info
        found = self.list()
        for info in found:
            if info.step == step:
                return info
        steps = ", ".join(str(c.step) for c in found) or "none"
        corrupt = [c for c in self.unreadable() if checkpoint_step(c[0].parent) == step]
        if corrupt:
            raise CheckpointError(
                f"the checkpoint at step {step} is unusable: {_list_corrupt(corrupt)}; other steps available: {steps}"
            )
        raise CheckpointError(f"no checkpoint at step {step} in '{self.directory}'; available steps: {steps}")

    def unreadable(self) -> builtins.list[tuple[Path, str]]:
        """``step_*`` folders whose ``meta.json`` is missing or corrupt (``list`` skips
        them), newest first, each with the reason in a few words."""
        out = []
        if self.directory.exists():
            for path in self.directory.glob("step_*"):
                if read_meta(path) is None:
                    out.append((path / META_FILE, meta_problem(path)))
        return sorted(out, key=lambda c: checkpoint_step(c[0].parent), reverse=True)


def checkpoint_step(path: Path) -> int:
    """The step in a checkpoint folder's name (``step_0000050000`` -> 50000; -1 if none)."""
    match = re.fullmatch(r"step_(\d+)", Path(path).name)
    return int(match.group(1)) if match else -1


def meta_problem(path: Path) -> str:
    """Why ``path/meta.json`` is not a checkpoint's metadata, in a few words."""
    try:
        meta = json.loads((Path(path) / META_FILE).read_text())
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as exc:
        return f"not readable JSON: {_first_line(exc)}"
    return "no num_timesteps in it" if isinstance(meta, dict) else f"not a JSON object but {type(meta).__name__}"


def _first_line(exc: BaseException, limit: int = 120) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _list_corrupt(corrupt: list[tuple[Path, str]]) -> str:
    path, reason = corrupt[0]
    more = f" (and {len(corrupt) - 1} more)" if len(corrupt) > 1 else ""
    return f"'{path}' is corrupt ({reason}){more}"


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


LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    RuntimeError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    pickle.UnpicklingError,
)
"""what loading a truncated, empty or garbage checkpoint file raises (torch.load and load_state_dict)"""


def load_with_fallback(
    agent: Checkpointable, checkpointer: Checkpointer, first: CheckpointInfo, fallback: bool = True
) -> tuple[CheckpointInfo, list[str]]:
    """Load ``first`` into ``agent``; when its files are corrupt (a truncated copy,
    a full disk) and ``fallback``, the next older complete checkpoint, and so on.

    Returns the checkpoint loaded and one warning per corrupt checkpoint newer
    than it (unloadable files, or a corrupt ``meta.json`` that hid the folder).
    A checkpoint of another algorithm or env is refused at once
    (:func:`check_compatible`); when none loads, a :class:`CheckpointError`
    names the corrupt files. Warnings raised while loading a file that turns
    out corrupt are dropped (they would only repeat the problem).
    """
    candidates = [first]
    if fallback:
        candidates += [c for c in reversed(checkpointer.list()) if c.step < first.step]
    corrupt: list[tuple[Path, str]] = []
    for info in candidates:
        check_compatible(info.meta, agent)
        problem = _load_problem(agent, info)
        if problem is None:
            agent.num_timesteps = info.step
            newer = (
                [c for c in checkpointer.unreadable() if checkpoint_step(c[0].parent) > info.step] if fallback else []
            )
            notes = [
                f"'{path}' is corrupt ({reason}); loaded the checkpoint at step {info.step} instead"
                for path, reason in [*newer, *corrupt]
            ]
            return info, notes
        corrupt.append(problem)
    hint = "" if fallback else "; pick another step (--checkpoint) or leave it out for the newest loadable one"
    raise CheckpointError(
        f"no loadable checkpoint in '{checkpointer.directory}': {_list_corrupt(corrupt)}"
        + (hint or "; restore the files from a backup, or start a new run")
    )


def _load_problem(agent: Checkpointable, info: CheckpointInfo) -> tuple[Path, str] | None:
    """None when ``info`` loaded into ``agent``; else (the corrupt file, why)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            agent.load(info.path)
        except LOAD_ERRORS as exc:
            files = [p for p in sorted(info.path.iterdir()) if p.name != META_FILE] if info.path.is_dir() else []
            culprit = files[0] if len(files) == 1 else info.path
            if culprit.is_file() and culprit.stat().st_size == 0:
                return culprit, "an empty file"
            why = f"{type(exc).__name__}: {_first_line(exc)}" if str(exc).strip() else type(exc).__name__
            return culprit, f"it does not load: {why}"
    for w in caught:  # the load worked: pass its warnings on as usual
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return None
