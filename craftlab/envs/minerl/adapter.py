"""A MineRL env (old gym API, minerl 0.4.4 or 1.0) as a Gymnasium env.

:func:`make_minerl` is the craftlab entry point of every MineRL id (see
``envs/registry.py``). It imports ``minerl`` only when a real env is built, so
craftlab runs without it; ``standin=True`` builds the stand-in of
:mod:`craftlab.envs.minerl.standin` instead. With ``python=<interpreter>`` the env
(real or stand-in) runs in that interpreter instead, driven over a pipe by
:class:`craftlab.envs.minerl.remote.RemoteMineRLEnv` (MineRL in its own Python 3.9
venv, craftlab in a modern one).

:class:`MineRLEnv` translates the API, not the gym package (so both gym<0.20
for 0.4.4 and gym<=0.23.1 for 1.0 work):

* ``reset(seed=s)`` calls ``env.seed(s)`` *before* ``env.reset()`` (MineRL
  seeds the next world this way) and returns ``(obs, {})``.
* ``step`` returns ``(obs, reward, terminated, truncated, info)`` with
  ``truncated = info["TimeLimit.truncated"]`` (gym's TimeLimit). MineRL's
  server also quits when its time is up, on the same step, in which case gym's
  TimeLimit reports ``not done = False``; with ``time_up_is_truncation`` (the
  default) an episode that ends exactly at the limit counts as truncated.
* A socket failure (``info["error"]``, MineRL returns a random observation)
  ends the episode as truncated with ``info["minerl_error"]``, which
  :class:`craftlab.envs.minerl.crash.CrashRecovery` treats as a crash.
* MineRL starts Minecraft at the first ``reset``; if that reset fails,
  Minecraft could not start, a set-up problem: the adapter of a real MineRL
  env (here or behind ``python``; not the stand-in) raises
  :class:`~craftlab.envs.minerl.launch.MinecraftLaunchError` (one line of
  diagnosis, the full log written to a file), which crash recovery does not
  retry. Later failures (after a restart too) are ordinary crashes.
* Spaces and values are converted by :mod:`craftlab.envs.minerl.spaces`.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from craftlab.core.config import ConfigError
from craftlab.envs.minerl.crash import CrashRecovery
from craftlab.envs.minerl.ids import STANDIN_PREFIX
from craftlab.envs.minerl.launch import MinecraftLaunchError, launch_error
from craftlab.envs.minerl.remote import RemoteMineRLEnv
from craftlab.envs.minerl.spaces import action_to_minerl, observation_to_gymnasium, to_gymnasium_space
from craftlab.envs.minerl.standin import make_standin

INSTALL_HINT = (
    "Install MineRL 0.4.4 (JDK 8 required: `pip install minerl==0.4.4`) or MineRL 1.0 "
    "(`pip install git+https://github.com/minerllabs/minerl`); docs/minerl.md has the steps and "
    "`python train.py doctor` checks Java, the display and the package. To run without Minecraft, "
    "set env.kwargs.standin: true (or use the id 'minerl-standin/<id>')."
)


class MineRLNotInstalledError(ImportError, ConfigError):
    """A MineRL env was asked for and the ``minerl`` package is missing."""


def minerl_version(package: str = "minerl") -> str | None:
    """The installed MineRL version ('0.4.4', '1.0.2', ...; from the package metadata:
    minerl 0.4.4 has no ``__version__``), or None when missing. ``package``: another
    distribution's (e.g. 'gym')."""
    try:
        from importlib.metadata import version

        return version(package)
    except Exception:  # noqa: BLE001 - PackageNotFoundError, or broken metadata
        return None


def _make_real(env_id: str) -> Any:
    """``gym.make(env_id)`` with MineRL's envs registered (imports minerl)."""
    try:
        gym_old = importlib.import_module("gym")
        importlib.import_module("minerl")
    except ImportError as exc:
        raise MineRLNotInstalledError(
            f"environment '{env_id}' needs the 'minerl' package, which is not importable ({exc}). {INSTALL_HINT}"
        ) from exc
    return gym_old.make(env_id)


def _make_remote(env_id: str, python: str, **kwargs: Any) -> Any:
    """The env served by ``python envs/minerl/server.py env_id`` (see :mod:`craftlab.envs.minerl.remote`)."""
    try:
        return RemoteMineRLEnv(env_id, python, **kwargs)
    except ImportError as exc:
        raise MineRLNotInstalledError(
            f"environment '{env_id}' runs in the interpreter {python} (env.kwargs.python), which cannot "
            f"import MineRL: {type(exc).__name__}: {exc}. {INSTALL_HINT}"
        ) from exc


