"""Serve one MineRL env to craftlab over a pipe (the other half is envs/minerl/remote.py).

This file runs in the *MineRL* interpreter (any Python >= 3.7 that can
``import minerl``: e.g. a Python 3.9 venv with minerl 0.4.4 and gym 0.19, or
one with MineRL 1.0 and gym 0.23.1). It imports only the standard library,
numpy, gym and minerl -- never craftlab, gymnasium or torch -- and is written
in Python 3.7 syntax::

    /path/to/venv-minerl/bin/python server.py MineRLTreechop-v0

Protocol (stdin/stdout of this process, one request at a time):

* Every message is the 4 bytes ``CLMR``, a 4-byte big-endian length, then a
  pickle (protocol 4) of *plain* values only: dict, list, str, bytes, int,
  float, bool, None and tuples. Both ends unpickle with ``find_class`` disabled, so no numpy (or
  any other) object crosses the pipe and the two numpy versions never meet.
* A numpy array travels as the tuple ``(dtype.str, shape, raw bytes)``; a
  tuple always means an array. Dicts keep their key order.
* On start the server sends ``["ok", hello]`` (``hello``: protocol version,
  spaces, ``max_episode_steps``, versions, pid) or ``["err", ...]`` if
  ``import minerl`` / ``gym.make`` failed.
* Requests are lists ``[command, *args]``: ``["spaces"]``, ``["seed", s]``,
  ``["reset"]``, ``["step", action]`` (action: a dict of ints, floats, strs
  and lists), ``["render", mode]``, ``["close"]``. Replies are
  ``["ok", result]`` or ``["err", type name, message, traceback]``.
* End of stdin (craftlab exited or killed) closes the env and exits.
* Closing (``["close"]`` or end of stdin) closes the env, then kills every
  process this server started that is still running: its descendants, found
  through ``/proc`` (``ps`` elsewhere) at start, after every reset and at close.
  MineRL 0.4.4 starts Minecraft in a session of its own (``setsid``), out of
  reach of a kill of the server's process group; this reaches it.

The real fd 1 is kept for the protocol; fd 1 itself is then pointed at
stderr, so ``print`` in minerl and the Java processes' output cannot corrupt
the pipe (they log to stderr instead), and fd 0 is pointed at /dev/null.

Test mode (craftlab's own tests only): ``--standin`` serves craftlab's
stand-in env (envs/minerl/standin.py, loaded by file path: numpy only)
instead of ``minerl``; ``--standin-version`` and ``--standin-kwargs JSON``
pass its arguments.
"""

import argparse
import io
import json
import os
import pickle
import struct
import sys
import traceback
import types
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

# sys.path[0] is this script's folder (craftlab's envs/minerl): drop it, so its
# modules (spaces.py, actions.py, ...) cannot shadow anything minerl imports.
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import numpy as np  # noqa: E402

PROTOCOL_VERSION = 1
PICKLE_PROTOCOL = 4
MAGIC = b"CLMR"
HEADER = struct.Struct(">4sI")


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain values only: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("only plain values may cross the pipe, got %s.%s" % (module, name))


def send(stream: BinaryIO, message: Any) -> None:
    """Write one length-prefixed pickle of plain values."""
    body = pickle.dumps(message, protocol=PICKLE_PROTOCOL)
    stream.write(HEADER.pack(MAGIC, len(body)) + body)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    """Read one message; EOFError when the other side has gone."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError("the client closed the pipe")
    magic, size = HEADER.unpack(header)
    if magic != MAGIC:
        raise EOFError("not a craftlab client: %r" % (header,))
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("the client closed the pipe mid-message")
    return PlainUnpickler(io.BytesIO(body)).load()


def encode(value: Any) -> Any:
    """Any observation/info value -> plain values (arrays become tuples)."""
    if isinstance(value, (np.str_, np.bytes_)):
        return value.item()
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return [encode(v) for v in array.ravel().tolist()]
        return (array.dtype.str, list(array.shape), array.tobytes(order="C"))
    if isinstance(value, dict):
        return dict((k if isinstance(k, (str, int)) else str(k), encode(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    return repr(value)  # an odd object in info: its text is enough


def describe_space(space: Any) -> Dict[str, Any]:
    """A (MineRL or gym) space as plain values, precise enough to rebuild it."""
    spaces = getattr(space, "spaces", None)
    if isinstance(spaces, dict):
        return {"type": "dict", "spaces": [[key, describe_space(sub)] for key, sub in spaces.items()]}
    values = getattr(space, "values", None)
    if values is not None and not callable(values) and hasattr(space, "n"):
        default = getattr(space, "default", None)
        return {"type": "enum", "values": [str(v) for v in np.asarray(values).tolist()],
                "default": None if default is None else str(default)}
    if hasattr(space, "low") and hasattr(space, "high"):
        dtype = np.dtype(space.dtype)
        return {"type": "box", "dtype": dtype.str, "shape": [int(n) for n in space.shape],
                "low": encode(np.asarray(space.low, dtype)), "high": encode(np.asarray(space.high, dtype))}
    if hasattr(space, "n"):
        return {"type": "discrete", "n": int(space.n)}
    raise TypeError("cannot describe the space %r" % (space,))


def decode_action(action: Any, space: Any) -> Any:
    """Plain action values -> what MineRL expects: Box keys as arrays of the space's dtype."""
    spaces = getattr(space, "spaces", None)
    if isinstance(action, dict) and isinstance(spaces, dict):
        return dict((k, decode_action(v, spaces[k]) if k in spaces else v) for k, v in action.items())
    if hasattr(space, "low") and hasattr(space, "high") and not isinstance(action, str):
        return np.asarray(action, dtype=space.dtype).reshape(space.shape)
    return action


