"""MineRL 0.4.4 demonstrations: read, align, map to an agent's spaces, batch.

Layout (``minerl.data``'s)::

    $MINERL_DATA_ROOT/<EnvId>/v3_<stream>/{recording.mp4, rendered.npz, metadata.json}

A directory is a trajectory when its name matches ``v<3|4>_...`` and it holds an
``.mp4`` and an ``.npz``. ``rendered.npz`` keys are ``$``-joined paths:
``reward`` (T), ``action$...`` (T), ``observation$...`` (T+1, no pov).
Alignment is MineRL's: ``num_states = T + 1``; the first
``true_video_frame_count - num_states`` video frames are skipped; ``obs[t]``
is frame t, ``next_obs[t]`` frame t+1, with the last frame duplicated (the last
transition's next pov equals its pov); ``done`` is True only on the last
transition.

* :func:`read_trajectory` streams one trajectory's MineRL-form transitions
  (imageio's ffmpeg reader decodes frame by frame; no whole video in memory).
* :class:`DemonstrationDataset` replays trajectories through the *same*
  wrappers the agent's env uses (action discretiser, pov-only, frame skip,
  frame stack...), yields :class:`~craftlab.datasets.batch.TransitionBatch`
  batches from a shuffle buffer, and counts how many demonstrated actions each
  discrete action absorbed (:attr:`DemonstrationDataset.action_counts`).
* A corrupt or truncated trajectory is skipped with a warning naming it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym
import numpy as np

from craftlab.datasets.batch import TransitionBatch
from craftlab.envs.minerl.spaces import action_to_gymnasium, observation_to_gymnasium, to_gymnasium_space
from craftlab.envs.minerl.specs import spec
from craftlab.envs.registry import apply_wrappers

ALLOWED_VERSIONS = (3, 4)
_VERSION_RE = re.compile(r"v([0-9]+?)_")


class CorruptTrajectory(ValueError):
    """A trajectory whose files are missing, unreadable or inconsistent."""


def data_root(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$MINERL_DATA_ROOT``; ValueError when neither is set."""
    root = path or os.environ.get("MINERL_DATA_ROOT")
    if not root:
        raise ValueError("no MineRL data root: pass data_root or set MINERL_DATA_ROOT")
    return Path(root)


def find_trajectories(root: str | os.PathLike, env_id: str) -> list[Path]:
    """Trajectory directories of ``env_id`` under ``root`` (recursive, sorted by path)."""
    base = Path(root) / env_id
    if not base.is_dir():
        return []
    found = []
    for d in sorted(p for p in base.rglob("*") if p.is_dir()):
        m = _VERSION_RE.match(d.name)
        if not m or int(m.group(1)) not in ALLOWED_VERSIONS:
            continue
        if any(d.glob("*.mp4")) and any(d.glob("*.npz")):
            found.append(d)
    return found


def _nest(flat: dict[str, Any]) -> OrderedDict:
    out: OrderedDict = OrderedDict()
    for key in sorted(flat):
        node = out
        parts = key.split("$")
        for p in parts[:-1]:
            node = node.setdefault(p, OrderedDict())
        node[parts[-1]] = flat[key]
    return out


def _at(tree: Any, t: int) -> Any:
    if isinstance(tree, dict):
        return OrderedDict((k, _at(v, t)) for k, v in tree.items())
    v = tree[t]
    return str(v) if isinstance(v, np.str_) else v


