"""MineRL Dict actions -> Discrete / MultiDiscrete actions, and back.

All three wrappers sit on the Gymnasium-API MineRL env
(:class:`craftlab.envs.minerl.adapter.MineRLEnv`, possibly under other wrappers): its
action space is a ``Dict`` of ``Discrete(2)`` keys, ``camera: float32[2]``
(pitch, yaw, degrees) and :class:`~craftlab.envs.minerl.spaces.NamedDiscrete` Enums.

Each also maps a *demonstrated* Dict action back to its own action space
(:meth:`reverse_action`), so behaviour cloning discretises demonstrations
exactly as the agent acts, and has ``labels`` naming its actions.

* :class:`SerialDiscreteActions` -- the ChainerRL/PFRL "serial" action table:
  one change per action relative to a no-op template. The Treechop recipe
  ``always_keys=[attack], reverse_keys=[forward],
  exclude_keys=[back, left, right, sneak, sprint]`` gives ``Discrete(5)``:
  {forward+attack (no-op), stop forward, jump, yaw -10, yaw +10}. Camera turns
  are symmetric by construction (PFRL's ``num_camera_discretize`` lost its
  right turn to an off-by-one; here each turn size is added in both
  directions). Enum actions are sent by *name* (MineRL's sorted values), never
  as ints.
* :class:`MultiDiscreteActions` -- one dimension per key, per Enum and per
  camera axis (odd number of bins from ``-camera_max`` to ``+camera_max``).
* :class:`KMeansActions` -- VectorObf: ``Discrete(k)`` over k-means centres of
  demonstrated ``vector`` actions (:func:`fit_kmeans`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from craftlab.envs.minerl.spaces import NamedDiscrete, noop


def _dict_space(env: gym.Env) -> gym.spaces.Dict:
    space = env.action_space
    if not isinstance(space, gym.spaces.Dict):
        raise TypeError(f"a MineRL action wrapper needs a Dict action space, got {space}")
    return space


def _split(space: gym.spaces.Dict) -> tuple[list[str], list[str], bool]:
    keys = [k for k, s in space.spaces.items() if type(s) is gym.spaces.Discrete and s.n == 2]
    enums = [k for k, s in space.spaces.items() if isinstance(s, NamedDiscrete)]
    return keys, enums, "camera" in space.spaces


class SerialDiscreteActions(gym.ActionWrapper):
    """``Dict`` action -> ``Discrete(n)`` by a serial action table (see module doc).

    Args:
        env: a MineRL env with the Gymnasium API.
        always_keys: keys held down in every action (e.g. ``[attack]``).
        reverse_keys: keys held in the no-op; one extra action releases each.
        exclude_keys: keys, Enums or ``camera`` left out (always their no-op).
        camera_angle: the largest camera turn, degrees.
        camera_steps: turn sizes per direction (``camera_angle * i / camera_steps``,
            i = 1..steps), each both ways: 1 gives yaw -a, +a.
        allow_pitch: also add pitch (up/down) turns.
        enum_values: per Enum key, the values that get an action (default: every
            value but the Enum's default).
        camera_threshold: when mapping a demonstrated action back, a camera move
            smaller than this (degrees) counts as no move; default half the
            smallest turn.
    """

    def __init__(
        self,
        env: gym.Env,
        always_keys: Sequence[str] = (),
        reverse_keys: Sequence[str] = (),
        exclude_keys: Sequence[str] = (),
        camera_angle: float = 10.0,
        camera_steps: int = 1,
        allow_pitch: bool = False,
        enum_values: dict[str, list[str]] | None = None,
        camera_threshold: float | None = None,
    ):
        super().__init__(env)
        space = _dict_space(env)
        keys, enums, has_camera = _split(space)
        for name in (*always_keys, *reverse_keys, *exclude_keys):
            if name not in space.spaces:
                raise ValueError(f"unknown action key {name!r}; valid: {list(space.spaces)}")
        self.dict_space = space
        self.template = noop(space)
        for k in (*always_keys, *reverse_keys):
            self.template[k] = np.int64(1)
        self.table: list[OrderedDict] = [self._copy(self.template)]
        self.labels: list[str] = [
            "noop" + (f"({'+'.join([*always_keys, *reverse_keys])})" if (always_keys or reverse_keys) else "")
        ]
        self._key_actions: list[tuple[str, int, int]] = []  # (key, value, index)
        for k in keys:
            if k in always_keys or k in exclude_keys:
                continue
            a = self._copy(self.template)
            a[k] = np.int64(0 if k in reverse_keys else 1)
            self._key_actions.append((k, int(a[k]), len(self.table)))
            self.table.append(a)
            self.labels.append(f"{k}={int(a[k])}")
        self._camera_actions: list[tuple[int, float, int]] = []  # (axis, degrees, index)
        if has_camera and "camera" not in exclude_keys and camera_steps > 0:
            axes = (1, 0) if allow_pitch else (1,)
            for axis in axes:
                for i in range(1, camera_steps + 1):
                    for sign in (-1.0, 1.0):
                        deg = sign * camera_angle * i / camera_steps
                        a = self._copy(self.template)
                        a["camera"] = np.zeros(2, np.float32)
                        a["camera"][axis] = deg
                        self._camera_actions.append((axis, deg, len(self.table)))
                        self.table.append(a)
                        self.labels.append(f"{'yaw' if axis == 1 else 'pitch'}{deg:+g}")
        self.camera_threshold = (
            camera_threshold if camera_threshold is not None else camera_angle / max(camera_steps, 1) / 2
        )
        self._enum_actions: dict[tuple[str, int], int] = {}
        for k in enums:
            if k in exclude_keys:
                continue
            s: NamedDiscrete = space.spaces[k]
            wanted = (enum_values or {}).get(k, [v for v in s.values if v != s.default])
            for v in wanted:
                if v not in s.index:
                    raise ValueError(f"{k!r} has no value {v!r}; valid: {list(s.values)}")
                a = self._copy(self.template)
                a[k] = np.int64(s.index[v])
                self._enum_actions[(k, s.index[v])] = len(self.table)
                self.table.append(a)
                self.labels.append(f"{k}={v}")
        self.action_space = gym.spaces.Discrete(len(self.table))

    @staticmethod
    def _copy(action: OrderedDict) -> OrderedDict:
        return OrderedDict((k, np.array(v, copy=True)) for k, v in action.items())

    def action(self, action: Any) -> OrderedDict:
        return self._copy(self.table[int(action)])

    def reverse_action(self, action: dict[str, Any]) -> int:
        """A full Dict action (Gymnasium form) -> the table index that best
        describes it. Priority: a camera turn beyond the threshold (nearest
        turn on the dominant axis), then a non-default Enum value with an
        action, then the first key (table order) whose value differs from the
        no-op template as that key's action does, else the no-op."""
        if self._camera_actions:
            cam = np.asarray(action.get("camera", np.zeros(2)), np.float64)
            best: tuple[float, int] | None = None
            for axis in {ax for ax, _, _ in self._camera_actions}:
                if abs(cam[axis]) >= self.camera_threshold and (best is None or abs(cam[axis]) > best[0]):
                    best = (abs(cam[axis]), axis)
            if best is not None:
                axis = best[1]
                cands = [(abs(deg - cam[axis]), idx) for ax, deg, idx in self._camera_actions if ax == axis]
                return min(cands)[1]
        for (k, v), idx in self._enum_actions.items():
            if k in action and int(action[k]) == v:
                return idx
        for k, v, idx in self._key_actions:
            if k in action and int(action[k]) == v:
                return idx
        return 0

    def describe(self) -> list[str]:
        return list(self.labels)


class MultiDiscreteActions(gym.ActionWrapper):
    """``Dict`` action -> ``MultiDiscrete``: one dimension per key (2), per Enum
    (its n, MineRL's sorted order) and per camera axis (``camera_bins`` values
    evenly from ``-camera_max`` to ``+camera_max``; odd, so 0 is a bin).

    Args:
        env: a MineRL env with the Gymnasium API.
        camera_bins: bins per camera axis (odd).
        camera_max: the largest turn, degrees.
        exclude_keys: keys/Enums/``camera`` left out (always their no-op).
        always_keys: keys held down in every action (left out of the dimensions).
    """

    def __init__(
        self,
        env: gym.Env,
        camera_bins: int = 5,
        camera_max: float = 10.0,
        exclude_keys: Sequence[str] = (),
        always_keys: Sequence[str] = (),
    ):
        super().__init__(env)
        if camera_bins < 1 or camera_bins % 2 == 0:
            raise ValueError(f"camera_bins must be odd (0 must be a bin), got {camera_bins}")
        space = _dict_space(env)
        keys, enums, has_camera = _split(space)
        self.dict_space = space
        self.template = noop(space)
        for k in always_keys:
            self.template[k] = np.int64(1)
        self.dims: list[str] = [k for k in keys if k not in exclude_keys and k not in always_keys]
        self.dims += [k for k in enums if k not in exclude_keys]
        self.bins = np.linspace(-camera_max, camera_max, camera_bins).astype(np.float32)
        self.use_camera = has_camera and "camera" not in exclude_keys
        nvec = [int(space.spaces[k].n) for k in self.dims]
        if self.use_camera:
            self.dims += ["camera_pitch", "camera_yaw"]
            nvec += [camera_bins, camera_bins]
        self.labels = list(self.dims)
        self.action_space = gym.spaces.MultiDiscrete(np.array(nvec, dtype=np.int64))

    def action(self, action: Any) -> OrderedDict:
        action = np.asarray(action, dtype=np.int64)
        out = OrderedDict((k, np.array(v, copy=True)) for k, v in self.template.items())
        n_plain = len(self.dims) - (2 if self.use_camera else 0)
        for i, k in enumerate(self.dims[:n_plain]):
            out[k] = np.int64(action[i])
        if self.use_camera:
            out["camera"] = np.array([self.bins[action[-2]], self.bins[action[-1]]], dtype=np.float32)
        return out

    def reverse_action(self, action: dict[str, Any]) -> np.ndarray:
        """A full Dict action -> the MultiDiscrete vector (camera: nearest bin)."""
        n_plain = len(self.dims) - (2 if self.use_camera else 0)
        out = [int(action[k]) for k in self.dims[:n_plain]]
        if self.use_camera:
            cam = np.asarray(action["camera"], np.float64)
            out += [int(np.argmin(np.abs(self.bins - c))) for c in cam]
        return np.array(out, dtype=np.int64)


def fit_kmeans(vectors: np.ndarray, n_clusters: int, seed: int = 0, iters: int = 50) -> np.ndarray:
    """k-means++ then Lloyd iterations. ``vectors`` float[N, D] -> centres float32[k, D]."""
    x = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), -1)
    if len(x) < n_clusters:
        raise ValueError(f"k-means needs at least {n_clusters} vectors, got {len(x)}")
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, n_clusters):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=p)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    c = np.array(centres)
    for _ in range(iters):
        labels = ((x[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        new = np.array([x[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(n_clusters)])
        if np.allclose(new, c):
            break
        c = new
    return c.astype(np.float32)


class KMeansActions(gym.ActionWrapper):
    """VectorObf: ``Discrete(k)`` -> ``{"vector": centres[i]}``.

    Args:
        env: a MineRL *VectorObf env with the Gymnasium API.
        centers: the k centres, float[k, D] (e.g. from :func:`fit_kmeans` on
            demonstrated ``act["vector"]``), or
        centers_path: a ``.npy`` file holding them.
    """

    def __init__(self, env: gym.Env, centers: Sequence[Sequence[float]] | None = None, centers_path: str | None = None):
        super().__init__(env)
        space = _dict_space(env)
        if "vector" not in space.spaces:
            raise TypeError("minerl_kmeans needs a VectorObf env (an action 'vector')")
        if centers is None and centers_path is None:
            raise ValueError(
                "minerl_kmeans needs centers or centers_path (fit them with "
                "craftlab.envs.minerl.actions.fit_kmeans on demonstrated actions)"
            )
        c = np.asarray(centers if centers is not None else np.load(centers_path, allow_pickle=False), np.float32)
        box = space.spaces["vector"]
        if c.ndim != 2 or c.shape[1:] != box.shape:
            raise ValueError(f"centers must be [k, {box.shape[0]}], got {c.shape}")
        self.centers = np.clip(c, box.low, box.high)
        self.labels = [f"cluster{i}" for i in range(len(c))]
        self.action_space = gym.spaces.Discrete(len(c))

    def action(self, action: Any) -> OrderedDict:
        return OrderedDict(vector=self.centers[int(action)].copy())

    def reverse_action(self, action: dict[str, Any]) -> int:
        v = np.asarray(action["vector"], np.float32)
        return int(((self.centers - v) ** 2).sum(1).argmin())