def _check_python(python: str) -> str:
    """``env.kwargs.python`` -> the interpreter's path; ConfigError if there is none."""
    path = os.path.expanduser(str(python))
    found = shutil.which(path)
    if found is None:
        raise ConfigError(
            f"env.kwargs.python: {python!r} is not an executable Python interpreter "
            "(give the MineRL venv's python, e.g. ~/venv-minerl/bin/python)"
        )
    return found


def _find_time_limit(env: Any) -> int | None:
    """``max_episode_steps`` of the first old-gym TimeLimit in a wrapper chain."""
    node, seen = env, 0
    while node is not None and seen < 32:
        limit = getattr(node, "_max_episode_steps", None)
        if isinstance(limit, int):
            return limit
        node, seen = getattr(node, "env", None), seen + 1
    spec = getattr(env, "spec", None)
    return getattr(spec, "max_episode_steps", None)


class StaleStepError(RuntimeError):
    """A step that finished after its env was replaced (a hang that was given up on)."""


class MineRLEnv(gym.Env):
    """Gymnasium view of an old-gym MineRL env (see module doc).

    Observation: a ``gym.spaces.Dict`` mirroring MineRL's (``pov`` is
    ``uint8[H, W, 3]``; inventory ``int32`` 0-d; compass ``float32`` 0-d; item
    types :class:`~craftlab.envs.minerl.spaces.NamedDiscrete`). Action: a ``Dict`` with
    ``Discrete(2)`` keys, ``camera: float32[2]`` (pitch, yaw degrees) and
    ``NamedDiscrete`` Enums (index into MineRL's sorted values); partial
    dicts are accepted.

    ``launches_minecraft``: the inner env starts Minecraft at its first reset
    (real MineRL), so a failure of that reset raises :class:`MinecraftLaunchError`;
    its full log goes to ``launch_log`` (the server log; None: a new temp file).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        make_inner: Callable[[], Any],
        env_id: str,
        render_mode: str | None = None,
        time_up_is_truncation: bool = True,
        launches_minecraft: bool = False,
        launch_log: str | os.PathLike | None = None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self._make_inner = make_inner
        self.env_id = env_id
        self.render_mode = render_mode
        self.time_up_is_truncation = time_up_is_truncation
        self.launches_minecraft = launches_minecraft
        self.launch_log = launch_log
        self.launched = False
        """True once a reset succeeded: Minecraft can start here, so later failures are crashes"""
        self._inner = make_inner()
        self.observation_space = to_gymnasium_space(self._inner.observation_space)
        self.action_space = to_gymnasium_space(self._inner.action_space)
        self.time_limit = _find_time_limit(self._inner)
        self._elapsed = 0
        self._last_pov: np.ndarray | None = None
        self.restarts = 0

    @property
    def inner(self) -> Any:
        """The wrapped old-gym env (what ``gym.make`` returned)."""
        return self._inner

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        inner = self._inner
        if seed is not None:
            inner.seed(int(seed))
        try:
            result = inner.reset()
        except Exception as exc:
            error = self.launch_error(exc) if inner is self._inner else None
            if error is None:
                raise
            raise error from exc
        if inner is not self._inner:
            raise StaleStepError("reset finished after the env was restarted")
        obs = result[0] if isinstance(result, tuple) else result
        self._elapsed = 0
        self.launched = True
        return self._observation(obs), {}

    def launch_error(self, exc: BaseException, timeout: float | None = None) -> MinecraftLaunchError | None:
        """``exc`` (raised by a reset, or a reset that timed out after ``timeout`` s) as a
        :class:`MinecraftLaunchError` if this env starts Minecraft and no reset has succeeded
        yet, else None (a crash)."""
        if isinstance(exc, MinecraftLaunchError):
            return exc
        if self.launched or not self.launches_minecraft:
            return None
        return launch_error(exc, self.env_id, self.launch_log, timeout)

    def step(self, action: dict[str, Any]):
        inner = self._inner
        result = inner.step(action_to_minerl(action, self.action_space))
        if inner is not self._inner:
            raise StaleStepError("step finished after the env was restarted")
        if len(result) == 5:  # a newer API slipped through: already split
            obs, reward, terminated, truncated, info = result
            done = terminated or truncated
        else:
            obs, reward, done, info = result
            truncated = bool(info.get("TimeLimit.truncated", False))
        self._elapsed += 1
        info = dict(info)
        if "error" in info:
            info["minerl_error"] = str(info.pop("error"))
            done, truncated = True, True
        if (
            done
            and not truncated
            and self.time_up_is_truncation
            and self.time_limit is not None
            and self._elapsed >= self.time_limit
        ):
            truncated = True
        terminated = bool(done) and not truncated
        return self._observation(obs), float(reward), terminated, bool(truncated), info

    def _observation(self, obs: Any) -> Any:
        out = observation_to_gymnasium(obs, self.observation_space)
        pov = out.get("pov") if isinstance(out, dict) else None
        self._last_pov = pov
        return out

    def render(self) -> np.ndarray | None:
        """The last pov (``uint8[H, W, 3]``), as MineRL's ``render('rgb_array')``."""
        if self.render_mode != "rgb_array" or self._last_pov is None:
            return None
        return self._last_pov.copy()

    def restart(self) -> None:
        """Close the inner env (errors ignored) and build a new one; the next
        call must be ``reset``. Used by crash recovery."""
        old, self._inner = self._inner, None
        try:
            old.close()
        except Exception:  # noqa: BLE001 - the env is already broken
            pass
        self._inner = self._make_inner()
        self.restarts += 1

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def make_minerl(
    minerl_id: str = "MineRLTreechop-v0",
    standin: bool = False,
    minerl_version: str = "0.4.4",
    standin_kwargs: dict[str, Any] | None = None,
    render_mode: str | None = None,
    time_up_is_truncation: bool = True,
    crash_recovery: dict[str, Any] | None = None,
    python: str | None = None,
    server_log: str | None = None,
    server_start_timeout: float | None = 600.0,
) -> gym.Env:
    """A MineRL env as a Gymnasium env (craftlab's entry point for MineRL ids).

    Args:
        minerl_id: a MineRL id, e.g. ``MineRLTreechop-v0`` (a ``minerl-standin/``
            prefix is accepted and implies ``standin``). The registry sets it
            from ``env.id``.
        standin: build :class:`~craftlab.envs.minerl.standin.StandInMineRLEnv` instead of
            the real env (no Java/Minecraft; for tests and dry runs).
        minerl_version: which MineRL the stand-in imitates ('0.4.4' or '1.0');
            the real env is whatever is installed.
        standin_kwargs: extra arguments of the stand-in (``max_episode_steps``,
            ``server_max_steps``, fault injection...).
        render_mode: None or ``"rgb_array"`` (the last pov).
        time_up_is_truncation: count ``done`` at exactly the time limit as
            truncation even without ``TimeLimit.truncated`` (see module doc).
        crash_recovery: if given, kwargs of
            :class:`~craftlab.envs.minerl.crash.CrashRecovery` wrapped directly around
            this env (below craftlab's TimeLimit and episode statistics, so a
            crashed episode is still counted).
        python: run the env in this Python interpreter (one that can
            ``import minerl``, e.g. ``~/venv-minerl/bin/python``) over a pipe
            (:mod:`craftlab.envs.minerl.remote`); None: import minerl in this process.
            With ``standin`` the stand-in runs there (tests).
        server_log: with ``python``: append the server's stderr (MineRL's and
            Minecraft's logs) to this file instead of craftlab's stderr.
        server_start_timeout: with ``python``: seconds the server may take to
            import minerl and build the env (None: no limit).
    """
    env_id = minerl_id
    if env_id.startswith(STANDIN_PREFIX):
        env_id, standin = env_id[len(STANDIN_PREFIX) :], True
    if standin_kwargs and not standin:
        raise ConfigError("env.kwargs.standin_kwargs is only used with standin: true")
    if python is None and server_log is not None:
        raise ConfigError("env.kwargs.server_log is only used with env.kwargs.python")
    make_inner: Callable[[], Any]
    if python is not None:
        interpreter = _check_python(python)
        remote: dict[str, Any] = {"log_path": server_log, "start_timeout": server_start_timeout}
        if standin:
            try:
                json.dumps(standin_kwargs or {})
            except TypeError as exc:
                raise ConfigError(f"env.kwargs.standin_kwargs must be plain values with python: ({exc})") from exc
            remote.update(standin=True, standin_version=minerl_version, standin_kwargs=dict(standin_kwargs or {}))
        make_inner = lambda: _make_remote(env_id, interpreter, **remote)  # noqa: E731
    elif standin:
        kwargs = dict(standin_kwargs or {})
        make_inner = lambda: make_standin(env_id, minerl_version, **kwargs)  # noqa: E731
    else:
        make_inner = lambda: _make_real(env_id)  # noqa: E731
    env: gym.Env = MineRLEnv(
        make_inner,
        env_id,
        render_mode=render_mode,
        time_up_is_truncation=time_up_is_truncation,
        launches_minecraft=not standin,
        launch_log=server_log,
    )
    if crash_recovery is not None:
        env = CrashRecovery(env, **crash_recovery)
    return env
