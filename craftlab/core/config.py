"""Typed configuration: one dataclass is the YAML schema, the defaults, the
validation and the ``--help`` text at once (CleanRL's ``Args`` pattern).

A run's YAML file has four sections::

    name: ppo_crafter            # run name prefix (optional)
    env:   {id: crafter, kwargs: {...}, wrappers: [...]}      -> EnvConfig
    algo:  {name: ppo, learning_rate: 3e-4, ...}               -> the agent's Config
    train: {total_timesteps: 100000, num_envs: 4, seed: 0, ...} -> TrainConfig

Every key is checked against its dataclass: an unknown key, a value of the wrong
type, an unknown algorithm or environment raises :class:`ConfigError`, whose
message names the key and the closest valid ones. ``train.py`` prints that one
line and exits with status 2.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import os
import textwrap
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml


class ConfigError(ValueError):
    """A configuration problem a user can fix; the message says how."""


def close_matches(word: str, candidates: typing.Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to ``word`` (for "did you mean" hints)."""
    candidates = list(candidates)
    found = difflib.get_close_matches(word, candidates, n=n, cutoff=0.5)
    if not found:  # fall back to substring matches (e.g. "crafter" in "crafter_fast")
        found = [c for c in candidates if word.lower() in c.lower() or c.lower() in word.lower()][:n]
    return found


def did_you_mean(word: str, candidates: typing.Iterable[str]) -> str:
    candidates = sorted(set(candidates))
    found = close_matches(word, candidates)
    if found:
        return "did you mean " + " or ".join(repr(f) for f in found) + "?"
    shown = ", ".join(candidates[:12]) + (", ..." if len(candidates) > 12 else "")
    return f"valid: {shown}"


# --------------------------------------------------------------------------- docs


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under each dataclass field (``x: int = 1`` then ``\"\"\"doc\"\"\"``).

    Read from the class source with ``ast``; empty when the source is unavailable.
    Base classes are included, so a subclass inherits its parents' field docs.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def describe(cls: type, prefix: str = "", defaults: Any = None) -> str:
    """Human-readable list of a config dataclass's fields: name, type, default, doc.

    ``defaults``: an instance whose values are the defaults to show (a nested section's
    ``default_factory`` result, e.g. SAC's network [256, 256] rather than the class's)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    lines = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        if dataclasses.is_dataclass(hints[f.name]):  # a nested section: list its own fields
            section = getattr(defaults, f.name) if defaults is not None else None
            if section is None and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                section = f.default_factory()  # type: ignore[misc]
            lines.append(f"  {prefix}{f.name}:" + (f"  ({docs[f.name]})" if f.name in docs else ""))
            lines.append(describe(hints[f.name], f"{prefix}{f.name}.", section))
            continue
        if defaults is not None:
            default = repr(getattr(defaults, f.name))
        elif f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = repr(f.default_factory())  # type: ignore[misc]
        else:
            default = "(required)"
        lines.append(f"  {prefix}{f.name}: {_type_name(hints[f.name])} = {default}")
        if f.name in docs:
            lines.extend("      " + ln for ln in textwrap.wrap(docs[f.name], 74))
    return "\n".join(lines)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


# --------------------------------------------------------------------- validation


def check_value(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp`` where that is lossless, else raise."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for arg in args:
            try:
                return check_value(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if origin is Literal:
        if value in args:
            return value
        hint = did_you_mean(str(value), [str(a) for a in args])
        raise ConfigError(f"config key '{key}' must be one of {list(args)}, got {value!r}; {hint}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"config key '{key}' must be null, got {value!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping, got {type(value).__name__}")
        return build_dataclass(tp, value, prefix=key + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(
                f"config key '{key}' must be a list ({_type_name(tp)}), got {type(value).__name__} {value!r}"
            )
        item_type = args[0] if args else Any
        items = [check_value(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():  # 1e6 in YAML is a float
            return int(value)
        raise ConfigError(f"config key '{key}' must be an integer, got {type(value).__name__} {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"config key '{key}' must be a number, got {type(value).__name__} {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config key '{key}' must be a string, got {type(value).__name__} {value!r}")
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise ConfigError(f"config key '{key}' must be {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def build_dataclass(cls: type, values: dict[str, Any] | None, prefix: str = "") -> Any:
    """Build ``cls`` from a plain mapping, checking every key and type.

    ``prefix`` is the dotted path of this mapping in the whole config, used in
    error messages (``algo.learning_rate``). After construction the instance's
    ``validate()`` method, if any, checks value ranges.
    """
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"config key '{prefix}{key}' does not exist; {did_you_mean(key, names)}")
        kwargs[key] = check_value(value, hints[key], prefix + key)
    try:
        obj = cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.init
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
            and f.name not in kwargs
        ]
        if missing:
            raise ConfigError(f"config key '{prefix}{missing[0]}' is required") from exc
        raise
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except FieldError as exc:
            raise ConfigError(f"config key '{prefix}{exc.key}' {exc.message}") from None
    return obj


class FieldError(ConfigError):
    """Raised by ``validate()`` methods: ``key`` (relative to the dataclass) is out of range."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key} {message}")
        self.key, self.message = key, message


def require(condition: bool, key: str, message: str) -> None:
    """For ``validate()`` methods: raise :class:`FieldError` for ``key`` unless ``condition``."""
    if not condition:
        raise FieldError(key, message)


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain YAML-safe Python structures."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ------------------------------------------------------------------ run sections


