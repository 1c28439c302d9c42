"""A MineRL env running in another Python interpreter, driven over a pipe.

MineRL 0.4.4 wants Python 3.7-3.9, gym 0.19 and numpy < 1.24; MineRL 1.0
wants gym 0.23.1; craftlab wants Python >= 3.10, gymnasium 1.x and a modern
numpy. :class:`RemoteMineRLEnv` lets each live in its own venv: it starts
``<python> envs/minerl/server.py <env id>`` (the server imports only the
standard library, numpy, gym and minerl) and speaks the *old* gym API to
:class:`craftlab.envs.minerl.adapter.MineRLEnv` exactly like a local ``gym.make`` env:
``seed``, ``reset() -> obs``, ``step(a) -> (obs, reward, done, info)``,
``render``, ``close``, MineRL-style ``observation_space``/``action_space``
(rebuilt from the server's description with :mod:`craftlab.envs.minerl.minerl_spaces`)
and ``_max_episode_steps`` (so the adapter finds gym's time limit).

The wire format is described in envs/minerl/server.py: length-prefixed
pickles of plain values only (arrays as ``(dtype, shape, bytes)``), unpickled
on both ends with classes refused, so numpy 1.x and 2.x never exchange
objects.

Failures are ordinary exceptions, so :class:`craftlab.envs.minerl.crash.CrashRecovery`
handles them: an exception in the server is re-raised here as the same
builtin type when there is one (``ConnectionError``, ``TimeoutError``,
``ValueError``, ...; ``socket.timeout`` becomes ``TimeoutError``) or as
:class:`RemoteEnvError` (a ``RuntimeError``); a server that died raises
:class:`ServerDiedError` (a ``ConnectionError``).

Processes: the server runs in its own process group (POSIX). MineRL 0.4.4
starts Minecraft in a session of its own, which a group kill does not reach,
so the processes are followed by parenthood instead: the server and this
client both record the server's descendants (at start and after every
``reset``; ``/proc`` on Linux, ``ps`` elsewhere). :meth:`RemoteMineRLEnv.close`
asks the server to close the env (the server then kills what is left of its
descendants and exits), kills the server's process group, then kills every
recorded process still running -- which also catches Minecraft when the
server itself died and left it orphaned.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import select
import signal
import subprocess
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import numpy as np

from craftlab.envs.minerl.minerl_spaces import Box, Dict, Discrete, Enum, MineRLSpace
from craftlab.envs.minerl.server import descendants, kill_processes

SERVER_PATH = Path(__file__).with_name("server.py")
"""the script the MineRL interpreter runs"""

PROTOCOL_VERSION = 1
PICKLE_PROTOCOL = 4  # the newest that Python 3.7 reads
MAGIC = b"CLMR"
"""starts every message (so stray output on the server's stdout is caught, not misread)"""
CLOSE_TIMEOUT = 10.0
"""seconds a graceful ``close`` may take before the process group is killed"""


class RemoteEnvError(RuntimeError):
    """An exception raised in the MineRL server with no builtin counterpart here.

    ``remote_type`` is its class name, ``remote_traceback`` the server's traceback.
    """

    def __init__(self, message: str, remote_type: str = "", remote_traceback: str = ""):
        super().__init__(message)
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback


class ServerDiedError(ConnectionError):
    """The MineRL server process exited, or its pipe broke, mid-conversation."""


_BUILTIN_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        ConnectionError,
        ConnectionResetError,
        ConnectionRefusedError,
        ConnectionAbortedError,
        BrokenPipeError,
        TimeoutError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        NotImplementedError,
        AssertionError,
        ImportError,
        ModuleNotFoundError,
        EOFError,
        OSError,
        MemoryError,
    )
}
_BUILTIN_ERRORS["timeout"] = TimeoutError  # socket.timeout before Python 3.10


def remote_exception(type_name: str, message: str, tb: str = "", where: str = "") -> Exception:
    """The local exception for one the server reported (see module doc). Its message
    names the server's type only when the local type is another."""
    cls = _BUILTIN_ERRORS.get(type_name)
    named = cls is None or cls.__name__ != type_name
    text = f"{type_name + ': ' if named else ''}{message} (raised in the MineRL server{where})"
    exc: Exception = RemoteEnvError(text, type_name, tb) if cls is None else cls(text)
    exc.remote_traceback = tb  # type: ignore[attr-defined]
    return exc


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain values only (no classes, so no numpy objects)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"only plain values may cross the pipe, got {module}.{name}")


