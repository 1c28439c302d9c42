"""Minecraft that cannot start: :class:`MinecraftLaunchError` and its one-line diagnosis.

MineRL starts Minecraft at an env's first ``reset``. When it cannot (Minecraft
not built and its Gradle build without network, a Java other than JDK 8, an
unset or wrong ``JAVA_HOME``, no display), MineRL 0.4.4 raises an ``EOFError``
whose message is the launch's whole output: hundreds of lines of Java stack
traces. At the *first* reset that is a set-up problem, not a crash: retrying
only repeats it after minutes of backoff. :class:`craftlab.envs.minerl.adapter.MineRLEnv`
turns such a failure into a :class:`MinecraftLaunchError` (a
:class:`~craftlab.core.config.ConfigError`, so ``train.py`` prints its message
and exits 2, without a traceback); :class:`craftlab.envs.minerl.crash.CrashRecovery`
raises it at once instead of retrying. The message is one line naming the
likely cause and its fix, then the path of a log file holding the full text.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import tempfile
import traceback
from pathlib import Path

from craftlab.core.config import ConfigError

DOCTOR = "See `python train.py doctor` and docs/minerl.md"


class MinecraftLaunchError(ConfigError):
    """Minecraft did not start at an env's first reset (see module doc).

    ``log_path`` is the file holding the full failure text (None if it could not be written).
    """

    def __init__(self, message: str, log_path: str | None = None):
        super().__init__(message)
        self.log_path = log_path


def _java_home() -> str:
    home = os.environ.get("JAVA_HOME")
    return f"JAVA_HOME={home}" if home else "JAVA_HOME unset: java on PATH"


# (pattern in the launch output, cause and fix); the first that matches wins, so the specific come first.
_CAUSES: list[tuple[str, str]] = [
    (
        r"could not detect an X Server|org\.lwjgl\.opengl\.Display\.<clinit>|No X11 DISPLAY|Can't connect to X11"
        r"|cannot open display",
        "no display: run under `xvfb-run -a` or set MINERL_HEADLESS=1",
    ),
    (
        r"GLX13|GLXBadFBConfig|GLFW error|could not detect any OpenGL|Pixel format not accelerated",
        "no usable OpenGL: install Mesa and run under xvfb-run (or VNC if the NVIDIA GLX conflicts with xvfb)",
    ),
    (r"JAVA_HOME is set to an invalid directory", "{java_home} is no Java: point JAVA_HOME at a JDK 8"),
    (
        r"JAVA_HOME is not set and no 'java' command|java: (command )?not found",
        "no Java ({java_home}): install a JDK 8 and set JAVA_HOME to it",
    ),
    (
        r"Unsupported class file major version|UnsupportedClassVersionError|Could not determine java version"
        r"|cannot be cast to (class )?java\.net\.URLClassLoader|Could not initialize class org\.codehaus\.groovy"
        r"|only JRE|tools\.jar",
        "the wrong Java ({java_home}): MineRL needs a JDK 8, not a JRE or Java 11/17",
    ),
    (
        r"UnknownHostException|Temporary failure in name resolution|Network is unreachable|No route to host",
        "Minecraft is not built, and building it needs network (Gradle downloads Forge and Minecraft) "
        "and a JDK 8 ({java_home})",
    ),
    (
        r"Could not find com\.github\.|Could not resolve|Could not (GET|HEAD|download)",
        "Minecraft is not built, and its Gradle build could not get a dependency (no network, or gone from "
        "jitpack/Maven); building needs network and a JDK 8 ({java_home})",
    ),
    (
        r"gradlew|Gradle|FAILURE: Build failed|BUILD FAILED",
        "Minecraft is not built, and its Gradle build failed; building needs network and a JDK 8 ({java_home})",
    ),
    (
        r"launchClient\.(sh|bat)",
        "Minecraft's launch script failed: reinstall minerl with network and a JDK 8 ({java_home})",
    ),
]


def diagnose(text: str) -> str:
    """The likely cause of a failed Minecraft launch, and its fix, from the launch's output ``text``."""
    for pattern, cause in _CAUSES:
        if re.search(pattern, text):
            return cause.format(java_home=_java_home())
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    last = last if len(last) <= 100 else last[:97] + "..."
    return (
        f'it stopped while starting (last output: "{last}"); the usual causes: Minecraft not built (building '
        f"needs network), not a JDK 8 ({_java_home()}), no display"
    )


def full_text(exc: BaseException) -> str:
    """Everything known about a failure: type, message, the MineRL server's traceback, ours."""
    parts = [f"{type(exc).__name__}: {exc}"]
    remote = getattr(exc, "remote_traceback", "")
    if remote:
        parts.append("--- traceback in the MineRL server ---\n" + remote.rstrip())
    parts.append(
        "--- traceback in craftlab ---\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    )
    return "\n\n".join(parts) + "\n"


def write_log(text: str, env_id: str, log_path: str | os.PathLike | None = None) -> str | None:
    """Append ``text`` to ``log_path`` (the server log), else to a new file in the temp folder; its path."""
    header = (
        f"=== craftlab: Minecraft did not start for {env_id} at "
        f"{datetime.datetime.now().isoformat(timespec='seconds')} "
        f"({_java_home()}; java on PATH: {shutil.which('java') or 'none'}) ===\n"
    )
    try:
        if log_path is not None:
            path = Path(log_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8", errors="replace") as f:
                f.write("\n" + header + text)
            return str(path)
        fd, name = tempfile.mkstemp(prefix=f"craftlab-minecraft-launch-{_slug(env_id)}-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as f:
            f.write(header + text)
        return name
    except OSError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def launch_error(
    exc: BaseException, env_id: str, log_path: str | os.PathLike | None = None, timeout: float | None = None
) -> MinecraftLaunchError:
    """The :class:`MinecraftLaunchError` for ``exc``, raised by (or timing out) the first reset.

    The full text goes to ``log_path`` (the server log) or a new temp file; the
    message is one line of diagnosis and one with that file's path.
    """
    if isinstance(exc, MinecraftLaunchError):
        return exc
    if timeout is not None:
        cause = (
            f"it did not finish starting within the reset timeout ({timeout:g} s); a first launch that "
            "builds Minecraft takes 10-20 min: build it first, or raise env.kwargs.crash_recovery.reset_timeout"
        )
        text = f"{type(exc).__name__}: {exc}\n"
    else:
        text = full_text(exc)
        cause = diagnose(str(exc) + "\n" + getattr(exc, "remote_traceback", ""))
    path = write_log(text, env_id, log_path)
    where = f"Full log: {path}" if path else "(The full log could not be written.)"
    message = (
        f"Minecraft could not start for {env_id} ({type(exc).__name__} at the first reset): {cause}. {DOCTOR}.\n{where}"
    )
    return MinecraftLaunchError(message, path)
