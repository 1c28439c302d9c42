"""Crash and hang recovery for environments that run a separate game process.

Minecraft crashes, loses its socket (``socket.timeout``, "Connection timed
out!") or hangs in ``reset``. :class:`CrashRecovery` makes one such failure
cost one episode, never the training run:

* a ``step`` that raises, returns ``info["minerl_error"]``, or takes longer
  than ``step_timeout`` seconds ends the episode: the wrapper returns the last
  good observation, reward 0, ``terminated=False, truncated=True`` and
  ``info["crash"] = "<reason>"``;
* the next ``reset`` restarts the env (``env.unwrapped.restart()`` when it has
  one, as :class:`craftlab.envs.minerl.adapter.MineRLEnv` does, else ``env_fn()``),
  retrying a failing or hanging restart/reset up to ``max_retries`` times with
  exponential backoff, then raising ``RuntimeError`` (a game that cannot start
  at all is not something to loop on forever);
* a set-up problem is raised at once, never retried: a
  :class:`~craftlab.core.config.ConfigError`, or a failure that
  ``env.unwrapped.launch_error(exc, timeout)`` calls one (MineRLEnv of a real
  MineRL env: any failure, or timeout, of the *first* reset, i.e. Minecraft could
  not start at all; it returns a :class:`~craftlab.envs.minerl.launch.MinecraftLaunchError`);
* ``info["crash_restarts"]`` (every step and reset) counts the restarts so far,
  for TensorBoard.

Timeouts run the call in a daemon worker thread; a call that hangs is
abandoned (the restart closes its env, which ends the hung call for a real
MineRL process) and a fresh worker takes over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

import gymnasium as gym

from craftlab.core.config import ConfigError

log = logging.getLogger(__name__)


class CallTimeout(TimeoutError):
    """A call did not return within its timeout."""


class _Box:
    __slots__ = ("result", "error", "done")

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class _Worker:
    """One daemon thread that runs calls handed to it, one at a time."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="crash-recovery-worker")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, box = item
            try:
                box.result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box.error = exc
            box.done.set()

    def call(self, fn: Callable[[], Any], timeout: float) -> Any:
        box = _Box()
        self._queue.put((fn, box))
        if not box.done.wait(timeout):
            raise CallTimeout(f"no answer within {timeout:g} s")
        if box.error is not None:
            raise box.error
        return box.result

    def abandon(self) -> None:
        """Let the (possibly hung) thread exit after its current call."""
        self._queue.put(None)