def read_trajectory(path: str | os.PathLike) -> Iterator[tuple[dict, dict, np.float32, dict, np.bool_]]:
    """Stream ``(obs, act, reward, next_obs, done)`` of one trajectory, in
    MineRL's form (nested dicts; pov ``uint8[H, W, 3]``; Enum values as str).

    Raises :class:`CorruptTrajectory` on missing or inconsistent files (possibly
    after some transitions, when the video ends early).
    """
    import imageio.v2 as imageio

    path = Path(path)
    try:
        video = next(iter(sorted(path.glob("*.mp4"))))
        npz = np.load(next(iter(sorted(path.glob("*.npz")))), allow_pickle=False)
        data = {k: npz[k] for k in npz.files}
        meta_file = path / "metadata.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise CorruptTrajectory(f"cannot read files: {type(exc).__name__}: {exc}") from exc
    if "reward" not in data:
        raise CorruptTrajectory("rendered.npz has no 'reward'")
    reward = data["reward"].astype(np.float32)
    steps = len(reward)
    actions = {k[len("action$") :]: v for k, v in data.items() if k.startswith("action$")}
    observations = {k[len("observation$") :]: v for k, v in data.items() if k.startswith("observation$")}
    for k, v in actions.items():
        if len(v) != steps:
            raise CorruptTrajectory(f"action${k} has {len(v)} steps, reward has {steps}")
    for k, v in observations.items():
        if len(v) != steps + 1:
            raise CorruptTrajectory(f"observation${k} has {len(v)} states, expected {steps + 1}")
    if steps == 0:
        raise CorruptTrajectory("empty trajectory (0 steps)")
    act_tree, obs_tree = _nest(actions), _nest(observations)
    num_states = steps + 1
    skip = max(int(meta.get("true_video_frame_count", num_states)) - num_states, 0)
    try:
        reader = imageio.get_reader(str(video), "ffmpeg")
    except Exception as exc:  # noqa: BLE001
        raise CorruptTrajectory(f"cannot open {video.name}: {exc}") from exc
    try:
        frames = iter(reader)
        try:
            for _ in range(skip):
                next(frames)
            current = np.asarray(next(frames), np.uint8)
        except (StopIteration, Exception) as exc:  # noqa: BLE001
            raise CorruptTrajectory(f"{video.name} has too few frames") from exc
        for t in range(steps):
            if t + 1 < steps:
                try:
                    following = np.asarray(next(frames), np.uint8)
                except (StopIteration, Exception) as exc:  # noqa: BLE001
                    raise CorruptTrajectory(f"{video.name} ended after {t + 1} of {steps} frames") from exc
            else:
                following = current  # MineRL duplicates the last frame
            obs = _at(obs_tree, t)
            obs["pov"] = current
            nxt = _at(obs_tree, t + 1)
            nxt["pov"] = following
            yield (
                OrderedDict(sorted(obs.items())),
                _at(act_tree, t),
                reward[t],
                OrderedDict(sorted(nxt.items())),
                np.bool_(t == steps - 1),
            )
            current = following
    finally:
        reader.close()


