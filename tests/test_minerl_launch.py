"""A Minecraft that cannot start: one line of diagnosis and a log file, at once, not minutes of retries.

MineRL starts Minecraft at the first reset. On a machine where it cannot (not
built, Gradle without network, a Java other than JDK 8, no display) MineRL 0.4.4
raises an ``EOFError`` holding the launch's whole output. The fakes below do
the same; crash recovery must not retry it, and ``train.py`` must print a short
diagnosis and the log's path and exit 2, without a traceback.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gymnasium as gym
import pytest
from test_minerl_remote import FAKE_GYM

from craftlab.commands.cli import main
from craftlab.core.config import ConfigError
from craftlab.envs.minerl.adapter import MineRLEnv, make_minerl
from craftlab.envs.minerl.crash import CrashRecovery
from craftlab.envs.minerl.launch import MinecraftLaunchError, diagnose
from craftlab.envs.minerl.remote import RemoteEnvError, remote_exception
from craftlab.envs.minerl.standin import make_standin

ROOT = Path(__file__).resolve().parent.parent
RECOVERY = {"step_timeout": 120, "reset_timeout": 600, "max_retries": 5, "backoff": 5}  # configs/minerl/*.yaml

# What MineRL 0.4.4 raises when Minecraft is not built and Gradle has no network:
# the launch script runs `./gradlew runClient`, whose wrapper cannot download Gradle.
GRADLE_LOG = "\n".join(
    [
        "/tmp/tmpa1b2c3/Minecraft",
        "HELLO",
        "Downloading https://services.gradle.org/distributions/gradle-4.10.2-all.zip",
        "",
        'Exception in thread "main" java.net.UnknownHostException: services.gradle.org',
        "\tat java.net.AbstractPlainSocketImpl.connect(AbstractPlainSocketImpl.java:184)",
    ]
    + [f"\tat org.gradle.wrapper.Install$1.call(Install.java:{n})" for n in range(430)]
    + ["", "", "Minecraft process finished unexpectedly. There was an error with Malmo."]
)

FAKE_MINERL = '''
"""A fake minerl 0.4.4 without a Minecraft build: Treechop's spaces, and a reset that fails as MineRL's."""
import numpy as np
import gym
S = gym.spaces
KEYS = ("attack", "back", "forward", "jump", "left", "right", "sneak", "sprint")
LOG = {log!r}

class Treechop(gym.Env):
    observation_space = S.Dict({{"pov": S.Box(0, 255, (64, 64, 3), np.uint8)}})
    action_space = S.Dict(dict([(k, S.Discrete(2)) for k in KEYS], camera=S.Box(-180.0, 180.0, (2,), np.float32)))

    def seed(self, seed=None):
        return [seed]

    def reset(self):
        raise EOFError(LOG)

    def close(self):
        pass

gym.register("MineRLTreechop-v0", entry_point=Treechop, max_episode_steps=8000)
'''


def _fake_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for name, text in (("gym", FAKE_GYM), ("minerl", FAKE_MINERL.format(log=GRADLE_LOG))):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(textwrap.dedent(text))
    return site


def _failing_standin():
    """The stand-in, with the reset of a Minecraft that cannot launch."""
    env = make_standin("MineRLTreechop-v0")

    def reset():
        raise EOFError(GRADLE_LOG)

    env.reset = reset
    return env


def _check_message(err: MinecraftLaunchError) -> str:
    """One line of diagnosis naming the fix, one with the log file holding the whole output."""
    first, second = str(err).split("\n")
    assert len(first) < 500, first
    for needed in ("Minecraft could not start", "not built", "network", "JDK 8", "JAVA_HOME", "doctor"):
        assert needed in first, (needed, first)
    assert "EOFError: EOFError" not in str(err)
    assert second == f"Full log: {err.log_path}"
    log = Path(err.log_path).read_text()
    assert GRADLE_LOG.splitlines()[200] in log and "finished unexpectedly" in log
    return first


# ------------------------------------------------------------------ in this process


def test_launch_failure_at_the_first_reset_is_not_retried(tmp_path):
    made = []

    def make_inner():
        made.append(1)
        return _failing_standin()

    log_path = tmp_path / "logs" / "minerl_server.log"
    env = CrashRecovery(
        MineRLEnv(make_inner, "MineRLTreechop-v0", launches_minecraft=True, launch_log=log_path), **RECOVERY
    )
    start = time.perf_counter()
    with pytest.raises(MinecraftLaunchError) as caught:
        env.reset(seed=0)
    assert time.perf_counter() - start < 2 and len(made) == 1  # no restart, no backoff
    assert isinstance(caught.value, ConfigError) and caught.value.log_path == str(log_path)
    _check_message(caught.value)
    env.close()


def test_launch_failure_without_crash_recovery_writes_a_temp_log():
    env = MineRLEnv(_failing_standin, "MineRLTreechop-v0", launches_minecraft=True)
    with pytest.raises(MinecraftLaunchError) as caught:
        env.reset()
    try:
        _check_message(caught.value)
    finally:
        os.unlink(caught.value.log_path)
    with pytest.raises(EOFError):  # an env that starts no Minecraft (the stand-in, the voxel world): as it is
        MineRLEnv(_failing_standin, "MineRLTreechop-v0").reset()


def test_first_reset_that_hangs_is_a_launch_error():
    def hanging():
        env = make_standin("MineRLTreechop-v0")
        env.reset = lambda: time.sleep(5)
        return env

    env = CrashRecovery(MineRLEnv(hanging, "MineRLTreechop-v0", launches_minecraft=True), reset_timeout=0.3, backoff=5)
    start = time.perf_counter()
    with pytest.raises(MinecraftLaunchError, match=r"within the reset timeout \(0.3 s\)") as caught:
        env.reset()
    assert time.perf_counter() - start < 2
    os.unlink(caught.value.log_path)


def test_after_a_first_successful_reset_failures_are_crashes_and_retried():
    attempts = []

    def make_inner():  # the first Minecraft starts; the first restart fails once, then it starts again
        attempts.append(1)
        return _failing_standin() if len(attempts) == 2 else make_standin("MineRLTreechop-v0")

    env = CrashRecovery(
        MineRLEnv(make_inner, "MineRLTreechop-v0", launches_minecraft=True), step_timeout=None, backoff=0.0
    )
    env.reset(seed=0)
    env.unwrapped.inner.step = lambda action: (_ for _ in ()).throw(ConnectionError("Minecraft died"))
    info = env.step({})[4]
    assert "ConnectionError: Minecraft died" in info["crash"]
    obs, info = env.reset()
    assert len(attempts) == 3 and info["crash_restarts"] == 2


@pytest.mark.parametrize(
    "text,cause",
    [
        (GRADLE_LOG, "needs network"),
        (
            "ERROR: JAVA_HOME is set to an invalid directory: /usr/lib/jvm/none",
            "is no Java: point JAVA_HOME at a JDK 8",
        ),
        (
            "java.lang.UnsupportedClassVersionError: net/minecraft/Foo : Unsupported major.minor version 55.0",
            "the wrong Java",
        ),
        (
            "Caused by: java.lang.ExceptionInInitializerError\n\tat org.lwjgl.opengl.Display.<clinit>(Display.java:138)",
            "no display",
        ),
        ("> Could not find com.github.SpongePowered:MixinGradle:dcfaf61.", "could not get a dependency"),
        ("something else entirely\nthe last line", "the last line"),
    ],
)
def test_diagnosis_names_the_cause(text, cause):
    assert cause in diagnose(text)


# ------------------------------------------------------------------ crash reasons and the final error


class _AlwaysFails(gym.Env):
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        raise EOFError(GRADLE_LOG)


def test_restarts_are_counted_right_and_the_final_error_is_short(caplog):
    env = CrashRecovery(_AlwaysFails(), max_retries=2, backoff=0.0, env_fn=_AlwaysFails)
    with caplog.at_level(logging.WARNING, logger="craftlab.envs.minerl.crash"):
        with pytest.raises(RuntimeError, match="after 2 retries") as caught:
            env.reset()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "restart 1/2" in messages[0] and "restart 2/2" in messages[1]
    assert "restart 3/2" not in messages[2] and "giving up after 2 restarts" in messages[2]
    assert all(len(m) < 700 for m in messages) and len(str(caught.value)) < 700
    assert "finished unexpectedly" in str(caught.value)  # the last line of the reason is kept


def test_remote_errors_name_their_type_once():
    assert (
        str(remote_exception("EOFError", "boom", where=", pid 7, during reset"))
        == "boom (raised in the MineRL server, pid 7, during reset)"
    )
    assert isinstance(remote_exception("timeout", "timed out"), TimeoutError)
    assert str(remote_exception("timeout", "timed out")).startswith("timeout: timed out")
    other = remote_exception("StepAfterDoneError", "done")
    assert isinstance(other, RemoteEnvError) and str(other).startswith("StepAfterDoneError: done")
    env = make_minerl(
        "MineRLTreechop-v0",
        standin=True,
        python=sys.executable,
        standin_kwargs={"crash_probability": 1.0},
        crash_recovery={"backoff": 0.0},
    )
    try:
        env.reset(seed=0)
        info = env.step({})[4]
        assert "step raised ConnectionError: stand-in: injected crash" in info["crash"]
        assert "ConnectionError: ConnectionError" not in info["crash"]
    finally:
        env.close()


# ------------------------------------------------------------------ MineRL in another interpreter


def test_remote_launch_failure_appends_the_log_to_the_server_log(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(_fake_site(tmp_path)))
    log = tmp_path / "server.log"
    env = make_minerl("MineRLTreechop-v0", python=sys.executable, server_log=str(log), crash_recovery=RECOVERY)
    start = time.perf_counter()
    with pytest.raises(MinecraftLaunchError) as caught:
        env.reset(seed=0)
    assert time.perf_counter() - start < 5
    env.close()
    assert caught.value.log_path == str(log)
    _check_message(caught.value)
    assert "raised in the MineRL server" in log.read_text()


# ------------------------------------------------------------------ train.py on a machine without Minecraft


def _check_cli_output(stderr: str) -> None:
    """``error: <diagnosis>. Full log: <path>``, one line; no traceback, no Java trace."""
    assert "Traceback" not in stderr and "EOFError: EOFError" not in stderr, stderr[-3000:]
    assert "at org.gradle.wrapper" not in stderr  # the Java trace stays in the log
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    diagnosis, _, path = errors[0].partition(" Full log: ")
    assert len(diagnosis) < 500 and "not built" in diagnosis and "JAVA_HOME unset" in diagnosis, diagnosis
    log = Path(path)
    try:
        assert "UnknownHostException" in log.read_text() and GRADLE_LOG.splitlines()[300] in log.read_text()
    finally:
        log.unlink()


def test_train_py_prints_one_diagnosis_and_exits_2(tmp_path):
    """The issue's command, as a user runs it (MineRL in craftlab's own interpreter)."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in (str(_fake_site(tmp_path)), os.environ.get("PYTHONPATH")) if p),
    )
    env.pop("JAVA_HOME", None)
    command = [
        sys.executable,
        "train.py",
        "configs/minerl/ppo_treechop.yaml",
        "--device",
        "cpu",
        "--run-dir",
        str(tmp_path / "run"),
    ]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=100)
    assert out.returncode == 2, out.stderr[-3000:]  # before: minutes of backoff, then a traceback
    _check_cli_output(out.stderr)


def test_cli_with_minerl_in_another_interpreter_prints_one_diagnosis(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PYTHONPATH", str(_fake_site(tmp_path)))  # the server's interpreter
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.chdir(ROOT)
    start = time.perf_counter()
    code = main(
        [
            "configs/minerl/ppo_treechop_remote.yaml",
            "--device",
            "cpu",
            "--run-dir",
            str(tmp_path / "run"),
            "--set",
            f"env.kwargs.python={sys.executable}",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 2 and time.perf_counter() - start < 30
    _check_cli_output(capsys.readouterr().err)
