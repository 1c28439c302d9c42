"""``python train.py doctor``: is this machine ready to train in real Minecraft?

Reports Python, torch and CUDA, Java (MineRL needs a JDK 8: the one its Gradle
build runs, ``$JAVA_HOME/bin/java`` or else ``java`` on PATH, and ``java`` on PATH,
which starts a built Minecraft), the ``minerl`` package and its version, a display (or ``xvfb-run`` for headless machines) and
the MineRL data root. Returns 0 when MineRL can run, 1 otherwise (craftlab's
own environments need none of this).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from craftlab.envs.minerl.adapter import minerl_version
from craftlab.envs.minerl.remote import SERVER_PATH

OK, WARN, FAIL = "ok", "warn", "FAIL"


def _java_version(java: str) -> tuple[int | None, str]:
    """``(major version, first line of java -version)``; major None if it cannot be read."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
        text = (out.stderr or out.stdout).strip()
    except Exception as exc:  # noqa: BLE001
        return None, f"`{java} -version` failed: {exc}"
    first = text.splitlines()[0] if text else "?"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None, first
    return (int(m.group(2)) if m.group(1) == "1" and m.group(2) else int(m.group(1))), first


def _java() -> tuple[str, str]:
    """The Java MineRL uses. Its Gradle build (``gradlew``: on ``pip install``, and by the
    launch script while Minecraft is not built) runs ``$JAVA_HOME/bin/java`` when
    JAVA_HOME is set, else ``java`` on PATH; the launch script starts a built
    Minecraft with ``java`` on PATH. Both must be a JDK 8."""
    home = os.environ.get("JAVA_HOME")
    on_path = shutil.which("java")
    if home:
        java = str(Path(home) / "bin" / "java")
        which = f"JAVA_HOME={home}, used by MineRL's Gradle build"
        if not os.access(java, os.X_OK):
            return FAIL, (
                f"JAVA_HOME={home} has no bin/java (Gradle fails with 'JAVA_HOME is set to an invalid "
                "directory'): point JAVA_HOME at a JDK 8, e.g. /usr/lib/jvm/java-8-openjdk-amd64"
            )
        javac = Path(home) / "bin" / "javac"
        has_javac = os.access(javac, os.X_OK)
    else:
        if on_path is None:
            return FAIL, (
                "no java: JAVA_HOME is unset and there is no java on PATH; install a JDK 8 (e.g. "
                "apt-get install openjdk-8-jdk) and set JAVA_HOME to it"
            )
        java = on_path
        which = "java on PATH, JAVA_HOME unset"
        has_javac = shutil.which("javac") is not None
    major, first = _java_version(java)
    if major != 8:
        return FAIL, (
            f"{first} ({java}; {which}): MineRL needs a JDK 8, not {major}; "
            + ("set JAVA_HOME to a JDK 8" if home else "select it with update-alternatives or set JAVA_HOME")
        )
    if not has_javac:
        return FAIL, f"{first} ({java}; {which}): a JRE only, no javac; MineRL's Gradle build needs the JDK 8"
    if home:  # the launch script starts the built Minecraft with `java` from PATH
        if on_path is None:
            return FAIL, (
                f"{first} ({java}; {which}), but no java on PATH, which MineRL's launch script runs "
                "once Minecraft is built: add $JAVA_HOME/bin to PATH"
            )
        if Path(on_path).resolve() != Path(java).resolve():
            path_major, path_first = _java_version(on_path)
            if path_major != 8:
                return FAIL, (
                    f"{first} ({java}; {which}), but java on PATH is {path_first} ({on_path}), which "
                    "MineRL's launch script runs once Minecraft is built: put $JAVA_HOME/bin first on PATH"
                )
    return OK, f"{first} ({java}; {which}; javac present)"


def _display() -> tuple[str, str]:
    if os.environ.get("DISPLAY"):
        return OK, f"DISPLAY={os.environ['DISPLAY']}"
    xvfb = shutil.which("xvfb-run")
    if xvfb:
        return OK, f"no DISPLAY; headless via `xvfb-run -a python train.py ...` ({xvfb}) or MINERL_HEADLESS=1"
    return FAIL, "no DISPLAY and no xvfb-run: apt-get install xvfb, then run under `xvfb-run -a`"