def find_time_limit(env: Any) -> Optional[int]:
    """``max_episode_steps`` of gym's TimeLimit in the wrapper chain (None: no limit)."""
    node = env
    for _ in range(32):
        if node is None:
            break
        limit = getattr(node, "_max_episode_steps", None)
        if isinstance(limit, int):
            return limit
        node = getattr(node, "env", None)
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    return limit if isinstance(limit, int) else None


def package_version(name: str, module: Any = None) -> str:
    """The installed version of a distribution: its metadata (minerl 0.4.4 has no
    ``__version__``), else ``pkg_resources`` (Python 3.7), else ``module.__version__``, else '?'."""
    try:
        from importlib.metadata import version  # Python >= 3.8
        return str(version(name))
    except Exception:  # noqa: BLE001 - ImportError (3.7) or PackageNotFoundError: fall back
        pass
    try:
        import pkg_resources  # Python 3.7 (setuptools)
        return str(pkg_resources.get_distribution(name).version)
    except Exception:  # noqa: BLE001 - not there, or not installed as a distribution
        pass
    return str(getattr(module, "__version__", "?"))


def make_env(args: argparse.Namespace) -> Tuple[Any, Dict[str, str]]:
    """The env to serve and the versions to report."""
    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    if args.standin:
        return _make_standin(args), dict(versions, minerl="stand-in")
    import gym
    import minerl  # noqa: F401 - registers the MineRL ids with gym
    versions.update(gym=package_version("gym", gym), minerl=package_version("minerl", minerl))
    return gym.make(args.env_id), versions


def process_table() -> Dict[int, Tuple[int, str]]:
    """pid -> (parent pid, start time) of every running process (not zombies);
    read from ``/proc`` on Linux, from ``ps`` elsewhere, empty if neither works."""
    table = {}  # type: Dict[int, Tuple[int, str]]
    if os.path.isdir("/proc/self/task"):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read().decode("ascii", "replace")
            except OSError:  # gone meanwhile
                continue
            fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces
            if len(fields) > 19 and fields[0] != "Z":
                table[int(name)] = (int(fields[1]), fields[19])  # ppid, starttime (fields 4 and 22)
        return table
    import subprocess
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat=", "-o", "lstart="],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return table
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit() and not parts[2].startswith("Z"):
            table[int(parts[0])] = (int(parts[1]), parts[3].strip())
    return table


def descendants(roots: List[int], table: Optional[Dict[int, Tuple[int, str]]] = None) -> Dict[int, str]:
    """pid -> start time of every descendant (children, their children, ...) of the ``roots``."""
    table = process_table() if table is None else table
    children = {}  # type: Dict[int, List[int]]
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = {}  # type: Dict[int, str]
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found[child] = table[child][1]
                stack.append(child)
    return found


def kill_processes(known: Dict[int, str]) -> List[int]:
    """SIGKILL every process of ``known`` (pid -> start time) that still runs (the same
    process: same start time, so a reused pid is spared), and its descendants; the pids hit."""
    import signal
    table = process_table()
    alive = dict((pid, start) for pid, start in known.items() if table.get(pid, (0, None))[1] == start)
    alive.update(descendants(list(alive), table))
    alive.pop(os.getpid(), None)
    for pid in alive:
        try:
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except OSError:  # gone meanwhile, or not ours
            pass
    return sorted(alive)