class CrashRecovery(gym.Wrapper):
    """Restart a crashed or hung env; end the episode as truncated (see module doc).

    Args:
        env: the environment to protect.
        step_timeout: seconds a ``step`` may take; None: no limit (exceptions only).
        reset_timeout: seconds a restart or ``reset`` may take; None: no limit.
        max_retries: restarts tried in a row by one ``reset`` before giving up.
        backoff: seconds to wait before the first retry; doubled (``backoff_factor``)
            each further retry, capped at ``max_backoff``.
        backoff_factor: growth of the wait between retries.
        max_backoff: longest wait between retries, seconds.
        env_fn: builds a replacement env when ``env.unwrapped`` has no ``restart()``.
    """

    def __init__(
        self,
        env: gym.Env,
        step_timeout: float | None = 120.0,
        reset_timeout: float | None = 600.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        backoff_factor: float = 2.0,
        max_backoff: float = 60.0,
        env_fn: Callable[[], gym.Env] | None = None,
    ):
        super().__init__(env)
        self.step_timeout, self.reset_timeout = step_timeout, reset_timeout
        self.max_retries, self.backoff = int(max_retries), float(backoff)
        self.backoff_factor, self.max_backoff = float(backoff_factor), float(max_backoff)
        self.env_fn = env_fn
        self.crash_restarts = 0
        """restarts so far (also ``info["crash_restarts"]``)"""
        self.crashes: list[str] = []
        """the reason of each crash, in order"""
        self._needs_restart = False
        self._last_obs: Any = None
        self._worker: _Worker | None = None

    # ------------------------------------------------------------ helpers

    def _call(self, fn: Callable[[], Any], timeout: float | None) -> Any:
        if timeout is None:
            return fn()
        if self._worker is None:
            self._worker = _Worker()
        try:
            return self._worker.call(fn, timeout)
        except CallTimeout:
            self._worker.abandon()
            self._worker = None
            raise

    def _restart(self) -> None:
        target = self.env.unwrapped
        if hasattr(target, "restart"):
            self._call(target.restart, self.reset_timeout)
        elif self.env_fn is not None:
            old = self.env
            self.env = self._call(self.env_fn, self.reset_timeout)
            threading.Thread(target=_close_quietly, args=(old,), daemon=True).start()
        else:
            raise RuntimeError("CrashRecovery: the env has no restart() and no env_fn was given")
        self.crash_restarts += 1

    def _setup_error(self, exc: Exception) -> Exception | None:
        """The error to raise at once instead of retrying (see module doc), or None."""
        if isinstance(exc, ConfigError):
            return exc
        diagnose = getattr(self.env.unwrapped, "launch_error", None)
        if not callable(diagnose):
            return None
        return diagnose(exc, self.reset_timeout if isinstance(exc, CallTimeout) else None)

    # ------------------------------------------------------------ gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        for attempt in range(self.max_retries + 1):
            try:
                if self._needs_restart:
                    self._restart()
                    self._needs_restart = False
                obs, info = self._call(lambda: self.env.reset(seed=seed, options=options), self.reset_timeout)
                break
            except Exception as exc:  # noqa: BLE001 - any failure of the game process
                fatal = self._setup_error(exc)
                if fatal is exc:
                    raise
                if fatal is not None:
                    raise fatal from exc
                reason = _describe(exc, "reset")
                self._needs_restart = True
                if attempt < self.max_retries:
                    delay = min(self.backoff * self.backoff_factor**attempt, self.max_backoff)
                    log.warning(
                        "env reset failed (%s); restart %d/%d in %g s", reason, attempt + 1, self.max_retries, delay
                    )
                    time.sleep(delay)
                else:
                    log.warning("env reset failed (%s); giving up after %d restarts", reason, self.max_retries)
                    raise RuntimeError(
                        f"env could not be restarted after {self.max_retries} retries; the last attempt: {reason}"
                    ) from exc
        self._last_obs = obs
        info = dict(info)
        info["crash_restarts"] = self.crash_restarts
        return obs, info

    def step(self, action: Any):
        if self._needs_restart:
            raise RuntimeError("CrashRecovery: the episode ended in a crash; call reset()")
        try:
            obs, reward, terminated, truncated, info = self._call(lambda: self.env.step(action), self.step_timeout)
            if isinstance(info, dict) and "minerl_error" in info:
                raise ConnectionError(str(info["minerl_error"]))
        except Exception as exc:  # noqa: BLE001
            reason = _describe(exc, "step")
            self.crashes.append(reason)
            log.warning("env crashed (%s); ending the episode as truncated, restart at reset", reason)
            self._needs_restart = True
            info = {"crash": reason, "crash_restarts": self.crash_restarts}
            return self._last_obs, 0.0, False, True, info
        self._last_obs = obs
        info = dict(info)
        info["crash_restarts"] = self.crash_restarts
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        if self._worker is not None:
            self._worker.abandon()
            self._worker = None
        super().close()


def _describe(exc: BaseException, where: str) -> str:
    """One short line: what failed and how (a long, multi-line message keeps its first and last lines)."""
    if isinstance(exc, CallTimeout):
        return f"{where} timed out: {exc}"
    return f"{where} raised {type(exc).__name__}: {_brief(str(exc))}"


def _brief(text: str, limit: int = 400) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        text = f"{lines[0]} [... {len(lines) - 2} more lines ...] {lines[-1]}" if len(lines) > 2 else " ".join(lines)
    elif lines:
        text = lines[0]
    if len(text) > limit:
        text = f"{text[: limit // 2]} [...] {text[-limit // 2 :]}"
    return text


def _close_quietly(env: gym.Env) -> None:
    try:
        env.close()
    except Exception:  # noqa: BLE001
        pass
