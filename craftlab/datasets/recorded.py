"""Recorded datasets: whole episodes of any env, written in compressed chunks and
read back lazily, as :class:`~craftlab.datasets.batch.TransitionBatch` batches.

On disk (``python train.py record RUN --out DIR`` writes one)::

    DIR/manifest.json          what the dataset is (DatasetManifest, JSON)
    DIR/chunks/000000.npz      np.savez_compressed of whole episodes
    DIR/chunks/000001.npz      ...

A chunk holds one or more complete episodes (an episode is never split), at
least ``chunk_transitions`` transitions unless it is the last. Its arrays, for
``E`` episodes of lengths ``T_1..T_E`` (``N = sum T_e``):

=====================  ==============================  ==========================
``observations``       ``[N + E, *obs_shape]``         each episode's ``T_e + 1``
                                                        observations, in order:
                                                        frames are stored once,
                                                        not as obs and next_obs
``observations.<key>`` same, per key                   Dict observation spaces
``actions``            ``[N, *action_shape]``          ``a_t``
``rewards``            ``float32[N]``                  ``r_t``
``terminations``       ``bool[N]``                     ``s_{t+1}`` is terminal
``truncations``        ``bool[N]``                     time limit after ``a_t``
``episode_lengths``    ``int64[E]``                    ``T_e``
=====================  ==============================  ==========================

The manifest lists each chunk with its SHA-256, so a damaged or truncated file is
refused with one line naming it (:class:`DatasetError`, a
:class:`~craftlab.core.errors.UserError`), never a traceback. The manifest is
rewritten after every chunk with ``complete: false`` and finally with
``complete: true``: a recording that was killed is refused as incomplete.

Memory: writing holds one chunk (plus the episode in progress); reading holds one
chunk at a time (``episodes``, ``batches``) unless :meth:`RecordedDataset.load`
is asked for everything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import gymnasium as gym
import numpy as np

from craftlab.core.checkpoint import space_signature
from craftlab.core.errors import UserError
from craftlab.datasets.batch import Obs, TransitionBatch

FORMAT = "craftlab-dataset"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
CHUNK_DIR = "chunks"


class DatasetError(UserError):
    """A dataset that cannot be read or used here; the message names the file and the fix."""


class Episode(NamedTuple):
    """One whole episode of ``T`` steps.

    ``observations``: ``[T + 1, *obs_shape]`` (a dict of them for Dict spaces);
    ``actions``: ``[T, *action_shape]``; ``rewards``: ``float32[T]``;
    ``terminations`` / ``truncations``: ``bool[T]``.
    """

    observations: Obs
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        """The undiscounted return, sum_t r_t."""
        return float(np.sum(self.rewards, dtype=np.float64))

    def transitions(self) -> TransitionBatch:
        """The episode as ``T`` transitions ``(s_t, a_t, r_t, s_{t+1}, done_t)``."""
        obs = _slice(self.observations, slice(0, -1))
        next_obs = _slice(self.observations, slice(1, None))
        done = self.terminations | self.truncations
        done[-1] = True
        return TransitionBatch(
            obs, self.actions, self.rewards.astype(np.float32), next_obs, done, terminated=self.terminations.copy()
        )


@dataclass
class ChunkInfo:
    """One chunk file as the manifest lists it."""

    file: str
    """path relative to the dataset folder (``chunks/000000.npz``)"""
    episodes: int
    transitions: int
    sha256: str
    bytes: int


@dataclass
class DatasetManifest:
    """``manifest.json``: what a dataset holds and where it came from."""

    env_id: str
    """the env it was recorded in (``env.id`` of a run config)"""
    env: dict[str, Any]
    """the run config's whole ``env:`` section (id, kwargs, wrappers), so the env can be rebuilt"""
    observation_space: str
    """``repr`` of the observation space (checked against the env a dataset is used with)"""
    action_space: str
    """``repr`` of the action space"""
    policy: str
    """what acted: a run folder and step, ``random``, or ``scripted:<name>``"""
    episodes: int = 0
    transitions: int = 0
    return_mean: float = 0.0
    return_std: float = 0.0
    return_min: float = 0.0
    return_max: float = 0.0
    chunks: list[ChunkInfo] = field(default_factory=list)
    episode_seeds: list[int] = field(default_factory=list)
    """the ``reset(seed=...)`` of each episode, in stored order (empty when not given)"""
    complete: bool = False
    """False until the recording finished (a killed recording is refused)"""
    created: str = ""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "DatasetManifest":
        chunks = [ChunkInfo(**c) for c in data.pop("chunks", [])]
        return DatasetManifest(**data, chunks=chunks)


