"""The package's shape: one installed package, layered imports, names that agree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from craftlab.agents.registry import AGENTS, agent_class

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "craftlab"
OPTIONAL = {"minerl", "gym", "pygame", "ray", "imageio", "tensorboard", "tqdm", "matplotlib", "psutil"}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_registry_key_is_the_agent_class_name(name):
    """``algo.name`` in YAML, the registry key and the class's ``name`` (written into
    checkpoints) are one name."""
    assert agent_class(name).name == name


def test_no_first_party_import_inside_a_function():
    """Late imports hid import cycles; only optional third-party packages may load on demand."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                module = sub.module if isinstance(sub, ast.ImportFrom) else None
                names = [a.name for a in sub.names] if isinstance(sub, ast.Import) else [module or ""]
                if isinstance(sub, (ast.Import, ast.ImportFrom)) and any(n.split(".")[0] == "craftlab" for n in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
    assert offenders == []


def test_only_craftlab_is_packaged():
    """``pip install .`` installs one top-level package (agents/ and envs/ are links into it)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == ["craftlab*"]
    assert "py-modules" not in config["tool"].get("setuptools", {})
    for link in ("agents", "envs"):
        assert (ROOT / link).is_symlink() and (ROOT / link).resolve() == (PACKAGE / link).resolve()
