"""`train.py doctor` finds minerl in this interpreter or in another one (--python)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from craftlab.commands.doctor import checks, main


def _minerl_row(rows):
    return next((status, detail) for name, status, detail in rows if name == "minerl")


def test_doctor_fails_without_java_and_says_where_the_fix_is(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no java to be found
    assert main([]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] java" in out and "docs/minerl.md" in out


def test_doctor_looks_for_minerl_in_another_interpreter(tmp_path, monkeypatch):
    status, detail = _minerl_row(checks(sys.executable))
    assert status == "FAIL" and "No module named 'minerl'" in detail

    # an interpreter where minerl and gym import (fake packages on its path)
    for name, version in (("minerl", "0.4.4"), ("gym", "0.19.0")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"__version__ = '{version}'\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    status, detail = _minerl_row(checks(sys.executable))
    assert status == "ok", detail
    assert "minerl 0.4.4" in detail and "gym 0.19.0" in detail and f"env.kwargs.python: {sys.executable}" in detail


def _row(rows, wanted):
    return next((status, detail) for name, status, detail in rows if name == wanted)


def test_doctor_reads_minerls_version_from_its_metadata(tmp_path, monkeypatch):
    """minerl 0.4.4 has no ``__version__``: the version is in its installed metadata."""
    for name in ("minerl", "gym"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    for name, version in (("minerl", "0.4.4"), ("gym", "0.19.0")):
        (tmp_path / f"{name}-{version}.dist-info").mkdir()
        (tmp_path / f"{name}-{version}.dist-info" / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    status, detail = _minerl_row(checks(sys.executable))
    assert status == "ok" and "minerl 0.4.4" in detail and "gym 0.19.0" in detail, detail
    monkeypatch.syspath_prepend(str(tmp_path))  # and in this interpreter
    try:
        status, detail = _minerl_row(checks())
        assert status == "ok" and "minerl 0.4.4 imports (gym 0.19.0)" in detail, detail
    finally:
        for name in ("minerl", "gym"):
            sys.modules.pop(name, None)


def _jdk(root: Path, version: str, javac: bool = True) -> Path:
    """A fake JDK: bin/java (and bin/javac) that answer ``-version`` like OpenJDK's."""
    (root / "bin").mkdir(parents=True)
    for name in ("java", "javac") if javac else ("java",):
        exe = root / "bin" / name
        exe.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2024-01-16' >&2\n")
        exe.chmod(0o755)
    return root


@pytest.fixture
def jdks(tmp_path):
    return {
        "8": _jdk(tmp_path / "jdk8", "1.8.0_392"),
        "11": _jdk(tmp_path / "jdk11", "11.0.21"),
        "17": _jdk(tmp_path / "jdk17", "17.0.9"),
        "jre8": _jdk(tmp_path / "jre8", "1.8.0_392", javac=False),
    }


def _java_check(monkeypatch, java_home: Path | None, path: Path | None) -> tuple[str, str]:
    if java_home is None:
        monkeypatch.delenv("JAVA_HOME", raising=False)
    else:
        monkeypatch.setenv("JAVA_HOME", str(java_home))
    monkeypatch.setenv("PATH", str(path / "bin") if path is not None else "")
    return _row(checks(), "java")


def test_doctor_checks_the_java_of_java_home_that_gradle_uses(monkeypatch, jdks):
    # MineRL's gradlew runs $JAVA_HOME/bin/java: a JDK 8 on PATH does not help
    status, detail = _java_check(monkeypatch, jdks["17"], jdks["8"])
    assert status == "FAIL" and f"JAVA_HOME={jdks['17']}" in detail and "17.0.9" in detail, detail
    status, detail = _java_check(monkeypatch, jdks["8"], jdks["8"])
    assert status == "ok" and f"JAVA_HOME={jdks['8']}" in detail and "1.8.0_392" in detail, detail
    status, detail = _java_check(monkeypatch, jdks["jre8"], jdks["jre8"])
    assert status == "FAIL" and "javac" in detail, detail
    status, detail = _java_check(monkeypatch, jdks["8"].parent / "no-jdk", jdks["8"])
    assert status == "FAIL" and "no bin/java" in detail, detail


def test_doctor_without_java_home_checks_the_java_on_path(monkeypatch, jdks):
    status, detail = _java_check(monkeypatch, None, jdks["8"])
    assert status == "ok" and "JAVA_HOME unset" in detail and str(jdks["8"] / "bin" / "java") in detail, detail
    status, detail = _java_check(monkeypatch, None, jdks["11"])
    assert status == "FAIL" and "not 11" in detail, detail


def test_doctor_checks_the_java_on_path_that_starts_a_built_minecraft(monkeypatch, jdks):
    # the launch script runs `java` from PATH once Minecraft is built
    status, detail = _java_check(monkeypatch, jdks["8"], jdks["11"])
    assert status == "FAIL" and 'on PATH is openjdk version "11.0.21"' in detail, detail
    status, detail = _java_check(monkeypatch, jdks["8"], None)
    assert status == "FAIL" and "no java on PATH" in detail, detail
