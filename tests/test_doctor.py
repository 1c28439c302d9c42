"""`train.py doctor` finds minerl in this interpreter or in another one (--python)."""

from __future__ import annotations

import sys

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
