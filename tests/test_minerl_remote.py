"""MineRL in its own interpreter: envs/minerl/server.py driven by envs/minerl/remote.py.

Everything goes through a real subprocess. The server serves the stand-in
(``--standin``) or, for the real code path (``import gym, minerl``;
``gym.make``), tiny fake ``gym``/``minerl`` packages put on its PYTHONPATH.
Set CRAFTLAB_MINERL_TEST_PYTHON to another interpreter (e.g. a Python 3.7
venv with numpy<1.24 and gym 0.19) to also run the server there.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from craftlab.commands.cli import main
from craftlab.core.config import ConfigError
from craftlab.envs.minerl.adapter import MineRLNotInstalledError, make_minerl
from craftlab.envs.minerl.remote import SERVER_PATH, RemoteEnvError, RemoteMineRLEnv
from craftlab.envs.minerl.spaces import to_gymnasium_space
from craftlab.envs.minerl.specs import spec
from craftlab.envs.minerl.standin import make_standin

ROOT = Path(__file__).resolve().parent.parent
OTHER_PYTHON = os.environ.get("CRAFTLAB_MINERL_TEST_PYTHON")


def _remote_standin(env_id: str, **standin_kwargs) -> RemoteMineRLEnv:
    return RemoteMineRLEnv(env_id, sys.executable, standin=True, standin_kwargs=standin_kwargs, start_timeout=60)


def _running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _alive(pid: int, grace: float = 3.0) -> bool:
    """True if ``pid`` still runs after ``grace`` seconds (a kill takes a moment to land)."""
    deadline = time.monotonic() + grace
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return _running(pid)


def _same(a, b, where: str = "obs") -> None:
    """Equal values *and* types/dtypes (the remote must not cast anything)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# ------------------------------------------------------------------ the server file


def test_server_is_python_37_and_imports_no_craftlab():
    source = SERVER_PATH.read_text()
    tree = ast.parse(source, feature_version=(3, 7))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            pytest.fail("server.py must not rely on __future__ imports")
        annotations = [getattr(node, "returns", None)] + [
            a.annotation for a in getattr(getattr(node, "args", None), "args", [])
        ]
        for ann in filter(None, annotations):  # evaluated at def time on 3.7: no `X | Y`, no `list[int]`
            for sub in ast.walk(ann):
                assert not (isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitOr)), ast.dump(ann)
                assert not (
                    isinstance(sub, ast.Subscript)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id in ("list", "dict", "tuple", "set", "type")
                ), ast.dump(ann)
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("removeprefix", "removesuffix"), "str methods of Python 3.9"
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add(node.module.split(".")[0])
    assert top_level <= {
        "argparse",
        "io",
        "json",
        "os",
        "pickle",
        "struct",
        "sys",
        "traceback",
        "types",
        "typing",
        "numpy",
    }, top_level
    assert not {"craftlab", "gymnasium", "torch"} & {n.split(".")[0] for n in _all_imports(tree)}


def _all_imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


# ------------------------------------------------------------------ same env, other process


@pytest.mark.parametrize("env_id", ["MineRLTreechop-v0", "MineRLNavigateDense-v0", "MineRLObtainDiamondDense-v0"])
def test_remote_standin_equals_in_process_standin(env_id):
    remote = _remote_standin(env_id, max_episode_steps=120)
    local = make_standin(env_id, max_episode_steps=120)
    assert remote._max_episode_steps == 120
    rng = np.random.default_rng(0)
    local.action_space.seed(0)
    episodes, rewards, done = 0, [], False
    try:
        for step in range(300):
            if step == 0 or done:
                assert remote.seed(100 + episodes) == local.seed(100 + episodes)
                _same(remote.reset(), local.reset(), f"reset {episodes}")
                episodes += 1
            action = local.action_space.sample()  # np.str_, 0-d int64 arrays, float32 camera
            action["attack"], action["back"] = np.array(int(rng.random() < 0.8)), np.array(0)
            action["forward"] = np.array(int(rng.random() < 0.5))
            turn = np.array([0.0, 15.0 if rng.random() < 0.1 else 0.0], np.float32)  # sweep for trees
            action["camera"] = turn + rng.normal(0, 0.5, 2).astype(np.float32)
            obs_r, reward_r, done_r, info_r = remote.step(action)
            obs, reward, done, info = local.step(action)
            _same(obs_r, obs, f"step {step}")
            assert (reward_r, done_r, info_r) == (reward, done, info) and type(reward_r) is float
            rewards.append(reward)
        assert episodes >= 3  # across resets (time limit 120)
        assert np.count_nonzero(rewards) >= 10, "the comparison should include rewards"
        np.testing.assert_array_equal(remote.render(), local.render())
    finally:
        remote.close()