def _minerl() -> tuple[str, str]:
    version = minerl_version()
    try:
        import minerl
    except Exception as exc:  # noqa: BLE001
        if version is None:
            return FAIL, "minerl not installed: see docs/minerl.md (pip install minerl==0.4.4, needs JDK 8)"
        return FAIL, f"minerl {version} installed but does not import: {type(exc).__name__}: {exc}"
    version = version or getattr(minerl, "__version__", "?")
    try:
        import gym

        gym_version = minerl_version("gym") or getattr(gym, "__version__", "?")
    except Exception:  # noqa: BLE001
        gym_version = "missing"
    return OK, f"minerl {version} imports (gym {gym_version})"


def _minerl_in(python: str) -> tuple[str, str]:
    """minerl in another interpreter (``env.kwargs.python``): import it there. The
    versions come from the server script's ``package_version`` (the installed
    metadata: minerl 0.4.4 has no ``__version__``)."""
    code = (
        f"import sys, runpy; import minerl, gym; v = runpy.run_path({str(SERVER_PATH)!r})['package_version']; "
        "print(v('minerl', minerl), v('gym', gym), sys.version.split()[0])"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return FAIL, f"cannot run {python}: {exc}"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return FAIL, f"minerl does not import in {python}: {last}"
    version, gym_version, py = (out.stdout.strip().splitlines() or ["? ? ?"])[-1].split()  # minerl may print
    return OK, f"minerl {version} imports in {python} (Python {py}, gym {gym_version}); use env.kwargs.python: {python}"


def _torch() -> tuple[str, str]:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return FAIL, f"torch does not import: {exc}"
    if torch.cuda.is_available():
        return OK, f"torch {torch.__version__}, CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}"
    return WARN, f"torch {torch.__version__}, no CUDA (CPU training: slow with MineRL's images)"


def _data_root() -> tuple[str, str]:
    root = os.environ.get("MINERL_DATA_ROOT")
    if not root:
        return WARN, "MINERL_DATA_ROOT not set (needed for demonstrations / BC only)"
    path = Path(root)
    if not path.is_dir():
        return WARN, f"MINERL_DATA_ROOT={root} does not exist"
    envs = sorted(p.name for p in path.iterdir() if p.is_dir() and p.name.startswith("MineRL"))
    return OK, f"MINERL_DATA_ROOT={root}: {', '.join(envs) or 'no MineRL* datasets'}"


def checks(python: str | None = None) -> list[tuple[str, str, str]]:
    """``(name, status, detail)`` for each check; status is 'ok', 'warn' or 'FAIL'.
    ``python``: the MineRL interpreter (``env.kwargs.python``), else minerl in this one."""
    py = sys.version.split()[0]
    py_status = OK if sys.version_info >= (3, 10) else FAIL
    out = [
        (
            "python",
            py_status,
            f"{py} on {platform.system()} {platform.machine()} "
            "(minerl can live in its own Python 3.7-3.9 env: --python PATH, see docs/minerl.md)",
        )
    ]
    minerl_check = (lambda: _minerl_in(python)) if python else _minerl
    for name, fn in (
        ("torch", _torch),
        ("java", _java),
        ("minerl", minerl_check),
        ("display", _display),
        ("data root", _data_root),
    ):
        status, detail = fn()
        out.append((name, status, detail))
    return out


def main(argv: list[str]) -> int:
    """Print the checks; 0 if MineRL can run here, 1 if a check failed."""
    parser = argparse.ArgumentParser(prog="train.py doctor", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the interpreter MineRL is installed in (what env.kwargs.python will name); "
        "default: look for minerl in this one",
    )
    args = parser.parse_args(argv)
    results = checks(args.python)
    for name, status, detail in results:
        print(f"[{status:>4}] {name:<10} {detail}")
    failed = [n for n, s, _ in results if s == FAIL]
    if failed:
        print(
            f"\nMineRL cannot run here yet ({', '.join(failed)}); docs/minerl.md explains each fix. "
            "The stand-in (env.kwargs.standin: true) runs anywhere."
        )
        return 1
    print("\nready for MineRL")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