def _make_standin(args: argparse.Namespace) -> Any:
    """craftlab's stand-in env, loaded from this checkout without craftlab's package imports."""
    minerl_dir = os.path.dirname(os.path.abspath(__file__))
    envs_dir = os.path.dirname(minerl_dir)
    package_dir = os.path.dirname(envs_dir)
    for name, path in (("craftlab", package_dir), ("craftlab.envs", envs_dir), ("craftlab.envs.minerl", minerl_dir)):
        if name not in sys.modules:  # bare packages: skip the __init__.py files (gymnasium, torch)
            package = types.ModuleType(name)
            package.__path__ = [path]  # type: ignore[attr-defined]
            sys.modules[name] = package
    standin = __import__("craftlab.envs.minerl.standin", fromlist=["make_standin"])
    return standin.make_standin(args.env_id, args.standin_version, **json.loads(args.standin_kwargs))


class Server(object):
    """Runs the requests of one client against one env."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.closed = False
        self.children = {}  # type: Dict[int, str]
        """pid -> start time of every process this server started (recorded at start and reset)"""
        self.record_children()

    def record_children(self) -> None:
        """Remember this server's descendants (Minecraft's Java processes once a reset launched it)."""
        self.children.update(descendants([os.getpid()]))

    def handle(self, request: List[Any]) -> Any:
        """Run one request; its result as plain values."""
        command, args = request[0], request[1:]
        handler = getattr(self, "do_" + str(command), None)
        if handler is None:
            raise ValueError("unknown request %r" % (command,))
        return handler(*args)

    def do_spaces(self) -> Dict[str, Any]:
        return {"observation_space": describe_space(self.env.observation_space),
                "action_space": describe_space(self.env.action_space),
                "max_episode_steps": find_time_limit(self.env)}

    def do_seed(self, seed: Optional[int]) -> Any:
        return encode(self.env.seed(seed))

    def do_reset(self) -> Any:
        try:
            return encode(self.env.reset())
        finally:
            self.record_children()

    def do_step(self, action: Dict[str, Any]) -> List[Any]:
        obs, reward, done, info = self.env.step(decode_action(action, self.env.action_space))
        return [encode(obs), float(reward), bool(done), encode(dict(info))]

    def do_render(self, mode: str) -> Any:
        return encode(self.env.render(mode))

    def do_close(self) -> None:
        """Close the env, then kill what is left of the processes this server started."""
        self.closed = True
        self.record_children()
        try:
            self.env.close()
        finally:
            kill_processes(self.children)


def error_reply(exc: BaseException) -> List[Any]:
    """``["err", type name, message, traceback]`` for an exception."""
    return ["err", type(exc).__name__, str(exc), traceback.format_exc()]


def claim_stdio() -> Tuple[BinaryIO, BinaryIO]:
    """Keep stdin/stdout for the protocol; point fd 0 at /dev/null and fd 1 at stderr."""
    read_fd, write_fd = os.dup(0), os.dup(1)  # not inherited by Java (PEP 446)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout.flush()
    os.dup2(2, 1)
    return os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one MineRL env to craftlab over stdin/stdout.")
    parser.add_argument("env_id", help="a MineRL id, e.g. MineRLTreechop-v0")
    parser.add_argument("--standin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--standin-version", default="0.4.4", help=argparse.SUPPRESS)
    parser.add_argument("--standin-kwargs", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    reader, writer = claim_stdio()
    try:
        env, versions = make_env(args)
        server = Server(env)
        hello = dict(server.do_spaces(), protocol=PROTOCOL_VERSION, env_id=args.env_id,
                     versions=versions, pid=os.getpid())
    except Exception as exc:  # noqa: BLE001 - reported to the client
        send(writer, error_reply(exc))
        kill_processes(descendants([os.getpid()]))
        return 1
    send(writer, ["ok", hello])
    while not server.closed:
        try:
            request = receive(reader)
        except EOFError:
            break
        except Exception as exc:  # noqa: BLE001 - a bad (but complete) message
            send(writer, error_reply(exc))
            continue
        try:
            reply = ["ok", server.handle(request)]
        except Exception as exc:  # noqa: BLE001 - reported to the client
            reply = error_reply(exc)
        send(writer, reply)
    if not server.closed:
        server.do_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