@dataclass
class WrapperConfig:
    """One environment wrapper, applied in list order."""

    name: str
    """registered wrapper name (``python train.py list`` shows them)"""
    kwargs: dict = field(default_factory=dict)
    """keyword arguments of the wrapper"""


@dataclass
class EnvConfig:
    """Which environment to train in."""

    id: str = "crafter"
    """environment id: a craftlab environment ('crafter', lab and tabular ones,
    MineRL ids) or any registered Gymnasium id ('CartPole-v1')"""
    kwargs: dict = field(default_factory=dict)
    """keyword arguments of the environment's constructor"""
    wrappers: list[WrapperConfig] = field(default_factory=list)
    """wrappers applied around each environment, innermost first"""
    max_episode_steps: Union[int, None] = None
    """cut episodes after this many steps (truncated=True); null keeps the env's own limit"""


@dataclass
class TrainConfig:
    """The training budget and what happens along the way."""

    total_timesteps: int = 100_000
    """environment steps to train for, summed over all parallel envs"""
    num_envs: int = 4
    """parallel environments"""
    vector: Literal["auto", "sync", "async"] = "auto"
    """how parallel envs run: 'async' in subprocesses with shared memory,
    'sync' in this process; 'auto' picks async for several slow envs on > 2 CPU cores"""
    seed: int = 0
    """seed of the agent's RNGs and of the environments (env i: child i of SeedSequence(seed), EnvFactory.env_seeds)"""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """torch device; 'auto' picks CUDA when present"""
    torch_threads: int = 0
    """torch intra-op threads; 0 leaves torch's default"""
    checkpoint_interval: int = 50_000
    """save a checkpoint every this many env steps (and always at the end); 0 only at the end"""
    keep_checkpoints: int = 3
    """how many periodic checkpoints to keep besides the final one (0 keeps all)"""
    save_replay_buffer: bool = False
    """off-policy agents: also save the replay buffer in each checkpoint (a 1M-frame buffer
    is gigabytes); without it a resume starts with an empty buffer and says so"""
    eval_interval: int = 0
    """evaluate the agent every this many env steps; 0 disables"""
    eval_episodes: int = 5
    """episodes per evaluation"""
    eval_video: bool = False
    """record a video of the first evaluation episode (TensorBoard and run folder)"""
    progress_bar: bool = True
    """show a progress bar in the terminal"""

    def validate(self) -> None:
        require(self.total_timesteps > 0, "total_timesteps", "must be > 0")
        require(self.num_envs >= 1, "num_envs", "must be >= 1")
        require(self.seed >= 0, "seed", f"must be >= 0, got {self.seed} (e.g. --seed 0)")
        require(self.checkpoint_interval >= 0, "checkpoint_interval", "must be >= 0")
        require(self.eval_interval >= 0, "eval_interval", "must be >= 0")
        require(self.eval_episodes >= 1, "eval_episodes", "must be >= 1")


@dataclass
class RunConfig:
    """A whole run: environment, algorithm, budget."""

    env: EnvConfig
    algo: Any
    """the agent's own config dataclass (chosen by ``algo.name``)"""
    train: TrainConfig
    name: Union[str, None] = None
    """run name prefix; the run folder is runs/<name>_<seed>_<time> unless --run-dir
    (a plain folder name: no path separators, no '..')"""


def check_run_name(name: str | None) -> None:
    """A run name is one folder name inside ``runs/``: refuse separators, ``..``
    and absolute paths, which would put the run folder somewhere else."""
    if name is None:
        return
    separators = [sep for sep in ("/", "\\", os.sep, os.altsep) if sep]
    if any(sep in name for sep in separators) or ".." in name or Path(name).is_absolute():
        raise ConfigError(
            f"config key 'name' must be a plain folder name (no '/', '\\' or '..'), got {name!r}: "
            "the run folder is runs/<name>_s<seed>_<time>; to put it elsewhere pass --run-dir DIR"
        )


SECTIONS = ("name", "env", "algo", "train", "sweep")
"""the top-level keys of a config; `sweep` (craftlab.runs.search_space.SweepConfig) is read by `train.py sweep` only"""


# ------------------------------------------------------------------ loading


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file '{path}' does not exist; configs live in configs/ (python train.py list)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping with keys {list(SECTIONS)}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"algo.learning_rate=1e-3"`` -> (["algo", "learning_rate"], 0.001). Values are YAML."""
    if "=" not in text:
        raise ConfigError(f"--set '{text}' must look like key.path=value (e.g. --set algo.learning_rate=1e-3)")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # YAML 1.1 reads "1e-3" as a string; accept it as a float
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            pass
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set '{text}': empty part in key path '{key}'")
    return parts, value


def apply_override(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set: config key '{'.'.join(path[: i + 1])}' is not a mapping")
        node = child
    node[path[-1]] = value


def fix_yaml_floats(data: Any) -> Any:
    """PyYAML (YAML 1.1) reads ``3e-4`` as a string; turn such strings into floats."""
    if isinstance(data, dict):
        return {k: fix_yaml_floats(v) for k, v in data.items()}
    if isinstance(data, list):
        return [fix_yaml_floats(v) for v in data]
    if isinstance(data, str):
        s = data.strip()
        if s and (s[0].isdigit() or s[0] in "+-.") and ("e" in s.lower()):
            try:
                return float(s)
            except ValueError:
                return data
    return data


def save_run_config(config: RunConfig, path: str | Path) -> None:
    data = {
        "name": config.name,
        "env": to_dict(config.env),
        "algo": to_dict(config.algo),
        "train": to_dict(config.train),
    }
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