def to_plain(value: Any) -> Any:
    """An action -> plain Python values (arrays -> lists, numpy scalars -> Python scalars)."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to the MineRL server: {value!r}")


def decode(value: Any) -> Any:
    """Server values -> observation values: ``(dtype, shape, bytes)`` -> array, dict -> OrderedDict."""
    if isinstance(value, tuple):
        dtype, shape, data = value
        return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(tuple(shape)).copy()
    if isinstance(value, dict):
        return OrderedDict((k, decode(v)) for k, v in value.items())
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def build_space(desc: dict[str, Any]) -> MineRLSpace:
    """A MineRL-style space from the server's description of it."""
    kind = desc["type"]
    if kind == "dict":
        return Dict([(key, build_space(sub)) for key, sub in desc["spaces"]])
    if kind == "enum":
        return Enum(*desc["values"], default=desc["default"])
    if kind == "box":
        low, high = decode(desc["low"]), decode(desc["high"])
        box = Box(0, 0, tuple(desc["shape"]), np.dtype(desc["dtype"]))
        box.low, box.high = low.reshape(box.shape), high.reshape(box.shape)
        return box
    if kind == "discrete":
        return Discrete(desc["n"])
    raise ValueError(f"unknown space type {kind!r} from the MineRL server")


def _kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL if hasattr(signal, "SIGKILL") else 9) -> None:
    """Signal the server's process group (POSIX) or the server (elsewhere)."""
    if os.name == "posix":
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    elif proc.poll() is None:
        proc.kill()


def _kill_all(proc: subprocess.Popen, children: dict[int, str]) -> None:
    """Kill the server's process group, then every recorded descendant still running."""
    _kill_group(proc)
    kill_processes(children)