@pytest.mark.parametrize(
    "env_id,version",
    [
        ("MineRLObtainDiamond-v0", "0.4.4"),
        ("MineRLTreechopVectorObf-v0", "0.4.4"),
        ("MineRLBasaltBuildVillageHouse-v0", "0.4.4"),
        ("MineRLBasaltFindCave-v0", "1.0"),
    ],
)
def test_spaces_are_rebuilt_exactly(env_id, version):
    remote = RemoteMineRLEnv(env_id, sys.executable, standin=True, standin_version=version)
    try:
        expected = spec(env_id, version)
        for name in ("observation_space", "action_space"):
            assert to_gymnasium_space(getattr(remote, name)) == to_gymnasium_space(getattr(expected, name)), name
        assert remote.hello["versions"]["minerl"] == "stand-in" and remote.hello["pid"] == remote.pid
    finally:
        remote.close()


def test_adapter_around_remote_matches_local_and_passes_check_env():
    remote = make_minerl(
        "MineRLObtainDiamondDense-v0", standin=True, python=sys.executable, standin_kwargs={"max_episode_steps": 50}
    )
    local = make_minerl("MineRLObtainDiamondDense-v0", standin=True, standin_kwargs={"max_episode_steps": 50})
    assert remote.observation_space == local.observation_space and remote.action_space == local.action_space
    assert remote.time_limit == local.time_limit == 50
    _same(remote.reset(seed=7), local.reset(seed=7))
    remote.action_space.seed(1)
    for step in range(80):
        action = remote.action_space.sample()
        out_r, out = remote.step(action), local.step(action)
        _same(out_r, out, f"step {step}")
        if out[2] or out[3]:
            _same(remote.reset(seed=step), local.reset(seed=step))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the camera Box is [-180, 180] in MineRL itself
        check_env(remote, skip_render_check=True)
    pid = remote.inner.pid
    remote.close()
    assert not _alive(pid)


def test_server_exceptions_come_back_as_exceptions():
    env = _remote_standin("MineRLObtainDiamond-v0", max_episode_steps=2)
    try:
        env.reset()
        with pytest.raises(ValueError, match="Enum action 'place' got 2"):
            env.step({"place": 2})  # an int Enum action: Malmo would ignore it
        env.step({})
        assert env.step({})[2]
        with pytest.raises(RuntimeError, match="environment server with done=True") as err:
            env.step({})
        assert isinstance(err.value, RemoteEnvError) and err.value.remote_type == "StepAfterDoneError"
        assert "standin.py" in err.value.remote_traceback
        with pytest.raises(TypeError, match="cannot send"):
            env.step({"camera": object()})
        env.reset()  # the server survives its errors
    finally:
        env.close()
    crashing = _remote_standin("MineRLTreechop-v0", crash_probability=1.0)
    try:
        crashing.reset()
        with pytest.raises(ConnectionError, match="injected crash"):
            crashing.step({})
    finally:
        crashing.close()


# ------------------------------------------------------------------ crashes, hangs, processes


def test_killed_server_is_a_crash_and_reset_starts_a_new_one():
    env = make_minerl(
        "MineRLTreechop-v0",
        standin=True,
        python=sys.executable,
        crash_recovery={"step_timeout": 10, "reset_timeout": 30, "backoff": 0.0},
    )
    env.reset(seed=0)
    for _ in range(5):
        env.step({"attack": 1})
    old = env.unwrapped.inner
    os.kill(old.pid, signal.SIGKILL)  # Minecraft/the server dies mid-episode
    obs, reward, terminated, truncated, info = env.step({"attack": 1})
    assert truncated and not terminated and reward == 0.0
    assert "ServerDiedError" in info["crash"] and "killed by signal 9" in info["crash"]
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    obs, info = env.reset(seed=1)
    new = env.unwrapped.inner
    assert info["crash_restarts"] == 1 and new is not old and new.pid != old.pid and not _alive(old.pid)
    assert env.observation_space.contains(obs)
    assert "crash" not in env.step({"attack": 1})[4]
    env.close()
    assert not _alive(new.pid)