class DemoReplayEnv(gym.Env):
    """Plays one demonstration as an env with the adapter's Gymnasium spaces,
    so the agent's own wrappers transform it. ``step`` ignores the action it
    is given; :attr:`demo_action` is the demonstrated one (MineRL form)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space):
        self.observation_space, self.action_space = observation_space, action_space
        self._source: Iterator | None = None
        self._pending: tuple | None = None

    def load(self, transitions: Iterator[tuple]) -> None:
        self._source = iter(transitions)

    @property
    def demo_action(self) -> dict[str, Any]:
        assert self._pending is not None, "reset() first"
        return self._pending[1]

    def _obs(self, obs: dict) -> Any:

        return observation_to_gymnasium(obs, self.observation_space)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        assert self._source is not None, "load() a trajectory first"
        self._pending = next(self._source)
        return self._obs(self._pending[0]), {}

    def step(self, action: Any):
        assert self._pending is not None
        _, _, reward, next_obs, done = self._pending
        self._pending = None if done else next(self._source)
        return self._obs(next_obs), float(reward), bool(done), False, {}


def find_action_wrapper(env: gym.Env) -> gym.Wrapper | None:
    """The outermost wrapper in ``env``'s chain with ``reverse_action`` and
    ``labels`` (one of craftlab's MineRL action wrappers), or None."""
    node = env
    while isinstance(node, gym.Wrapper):
        if hasattr(node, "labels") and hasattr(node, "reverse_action"):
            return node
        node = node.env
    return None


class DemonstrationDataset:
    """MineRL demonstrations in an agent's spaces, as shuffled batches.

    Args:
        root: the data root (default ``$MINERL_DATA_ROOT``).
        minerl_id: the dataset's env id, e.g. ``MineRLTreechop-v0``.
        env_config: the agent's :class:`craftlab.core.config.EnvConfig`; its
            ``wrappers`` are applied to the replayed demonstrations (their
            action wrapper discretises the demonstrated actions).
        minerl_version: whose space tables describe the data ('0.4.4').
        max_trajectories: use at most this many trajectories (0: all).
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        minerl_id: str,
        env_config: Any,
        minerl_version: str = "0.4.4",
        max_trajectories: int = 0,
    ):

        self.root = data_root(root)
        self.minerl_id = minerl_id
        self.paths = find_trajectories(self.root, minerl_id)
        if max_trajectories:
            self.paths = self.paths[:max_trajectories]
        s = spec(minerl_id, minerl_version)
        self.replay = DemoReplayEnv(to_gymnasium_space(s.observation_space), to_gymnasium_space(s.action_space))
        # crash recovery has nothing to recover in a replay (and would hide a corrupt file)
        wrappers = [w for w in env_config.wrappers if w.name != "minerl_crash_recovery"]
        self.env = apply_wrappers(self.replay, dataclasses.replace(env_config, wrappers=wrappers))
        self.action_wrapper = find_action_wrapper(self.env)
        if self.action_wrapper is None:
            raise ValueError(
                "the env's wrappers have no MineRL action wrapper (minerl_discrete, "
                "minerl_multidiscrete or minerl_kmeans) to discretise demonstrations with"
            )
        self.action_counts: Counter = Counter()
        """demonstrated (decision) steps per discrete action label"""
        self.skipped: list[str] = []
        """trajectories skipped as corrupt, with the reason"""
        self.transitions = 0

    def _label(self, action: Any) -> list[str]:
        labels = self.action_wrapper.labels
        if np.ndim(action) == 0:
            return [labels[int(action)]]
        return [f"{d}={int(v)}" for d, v in zip(labels, np.asarray(action))]

    def iter_transitions(self) -> Iterator[tuple[Any, Any, float, Any, bool]]:
        """Every trajectory once, in order: agent-space ``(obs, action, reward, next_obs, done)``."""

        dict_space = self.replay.action_space
        for path in self.paths:
            name = str(path.relative_to(self.root))
            self.replay.load(read_trajectory(path))
            try:
                obs, _ = self.env.reset()
                done = False
                while not done:
                    action = self.action_wrapper.reverse_action(
                        action_to_gymnasium(self.replay.demo_action, dict_space)
                    )
                    nxt, reward, terminated, truncated, _ = self.env.step(action)
                    done = terminated or truncated
                    self.action_counts.update(self._label(action))
                    self.transitions += 1
                    yield obs, action, reward, nxt, done
                    obs = nxt
            except (CorruptTrajectory, StopIteration, RuntimeError) as exc:
                reason = f"{name}: {exc}"
                self.skipped.append(reason)
                warnings.warn(f"skipping corrupt MineRL trajectory {reason}", RuntimeWarning, stacklevel=2)

    def batches(
        self, batch_size: int, shuffle_buffer: int = 10_000, seed: int = 0, epochs: int | None = None
    ) -> Iterator[TransitionBatch]:
        """Shuffled batches of ``batch_size`` (a reservoir of ``shuffle_buffer``
        transitions), over ``epochs`` passes (None: forever). Raises
        ValueError if there is no usable trajectory."""
        rng = np.random.default_rng(seed)
        epoch = 0
        while epochs is None or epoch < epochs:
            buffer: list = []
            produced = 0
            for tr in self.iter_transitions():
                produced += 1
                if len(buffer) < shuffle_buffer:
                    buffer.append(tr)
                    continue
                i = int(rng.integers(len(buffer)))
                out, buffer[i] = buffer[i], tr
                yield from self._emit([out], batch_size, rng, flush=False)
            if produced == 0:
                raise ValueError(
                    f"no usable {self.minerl_id} trajectories under {self.root} "
                    f"(found {len(self.paths)}, skipped {len(self.skipped)})"
                )
            rng.shuffle(buffer)
            yield from self._emit(buffer, batch_size, rng, flush=True)
            epoch += 1

    def _emit(self, items: list, batch_size: int, rng: np.random.Generator, flush: bool) -> Iterator[TransitionBatch]:
        pending = getattr(self, "_pending_batch", [])
        pending.extend(items)
        while len(pending) >= batch_size:
            yield TransitionBatch.stack(pending[:batch_size])
            pending = pending[batch_size:]
        if flush and pending:
            yield TransitionBatch.stack(pending)
            pending = []
        self._pending_batch = pending

    def report(self) -> str:
        """How many demonstrated actions each discrete action absorbed."""
        total = sum(self.action_counts.values()) or 1
        lines = [
            f"{self.minerl_id}: {self.transitions} transitions from {len(self.paths) - len(self.skipped)} "
            f"trajectories ({len(self.skipped)} skipped)"
        ]
        for label, n in sorted(self.action_counts.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {label:<32} {n:>8}  {100 * n / total:5.1f}%")
        return "\n".join(lines)