# ---------------------------------------------------------------- writing


class DatasetWriter:
    """Writes whole episodes into a new dataset folder, chunk by chunk.

    ``with DatasetWriter(path, env_config, obs_space, act_space, "random") as w:
    w.add_episode(...)``; leaving the ``with`` block normally marks it complete,
    an exception deletes the folder (nothing half-made is left behind).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        env_config: dict[str, Any],
        observation_space: gym.Space,
        action_space: gym.Space,
        policy: str,
        chunk_transitions: int = 10_000,
    ):
        self.path = Path(path)
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise DatasetError(f"'{self.path}' already exists and is not an empty folder; choose a new --out path")
        if chunk_transitions < 1:
            raise DatasetError(f"chunk size {chunk_transitions} must be >= 1 transition")
        self.chunk_transitions = chunk_transitions
        self.dict_obs = isinstance(observation_space, gym.spaces.Dict)
        self.manifest = DatasetManifest(
            env_id=str(env_config.get("id", "")),
            env=env_config,
            observation_space=space_signature(observation_space),
            action_space=space_signature(action_space),
            policy=policy,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        self._pending: list[Episode] = []
        self._returns: list[float] = []
        (self.path / CHUNK_DIR).mkdir(parents=True, exist_ok=True)
        self._write_manifest()

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            shutil.rmtree(self.path, ignore_errors=True)

    def add_episode(
        self,
        observations: Obs,
        actions: Any,
        rewards: Any,
        terminations: Any,
        truncations: Any,
        seed: int | None = None,
    ) -> None:
        """Add one whole episode: ``T + 1`` observations and ``T`` of everything else;
        ``seed``: the ``reset(seed=...)`` it started from (kept in the manifest)."""
        rewards = np.asarray(rewards, np.float32)
        steps = len(rewards)
        episode = Episode(
            _as_array(observations),
            np.asarray(actions),
            rewards,
            np.asarray(terminations, bool),
            np.asarray(truncations, bool),
        )
        if steps == 0:
            raise ValueError("an episode needs at least one step")
        for name, n in (("actions", len(episode.actions)), ("terminations", len(episode.terminations))):
            if n != steps:
                raise ValueError(f"episode has {n} {name} for {steps} rewards")
        if len(truncations) != steps:
            raise ValueError(f"episode has {len(truncations)} truncations for {steps} rewards")
        if _length(episode.observations) != steps + 1:
            raise ValueError(f"episode has {_length(episode.observations)} observations for {steps} steps (need T + 1)")
        self._pending.append(episode)
        self._returns.append(episode.episode_return)
        if seed is not None:
            self.manifest.episode_seeds.append(int(seed))
        if sum(len(e) for e in self._pending) >= self.chunk_transitions:
            self._flush()

    def close(self) -> DatasetManifest:
        """Write the last chunk and mark the dataset complete."""
        self._flush()
        self.manifest.complete = True
        self._write_manifest()
        return self.manifest

    def _flush(self) -> None:
        if not self._pending:
            return
        episodes, self._pending = self._pending, []
        arrays: dict[str, np.ndarray] = {}
        if self.dict_obs:
            for key in episodes[0].observations:
                arrays[f"observations.{key}"] = np.concatenate([e.observations[key] for e in episodes])
        else:
            arrays["observations"] = np.concatenate([e.observations for e in episodes])
        arrays["actions"] = np.concatenate([e.actions for e in episodes])
        arrays["rewards"] = np.concatenate([e.rewards for e in episodes])
        arrays["terminations"] = np.concatenate([e.terminations for e in episodes])
        arrays["truncations"] = np.concatenate([e.truncations for e in episodes])
        arrays["episode_lengths"] = np.array([len(e) for e in episodes], np.int64)
        name = f"{CHUNK_DIR}/{len(self.manifest.chunks):06d}.npz"
        tmp = self.path / (name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)
        data = (self.path / name).read_bytes()
        transitions = int(arrays["episode_lengths"].sum())
        self.manifest.chunks.append(
            ChunkInfo(name, len(episodes), transitions, hashlib.sha256(data).hexdigest(), len(data))
        )
        m = self.manifest
        m.episodes += len(episodes)
        m.transitions += transitions
        returns = np.asarray(self._returns, np.float64)
        m.return_mean, m.return_std = float(returns.mean()), float(returns.std())
        m.return_min, m.return_max = float(returns.min()), float(returns.max())
        self._write_manifest()

    def _write_manifest(self) -> None:
        tmp = self.path / (MANIFEST_FILE + ".tmp")
        tmp.write_text(self.manifest.to_json())
        os.replace(tmp, self.path / MANIFEST_FILE)


# ---------------------------------------------------------------- reading


class RecordedDataset:
    """A dataset folder, read lazily (one chunk in memory at a time).

    Raises :class:`DatasetError` when the folder, its manifest or (when read) a
    chunk is missing, incomplete or damaged.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST_FILE
        if not self.path.is_dir():
            raise DatasetError(
                f"dataset '{self.path}' does not exist; record one with 'python train.py record RUN --out DIR'"
            )
        if not manifest_path.is_file():
            raise DatasetError(
                f"'{self.path}' has no {MANIFEST_FILE}: it is not a craftlab dataset (record one with 'python train.py record')"
            )
        try:
            data = json.loads(manifest_path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
            if int(data.get("format_version", -1)) > FORMAT_VERSION:
                raise ValueError(
                    f"format version {data['format_version']} is newer than this craftlab reads ({FORMAT_VERSION}); upgrade craftlab"
                )
            self.manifest = DatasetManifest.from_dict(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise DatasetError(f"'{manifest_path}' is damaged ({exc}); record the dataset again") from exc
        if not self.manifest.complete:
            raise DatasetError(
                f"dataset '{self.path}' is incomplete (its recording stopped after "
                f"{self.manifest.episodes} episodes); record it again"
            )

    def __len__(self) -> int:
        """The number of transitions."""
        return self.manifest.transitions

    @property
    def num_episodes(self) -> int:
        return self.manifest.episodes

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        """Refuse a dataset recorded with other observations or actions than ``env``'s."""
        for what, recorded, here in (
            ("observation", self.manifest.observation_space, space_signature(observation_space)),
            ("action", self.manifest.action_space, space_signature(action_space)),
        ):
            if recorded != here:
                raise DatasetError(
                    f"dataset '{self.path}' was recorded with {what} space {recorded}, but this run's env has "
                    f"{here}; use the env section of the dataset's manifest.json ({self.manifest.env_id})"
                )

    # -- chunks and episodes

    def check_files(self) -> None:
        """Refuse a dataset with a chunk file missing or of another size than recorded
        (one ``stat`` per chunk, no reading: checksums are checked as chunks are read)."""
        for info in self.manifest.chunks:
            path = self.path / info.file
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise DatasetError(
                    f"dataset chunk '{path}' cannot be read ({exc.strerror}); record the dataset again"
                ) from exc
            if size != info.bytes:
                what = "truncated" if size < info.bytes else "damaged"
                raise DatasetError(
                    f"dataset chunk '{path}' is {what} ({size} of {info.bytes} bytes); record the dataset again"
                )

    def read_chunk(self, index: int) -> dict[str, np.ndarray]:
        """The arrays of chunk ``index``, after checking its size and SHA-256."""
        info = self.manifest.chunks[index]
        path = self.path / info.file
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetError(
                f"dataset chunk '{path}' cannot be read ({exc.strerror}); record the dataset again"
            ) from exc
        if len(data) != info.bytes or hashlib.sha256(data).hexdigest() != info.sha256:
            what = "truncated" if len(data) < info.bytes else "damaged"
            raise DatasetError(
                f"dataset chunk '{path}' is {what} ({len(data)} of {info.bytes} bytes, checksum "
                "mismatch); record the dataset again"
            )
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile, KeyError) as exc:
            raise DatasetError(f"dataset chunk '{path}' cannot be decoded ({exc}); record the dataset again") from exc

    def episodes(self) -> Iterator[Episode]:
        """Every episode in recorded order, one chunk in memory at a time."""
        for index in range(len(self.manifest.chunks)):
            arrays = self.read_chunk(index)
            obs = _observations(arrays)
            step = ob = 0
            for length in arrays["episode_lengths"].tolist():
                yield Episode(
                    _slice(obs, slice(ob, ob + length + 1)),
                    arrays["actions"][step : step + length],
                    arrays["rewards"][step : step + length],
                    arrays["terminations"][step : step + length],
                    arrays["truncations"][step : step + length],
                )
                step += length
                ob += length + 1

    def iter_batches(self, batch_size: int, shuffle_buffer: int = 10_000, seed: int = 0) -> Iterator[TransitionBatch]:
        """One pass over the data in shuffled batches of ``batch_size`` transitions.

        Transitions pass through a buffer of ``shuffle_buffer`` transitions (its
        memory: that many observations, twice), from which batches are drawn at
        random; chunks are visited in a random order. The last batch may be short.
        """
        rng = np.random.default_rng(seed)
        held: list[TransitionBatch] = []
        held_n = 0
        order = rng.permutation(len(self.manifest.chunks))
        for index in order:
            arrays = self.read_chunk(int(index))
            for batch in _chunk_transitions(arrays):
                held.append(batch)
                held_n += len(batch)
            if held_n >= shuffle_buffer + batch_size:
                pool = concatenate(held)
                perm = rng.permutation(len(pool))
                keep = max(0, len(pool) - (len(pool) - shuffle_buffer) // batch_size * batch_size)
                for start in range(keep, len(pool), batch_size):
                    yield pool.take(perm[start : start + batch_size])
                held = [pool.take(perm[:keep])] if keep else []
                held_n = keep
        if held_n:
            pool = concatenate(held)
            perm = rng.permutation(len(pool))
            for start in range(0, len(pool), batch_size):
                yield pool.take(perm[start : start + batch_size])

    def load(self) -> TransitionBatch:
        """Every transition in one in-memory batch, in recorded order (small datasets:
        it holds each observation twice, as ``obs`` and ``next_obs``)."""
        return concatenate(
            [batch for i in range(len(self.manifest.chunks)) for batch in _chunk_transitions(self.read_chunk(i))]
        )


# ---------------------------------------------------------------- helpers


def _as_array(obs: Obs) -> Obs:
    if isinstance(obs, dict):
        return {k: np.asarray(v) for k, v in obs.items()}
    return np.asarray(obs)


def _length(obs: Obs) -> int:
    if isinstance(obs, dict):
        return len(next(iter(obs.values())))
    return len(obs)


def _slice(obs: Obs, index: Any) -> Obs:
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]


def _observations(arrays: dict[str, np.ndarray]) -> Obs:
    if "observations" in arrays:
        return arrays["observations"]
    return {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("observations.")}


def _chunk_transitions(arrays: dict[str, np.ndarray]) -> Iterator[TransitionBatch]:
    """A chunk's episodes as transition batches (obs = rows t, next_obs = rows t + 1 of each episode)."""
    obs = _observations(arrays)
    lengths = arrays["episode_lengths"]
    # row of s_t for every step: the episode's first observation row + t
    firsts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    rows = np.concatenate([first + np.arange(length) for first, length in zip(firsts, lengths)])
    terminated = arrays["terminations"].astype(bool)
    done = terminated | arrays["truncations"].astype(bool)
    done[np.cumsum(lengths) - 1] = True
    yield TransitionBatch(
        _slice(obs, rows),
        arrays["actions"],
        arrays["rewards"].astype(np.float32),
        _slice(obs, rows + 1),
        done,
        terminated=terminated,
    )


def concatenate(batches: list[TransitionBatch]) -> TransitionBatch:
    """Batches -> one batch (``terminated`` kept only if every batch has it)."""

    def cat(items: list[Obs]) -> Obs:
        if isinstance(items[0], dict):
            return {k: np.concatenate([it[k] for it in items]) for k in items[0]}
        return np.concatenate(items)

    terminated = [b.terminated for b in batches]
    return TransitionBatch(
        cat([b.obs for b in batches]),
        np.concatenate([b.action for b in batches]),
        np.concatenate([b.reward for b in batches]),
        cat([b.next_obs for b in batches]),
        np.concatenate([b.done for b in batches]),
        terminated=None if any(t is None for t in terminated) else np.concatenate(terminated),  # type: ignore[arg-type]
    )