class RemoteMineRLEnv:
    """An old-gym MineRL env served by ``server.py`` in another interpreter (see module doc).

    Args:
        env_id: the MineRL id, e.g. ``MineRLTreechop-v0``.
        python: the MineRL interpreter (a path such as ``~/venv-minerl/bin/python``,
            or a command on ``PATH``).
        standin: serve craftlab's stand-in instead of ``minerl`` (tests; needs
            this checkout's ``envs/minerl`` and numpy in that interpreter).
        standin_version: which MineRL the stand-in imitates ('0.4.4' or '1.0').
        standin_kwargs: JSON-able arguments of the stand-in.
        start_timeout: seconds to wait for the server's hello (``import minerl``
            and ``gym.make``); None waits forever.
        log_path: file the server's stderr (and Minecraft's output) is appended
            to; None: craftlab's own stderr.
        server_path: the server script (default: the one beside this module).
    """

    metadata = {"render.modes": ["rgb_array", "human"]}
    reward_range = (-float("inf"), float("inf"))

    def __init__(
        self,
        env_id: str,
        python: str,
        *,
        standin: bool = False,
        standin_version: str = "0.4.4",
        standin_kwargs: dict[str, Any] | None = None,
        start_timeout: float | None = 600.0,
        log_path: str | os.PathLike | None = None,
        server_path: str | os.PathLike = SERVER_PATH,
    ):
        self.env_id = env_id
        self.python = os.path.expanduser(str(python))
        command = [self.python, str(server_path), env_id]
        if standin:
            command += [
                "--standin",
                "--standin-version",
                str(standin_version),
                "--standin-kwargs",
                json.dumps(standin_kwargs or {}),
            ]
        self.command = command
        self._lock = threading.Lock()
        self._closed = False
        self._children: dict[int, str] = {}
        """pid -> start time of every descendant of the server seen so far (Minecraft's Java included)"""
        log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - handed to Popen
        try:
            popen: dict[str, Any] = (
                {"start_new_session": True}
                if os.name == "posix"
                else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
            )
            self._proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0, close_fds=True, **popen
            )
        finally:
            if log is not None:
                log.close()
        self._finalizer = weakref.finalize(self, _kill_all, self._proc, self._children)
        try:
            hello = self._reply(self._receive(start_timeout), " while starting")
        except BaseException:
            self._abort()
            raise
        self._record_children()
        if hello.get("protocol") != PROTOCOL_VERSION:
            self._abort()
            raise RuntimeError(
                f"MineRL server protocol {hello.get('protocol')} != {PROTOCOL_VERSION}: "
                f"{server_path} and {__file__} come from different craftlab versions"
            )
        self.hello: dict[str, Any] = hello
        """what the server said on start: spaces, ``versions`` (python, numpy, gym, minerl), pid"""
        self.observation_space = build_space(hello["observation_space"])
        self.action_space = build_space(hello["action_space"])
        self._max_episode_steps: int | None = hello["max_episode_steps"]

    # ------------------------------------------------------------ old gym API

    @property
    def pid(self) -> int:
        """The server's process id (also its process group id on POSIX)."""
        return self._proc.pid

    @property
    def unwrapped(self) -> RemoteMineRLEnv:
        return self

    def seed(self, seed: int | None = None) -> Any:
        """Seed the next ``reset`` (MineRL's order: ``seed`` then ``reset``)."""
        return decode(self._request("seed", None if seed is None else int(seed)))

    def reset(self) -> OrderedDict:
        try:
            return decode(self._request("reset"))
        finally:
            self._record_children()  # MineRL launches Minecraft in reset

    def step(self, action: dict[str, Any]) -> tuple[OrderedDict, float, bool, dict[str, Any]]:
        obs, reward, done, info = self._request("step", to_plain(action))
        return decode(obs), float(reward), bool(done), dict(decode(info))

    def render(self, mode: str = "human") -> Any:
        return decode(self._request("render", mode))

    def noop_action(self) -> OrderedDict:
        return self.action_space.no_op()

    def close(self) -> None:
        """Ask the server to close the env, then kill its process group and every
        process it started that is still running (Minecraft's Java processes; see module doc)."""
        if self._closed:
            return
        self._closed = True
        idle = self._lock.acquire(blocking=False)  # busy: a hung call in another thread
        try:
            self._record_children()  # while they are still the server's: once it is gone they are orphans
            if idle and self._proc.poll() is None:
                try:
                    self._send(["close"])
                    self._receive(CLOSE_TIMEOUT)
                    self._proc.wait(timeout=CLOSE_TIMEOUT)
                except Exception:  # noqa: BLE001 - it is being killed anyway
                    pass
            if self._proc.poll() is None:
                _kill_group(self._proc, signal.SIGTERM)
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            _kill_all(self._proc, self._children)  # whatever is left: the group, Minecraft's Java processes
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
                pass
            self._finalizer.detach()
            self._proc.stdin.close()
            if idle:
                self._proc.stdout.close()
        finally:
            if idle:
                self._lock.release()

    def _abort(self) -> None:
        """Kill a server that failed to start, and reap it."""
        self._closed = True
        self._finalizer()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
            pass
        self._proc.stdin.close()
        self._proc.stdout.close()

    def _record_children(self) -> None:
        """Remember the server's descendants (see module doc)."""
        if self._proc.poll() is None:
            self._children.update(descendants([self._proc.pid]))

    def __repr__(self) -> str:
        return f"RemoteMineRLEnv({self.env_id!r}, python={self.python!r}, pid={self.pid})"

    # ------------------------------------------------------------ the pipe

    def _request(self, command: str, *args: Any) -> Any:
        with self._lock:
            if self._closed:
                raise ServerDiedError("the MineRL server was closed")
            self._send([command, *args])
            return self._reply(self._receive(None), f", pid {self.pid}, during {command}")

    def _reply(self, message: Any, where: str) -> Any:
        if message[0] == "ok":
            return message[1]
        _, type_name, text, tb = message
        raise remote_exception(type_name, text, tb, where)

    def _send(self, message: Any) -> None:
        body = pickle.dumps(message, protocol=PICKLE_PROTOCOL)
        data = memoryview(MAGIC + len(body).to_bytes(4, "big") + body)
        try:
            while data:
                data = data[self._proc.stdin.write(data) :]
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise self._died(f"writing failed ({type(exc).__name__})") from exc

    def _receive(self, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        header = self._read(8, deadline)
        if header[:4] != MAGIC:
            self._finalizer()  # the stream is out of step: this server is unusable
            raise ServerDiedError(
                f"the MineRL server (pid {self.pid}) wrote {header + self._peek()!r}... to its "
                "protocol pipe (something in it printed to the real stdout)"
            )
        size = int.from_bytes(header[4:], "big")
        return _PlainUnpickler(io.BytesIO(self._read(size, deadline))).load()

    def _read(self, n: int, deadline: float | None) -> bytes:
        stream: IO[bytes] = self._proc.stdout  # type: ignore[assignment]
        chunks, left = [], n
        while left:
            if deadline is not None and os.name == "posix":
                ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise TimeoutError(f"the MineRL server ({' '.join(self.command)}) did not answer in time")
            try:
                chunk = stream.read(min(left, 1 << 20))
            except (ValueError, OSError) as exc:
                raise self._died(f"reading failed ({type(exc).__name__})") from exc
            if not chunk:
                raise self._died("its pipe closed")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _peek(self) -> bytes:
        """Up to 60 more bytes the server wrote, if they are there already (for error messages)."""
        stream: IO[bytes] = self._proc.stdout  # type: ignore[assignment]
        if os.name == "posix" and not select.select([stream], [], [], 0.1)[0]:
            return b""
        try:
            return stream.read(60) or b""
        except (ValueError, OSError):
            return b""

    def _died(self, how: str) -> ServerDiedError:
        try:
            code = self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            code = None
        status = "still running" if code is None else (f"killed by signal {-code}" if code < 0 else f"exit code {code}")
        return ServerDiedError(f"the MineRL server (pid {self.pid}, {' '.join(self.command)}) is gone: {how}; {status}")