def test_hung_server_is_timed_out_and_killed():
    env = make_minerl(
        "MineRLTreechop-v0",
        standin=True,
        python=sys.executable,
        standin_kwargs={"hang_probability": 1.0, "hang_seconds": 60.0},
        crash_recovery={"step_timeout": 0.5, "reset_timeout": 30, "backoff": 0.0},
    )
    env.reset(seed=0)
    old = env.unwrapped.inner
    start = time.perf_counter()
    info = env.step({})[4]
    assert "timed out" in info["crash"]
    env.reset(seed=0)  # closes the busy remote: kills its process group
    assert time.perf_counter() - start < 10
    assert not _alive(old.pid) and env.unwrapped.inner.pid != old.pid
    env.close()


def test_bad_interpreter_and_missing_minerl_are_config_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not an executable Python"):
        make_minerl("MineRLTreechop-v0", python=str(tmp_path / "no-python"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # no gym, no minerl in this interpreter
    with pytest.raises(MineRLNotInstalledError, match=r"cannot import MineRL.*ModuleNotFoundError"):
        make_minerl("MineRLTreechop-v0", python=sys.executable)
    with pytest.raises(ConfigError, match="server_log"):
        make_minerl("MineRLTreechop-v0", standin=True, server_log=str(tmp_path / "log"))


def test_server_that_never_starts_is_timed_out(tmp_path, monkeypatch):
    for name, text in (("gym", "import time\n"), ("minerl", "import time; time.sleep(60)\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(text)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="did not answer in time"):
        RemoteMineRLEnv("MineRLTreechop-v0", sys.executable, start_timeout=0.5)
    assert time.perf_counter() - start < 5


# ------------------------------------------------------------------ the real path: import gym, minerl


FAKE_GYM = '''
"""Just enough of old gym for the fake minerl: register/make (with a time limit) and spaces."""
import numpy as np
__version__ = "0.0-fake"
_registry = {}

class Env(object):
    metadata = {}
    reward_range = (-float("inf"), float("inf"))

def register(id, entry_point, max_episode_steps=None, **kwargs):  # kwargs: crafter registers its envs too
    _registry[id] = (entry_point, max_episode_steps)

def make(id):
    entry_point, limit = _registry[id]
    env = entry_point()
    env._max_episode_steps = limit
    return env

class _Spaces(object):
    class Box(object):
        def __init__(self, low, high, shape, dtype):
            self.dtype, self.shape = np.dtype(dtype), tuple(shape)
            self.low, self.high = np.full(shape, low, self.dtype), np.full(shape, high, self.dtype)
    class Discrete(object):
        def __init__(self, n):
            self.n = n
    class Dict(object):
        def __init__(self, spaces):
            self.spaces = dict(sorted(spaces.items()))
spaces = _Spaces()
'''

FAKE_MINERL = '''
"""A fake minerl: a noisy old-gym env that starts a 'Minecraft' child process."""
import os, subprocess, sys
import numpy as np
import gym
print("minerl: pretending to build Minecraft on stdout")  # must not corrupt the pipe
__version__ = "0.0-fake"
S = gym.spaces

class Enum(S.Discrete):
    def __init__(self, *values, **kwargs):
        S.Discrete.__init__(self, len(values))
        self.values = np.array(sorted(values))
        self.default = kwargs.get("default")

class FakeEnv(gym.Env):
    observation_space = S.Dict({
        "pov": S.Box(0, 255, (4, 6, 3), np.uint8),
        "inventory": S.Dict({"dirt": S.Box(0, 2304, (), np.int32)}),
        "compass": S.Dict({"angle": S.Box(-180.0, 180.0, (), np.float32)}),
        "equipped_items": S.Dict({"mainhand": S.Dict({"type": Enum("air", "other", "dirt", default="air")})}),
    })
    action_space = S.Dict({"attack": S.Discrete(2), "camera": S.Box(-180.0, 180.0, (2,), np.float32),
                           "place": Enum("none", "dirt", default="none")})

    def __init__(self):
        self.java = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.environ["FAKE_MINERL_PIDFILE"], "w") as f:
            f.write(str(self.java.pid))
        self.seed_, self.t = 0, 0

    def seed(self, seed=None):
        self.seed_ = seed
        return [seed]

    def _obs(self):
        rng = np.random.RandomState(self.seed_ + self.t)
        return {"pov": rng.randint(0, 256, (4, 6, 3)).astype(np.uint8),
                "inventory": {"dirt": np.array(self.t, dtype=np.int64)},
                "compass": {"angle": np.array(rng.uniform(-180, 180))},
                "equipped_items": {"mainhand": {"type": "dirt" if self.t % 2 else "diamond_sword"}}}

    def reset(self):
        self.t = 0
        return self._obs()

    def step(self, action):
        print("minerl: stepping, noisily")
        camera = action["camera"]
        assert isinstance(camera, np.ndarray) and camera.dtype == np.float32, repr(camera)
        assert isinstance(action["place"], str) and isinstance(action["attack"], int), repr(action)
        self.t += 1
        reward = float(camera.sum()) + action["attack"] + (action["place"] == "dirt")
        info = {"TimeLimit.truncated": False} if self.t >= 5 else {}
        return self._obs(), np.float64(reward), self.t >= 5, info

    def close(self):
        pass  # leaves its 'Minecraft' running, as MineRL sometimes does

gym.register("MineRLFake-v0", entry_point=FakeEnv, max_episode_steps=5)
'''


def _fake_packages(tmp_path: Path, with_gym: bool) -> Path:
    root = tmp_path / "site"
    for name, text in (("gym", FAKE_GYM if with_gym else None), ("minerl", FAKE_MINERL)):
        if text is not None:
            (root / name).mkdir(parents=True)
            (root / name / "__init__.py").write_text(textwrap.dedent(text))
    return root


def _run_fake(python: str, tmp_path: Path, monkeypatch, with_gym: bool) -> None:
    monkeypatch.setenv("PYTHONPATH", str(_fake_packages(tmp_path, with_gym)))
    pidfile = tmp_path / "java.pid"
    monkeypatch.setenv("FAKE_MINERL_PIDFILE", str(pidfile))
    log = tmp_path / "server.log"
    env = make_minerl("MineRLFake-v0", python=python, server_log=str(log))
    java = int(pidfile.read_text())
    assert _running(java) and env.time_limit == 5
    assert env.unwrapped.inner.hello["versions"]["minerl"] == "0.0-fake"
    names = env.observation_space["equipped_items"]["mainhand"]["type"].values
    assert names == ("air", "dirt", "other") and env.action_space["place"].values == ("dirt", "none")
    obs, _ = env.reset(seed=3)
    assert obs["inventory"]["dirt"].dtype == np.int32 and obs["compass"]["angle"].dtype == np.float32
    assert int(obs["equipped_items"]["mainhand"]["type"]) == names.index("other")  # unknown item -> 'other'
    for t in range(1, 6):
        action = {"attack": 1, "camera": np.array([0.5, 0.25], np.float32), "place": 0}
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == 0.75 + 1 + 1 and obs["inventory"]["dirt"] == t
    assert truncated and not terminated  # the time limit, as the adapter reads it
    env.close()
    assert not _alive(java), "closing must kill the server's whole process group"
    assert "pretending to build Minecraft" in log.read_text() and "stepping, noisily" in log.read_text()


def test_real_code_path_with_fake_gym_and_minerl(tmp_path, monkeypatch):
    _run_fake(sys.executable, tmp_path, monkeypatch, with_gym=True)


FAKE_MINERL_SESSION = '''
"""A fake minerl 0.4.4 whose reset starts 'Minecraft' as MineRL 0.4.4 does: a launch script in a
session of its own (setsid) with a Java child. close() leaves them running. No __version__:
like minerl 0.4.4's, the version is only in the package metadata."""
import os, subprocess, sys, time
import numpy as np
import gym
S = gym.spaces
LAUNCH_SCRIPT = ("import os, subprocess, sys, time; "
                 "java = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                 "open(sys.argv[1] + '.tmp', 'w').write('%d %d' % (os.getpid(), java.pid)); "
                 "os.rename(sys.argv[1] + '.tmp', sys.argv[1]); time.sleep(60)")

class FakeEnv(gym.Env):
    observation_space = S.Dict({"pov": S.Box(0, 255, (4, 6, 3), np.uint8)})
    action_space = S.Dict({"attack": S.Discrete(2)})

    def seed(self, seed=None):
        return [seed]

    def reset(self):
        pidfile = os.environ["FAKE_MINERL_PIDFILE"]
        subprocess.Popen([sys.executable, "-c", LAUNCH_SCRIPT, pidfile], start_new_session=True)
        deadline = time.time() + 30
        while not os.path.exists(pidfile) and time.time() < deadline:
            time.sleep(0.01)
        return {"pov": np.zeros((4, 6, 3), np.uint8)}

    def close(self):
        pass  # Minecraft keeps running (MineRL's own watcher process kills it ~20 s later)

gym.register("MineRLFake-v0", entry_point=FakeEnv, max_episode_steps=5)
'''


def _fake_minerl_in_its_own_session(tmp_path: Path, with_gym: bool) -> Path:
    site = tmp_path / "site"
    for name, text in (("gym", FAKE_GYM if with_gym else None), ("minerl", FAKE_MINERL_SESSION)):
        if text is not None:
            (site / name).mkdir(parents=True)
            (site / name / "__init__.py").write_text(textwrap.dedent(text))
    (site / "minerl-0.4.4.dist-info").mkdir()
    (site / "minerl-0.4.4.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: minerl\nVersion: 0.4.4\n")
    return site


@pytest.mark.parametrize(
    "python",
    [
        pytest.param(sys.executable, id="this-python"),
        pytest.param(
            OTHER_PYTHON,
            id="other",
            marks=pytest.mark.skipif(
                not OTHER_PYTHON, reason="set CRAFTLAB_MINERL_TEST_PYTHON to an old interpreter with gym"
            ),
        ),
    ],
)
@pytest.mark.parametrize("server_dies", [False, True], ids=["close", "server-died-first"])
def test_close_kills_minecraft_started_in_its_own_session(tmp_path, monkeypatch, server_dies, python):
    site = _fake_minerl_in_its_own_session(tmp_path, with_gym=python == sys.executable)  # else its real gym
    monkeypatch.setenv("PYTHONPATH", str(site))
    pidfile = tmp_path / "minecraft.pids"
    monkeypatch.setenv("FAKE_MINERL_PIDFILE", str(pidfile))
    env = RemoteMineRLEnv("MineRLFake-v0", python, start_timeout=60)
    pids: list[int] = []
    try:
        assert env.hello["versions"]["minerl"] == "0.4.4"  # from the metadata (no minerl.__version__)
        env.reset()
        pids = [int(p) for p in pidfile.read_text().split()]  # the launch script and its 'Java'
        assert all(_running(p) for p in pids)
        assert os.getsid(pids[0]) != os.getsid(env.pid)  # out of reach of a kill of the server's group
        if server_dies:
            os.kill(env.pid, signal.SIGKILL)
            assert not _alive(env.pid) and all(_running(p) for p in pids)  # orphans now
        env.close()
        assert not any(_alive(p) for p in pids), "close() must kill what the server started"
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.skipif(not OTHER_PYTHON, reason="set CRAFTLAB_MINERL_TEST_PYTHON to an old interpreter with gym")
def test_server_runs_in_another_interpreter(tmp_path, monkeypatch):
    version = subprocess.run(
        [OTHER_PYTHON, "-c", "import sys, gym; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout
    print("server interpreter:", version)
    _run_fake(OTHER_PYTHON, tmp_path, monkeypatch, with_gym=False)  # its real gym, a fake minerl


# ------------------------------------------------------------------ training through the CLI


def test_ppo_trains_on_the_remote_standin_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run_dir = tmp_path / "run"
    code = main(
        [
            "configs/minerl/ppo_treechop_remote.yaml",
            "--run-dir",
            str(run_dir),
            "--device",
            "cpu",
            "--set",
            f"env.kwargs.python={sys.executable}",
            "--set",
            "env.kwargs.standin=true",
            "--set",
            "env.kwargs.crash_recovery.backoff=0",
            "--set",
            "algo.num_steps=100",
            "--set",
            "train.total_timesteps=200",
            "--set",
            "train.checkpoint_interval=0",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 0
    assert json.loads((run_dir / "summary.json").read_text())["num_timesteps"] >= 200
