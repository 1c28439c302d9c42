"""A sweep's search space and settings: ``train.py sweep --param KEY=DIST(...)``
and the ``sweep:`` section of a config, checked before anything starts.

A distribution is written the same way on the command line and in YAML::

    uniform(low, high)       a float drawn uniformly from [low, high]
    loguniform(low, high)    a float whose logarithm is uniform (0 < low < high): learning rates
    randint(low, high)       an integer from low to high, both included
    choice(a, b, ...)        one of the values, drawn at random (Optuna learns which)
    grid(a, b, ...)          every value, each in its own trial (x --samples); random search only

Values are YAML (``choice(0.0, 0.01)``, ``choice(true, false)``, ``choice([64, 64], [256, 256])``).
Every key is checked against the run config's dataclasses by building the run
config (:func:`craftlab.runs.run_config.load_run_config`) with the values at the
ends of its range (and one inside it, which catches a float range on an integer
key), so a typo in a key or a distribution is one line, exit status 2, before
Ray starts. The ``sweep:`` section (:class:`SweepConfig`) sits beside ``algo:``
in a config; a normal ``train.py CONFIG`` ignores it.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import yaml

from craftlab.core.config import (
    ConfigError,
    RunConfig,
    apply_override,
    build_dataclass,
    did_you_mean,
    fix_yaml_floats,
    require,
)
from craftlab.runs.run_config import load_run_config

DISTRIBUTIONS = {
    "uniform": "uniform(low, high)",
    "loguniform": "loguniform(low, high)",
    "randint": "randint(low, high)",
    "choice": "choice(a, b, ...)",
    "grid": "grid(a, b, ...)",
}
"""distribution name -> how it is written"""

SWEEP_SECTION = "sweep"
"""the config section holding a :class:`SweepConfig`"""

METRIC_PREFIXES = ("charts/", "losses/", "achievements/", "eval/", "crafter/")
"""TensorBoard tag families a trial reports (craftlab.core.logger's tag scheme)"""
KNOWN_METRICS = (
    "eval/mean_return",
    "eval/mean_length",
    "crafter/score",
    "charts/episodic_return",
    "charts/episodic_length",
    "num_timesteps",
)
"""the tags of the eval/ and crafter/ families (others: losses/, charts/, achievements/ vary by agent and env)"""

_GOLDEN = (math.sqrt(5) - 1) / 2 - 0.2  # 0.418...: a point inside a range that is no round number


@dataclass
class SweepConfig:
    """A hyperparameter sweep on Ray Tune: what to vary, how to search, when to stop trials
    (the ``sweep:`` section of a config; the options of ``train.py sweep`` override it)."""

    params: dict = field(default_factory=dict)
    """config key -> distribution, e.g. {algo.learning_rate: 'loguniform(1e-4, 3e-3)'}: uniform(low, high),
    loguniform(low, high), randint(low, high) (both ends included), choice(a, b, ...), grid(a, b, ...)
    (every value, in every sample)"""
    samples: int = 8
    """trials drawn from the distributions (x the values of each grid, x the seeds)"""
    metric: Union[str, None] = None
    """what to optimise: a TensorBoard tag the trials write, e.g. crafter/score or eval/mean_return
    (needs train.eval_interval > 0); its value at each checkpoint is reported"""
    mode: Literal["max", "min"] = "max"
    """maximise or minimise the metric"""
    scheduler: Literal["asha", "median", "none"] = "asha"
    """early stopping of weak trials: 'asha' (asynchronous successive halving), 'median' (the median
    stopping rule), 'none' (every trial runs its whole budget)"""
    search: Literal["random", "optuna"] = "random"
    """how trials' values are chosen: 'random' (and grid), or 'optuna' (TPE, learns from finished trials)"""
    seeds: Union[list[int], None] = None
    """run every drawn configuration once per seed (null: train.seed of the config)"""
    grace_period: Union[int, None] = None
    """asha / median: env steps a trial runs before it may be stopped (null: an eighth of
    train.total_timesteps, at least one checkpoint interval)"""
    reduction_factor: float = 3.0
    """asha: at each rung only the best 1/reduction_factor of the trials go on"""
    max_failures: int = 3
    """restarts of a trial whose process dies, each from the trial's latest checkpoint"""
    cpus_per_trial: float = 1.0
    """CPU cores Ray reserves for each trial"""
    gpus_per_trial: float = 0.0
    """GPUs Ray reserves for each trial; 0.25 packs four trials on one GPU (train.device auto uses it)"""
    max_concurrent: int = 0
    """run at most this many trials at a time (0: as many as the CPUs and GPUs allow)"""

    def validate(self) -> None:
        require(self.samples >= 1, "samples", "must be >= 1")
        require(self.reduction_factor > 1, "reduction_factor", "must be > 1")
        require(self.max_failures >= 0, "max_failures", "must be >= 0")
        require(self.cpus_per_trial > 0, "cpus_per_trial", "must be > 0")
        require(self.gpus_per_trial >= 0, "gpus_per_trial", "must be >= 0")
        require(self.max_concurrent >= 0, "max_concurrent", "must be >= 0 (0: no limit)")
        require(self.grace_period is None or self.grace_period >= 1, "grace_period", "must be >= 1 env step")
        if self.seeds is not None:
            require(len(self.seeds) >= 1, "seeds", "must list at least one seed")
            require(all(s >= 0 for s in self.seeds), "seeds", f"must be >= 0, got {self.seeds}")
            require(len(set(self.seeds)) == len(self.seeds), "seeds", f"has repeats: {self.seeds}")


@dataclass(frozen=True)
class Distribution:
    """One key's distribution: ``kind`` (a key of :data:`DISTRIBUTIONS`) and its arguments."""

    kind: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(_value_text(a) for a in self.args)})"

    def check_values(self) -> list[Any]:
        """The values the run config is built with to check the key: both ends of a
        range and a point inside it (no round number, so an integer key refuses a
        float range), every value of a choice or grid."""
        if self.kind in ("choice", "grid"):
            return list(self.args)
        low, high = self.args
        if self.kind == "randint":
            return [low, high]
        if self.kind == "loguniform":
            inside = math.exp(math.log(low) + _GOLDEN * (math.log(high) - math.log(low)))
        else:
            inside = low + _GOLDEN * (high - low)
        if float(inside).is_integer():
            inside += (high - low) * 1e-6
        return [float(low), float(inside), float(high)]

    def to_tune(self) -> Any:
        """This distribution in Ray Tune's search-space API."""
        from ray import tune

        if self.kind == "uniform":
            return tune.uniform(*self.args)
        if self.kind == "loguniform":
            return tune.loguniform(*self.args)
        if self.kind == "randint":
            return tune.randint(self.args[0], self.args[1] + 1)  # Tune's upper end is excluded
        if self.kind == "choice":
            return tune.choice(list(self.args))
        return tune.grid_search(list(self.args))


def _value_text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)


def parse_distribution(text: Any, where: str) -> Distribution:
    """``"loguniform(1e-4, 3e-3)"`` -> Distribution; ``where`` names the input in errors
    (``--param 'algo.learning_rate=...'`` or ``config key 'sweep.params.algo.learning_rate'``)."""
    forms = ", ".join(DISTRIBUTIONS.values())
    if not isinstance(text, str):
        raise ConfigError(
            f"{where}: {text!r} is not a distribution; write one of {forms} (a fixed value goes in the config or --set)"
        )
    match = _CALL.match(text)
    if match is None:
        raise ConfigError(
            f"{where}: '{text}' is not a distribution; write one of {forms} (a fixed value goes in the config or --set)"
        )
    kind, inner = match.group(1), match.group(2)
    if kind not in DISTRIBUTIONS:
        raise ConfigError(
            f"{where}: unknown distribution '{kind}'; {did_you_mean(kind, DISTRIBUTIONS)} (one of {forms})"
        )
    try:
        args = fix_yaml_floats(yaml.safe_load(f"[{inner}]"))
    except yaml.YAMLError:
        raise ConfigError(f"{where}: the arguments of {kind}(...) are not values: '{inner}'") from None
    if kind in ("choice", "grid"):
        if not args:
            raise ConfigError(f"{where}: {kind}() needs at least one value, e.g. {DISTRIBUTIONS[kind]}")
        return Distribution(kind, tuple(args))
    if len(args) != 2:
        raise ConfigError(f"{where}: {kind} takes 2 arguments, {DISTRIBUTIONS[kind]}; got {len(args)}")
    numbers = int if kind == "randint" else (int, float)
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, numbers):
            what = "an integer" if kind == "randint" else "a number"
            raise ConfigError(f"{where}: {kind}'s arguments must be numbers ({what}), got {arg!r}")
    low, high = args
    if kind == "randint":
        if low > high:
            raise ConfigError(f"{where}: low {low} > high {high}; write {kind}({high}, {low})")
    elif not low < high:
        fix = f"write {kind}({high}, {low})" if low > high else f"use choice({_value_text(low)}) for one value"
        raise ConfigError(f"{where}: low {_value_text(low)} must be < high {_value_text(high)}; {fix}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(
            f"{where}: loguniform needs 0 < low, got low {_value_text(low)}; use uniform for a range that includes 0"
        )
    return Distribution(kind, (low, high))


def parse_param(text: str) -> tuple[str, Distribution]:
    """One ``--param`` option: ``"algo.learning_rate=loguniform(1e-4,3e-3)"`` -> (key, Distribution)."""
    where = f"--param '{text}'"
    key, sep, rhs = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"{where} must look like key.path=distribution, e.g. --param algo.learning_rate=loguniform(1e-4,3e-3)"
        )
    if not all(key.split(".")):
        raise ConfigError(f"{where}: empty part in key path '{key}'")
    return key, parse_distribution(rhs, where)


def parse_params(cli: list[str], from_yaml: dict[str, Any]) -> dict[str, tuple[Distribution, str]]:
    """The search space: the ``sweep.params`` of the config, then ``--param`` options (which
    replace a key of the config's). Returns key -> (distribution, where it was given)."""
    space: dict[str, tuple[Distribution, str]] = {}
    for key, text in from_yaml.items():
        where = f"config key 'sweep.params.{key}'"
        if not isinstance(key, str) or not key or not all(key.split(".")):
            raise ConfigError(f"config key 'sweep.params': {key!r} is not a config key path like algo.learning_rate")
        space[key] = (parse_distribution(text, where), where)
    given: set[str] = set()
    for text in cli:
        key, dist = parse_param(text)
        if key in given:
            raise ConfigError(f"--param '{text}': {key} is given twice; keep one --param {key}=...")
        given.add(key)
        space[key] = (dist, f"--param '{text}'")
    return space


def _first_values(space: dict[str, tuple[Distribution, str]]) -> dict[str, Any]:
    return {key: dist.check_values()[0] for key, (dist, _) in space.items()}


def apply_values(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the config mapping ``data`` with ``values`` (key path -> value) set in it."""
    out = copy.deepcopy(data)
    for key, value in values.items():
        apply_override(out, key.split("."), value)
    return out


def check_space(data: dict[str, Any], space: dict[str, tuple[Distribution, str]]) -> RunConfig:
    """Build the run config with each key's check values (the other keys at their first
    value) and raise a :class:`ConfigError` naming the ``--param`` (or config key) when one
    is refused. Returns the run config at the first values."""
    base = _first_values(space)
    config = load_run_config(data=apply_values(data, base))
    for key, (dist, where) in space.items():
        for value in dist.check_values():
            try:
                load_run_config(data=apply_values(data, {**base, key: value}))
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
    return config


def check_metric(metric: str | None, config: RunConfig, scheduler: str) -> str:
    """The metric must be a tag the trials write; eval/* needs periodic evaluation, and
    early stopping needs reports along the way (checkpoints)."""
    if not metric:
        raise ConfigError(
            "sweep needs --metric: a TensorBoard tag to optimise, e.g. --metric crafter/score or "
            "--metric eval/mean_return (or sweep.metric in the config)"
        )
    fixed_family = metric.startswith(("eval/", "crafter/")) or not metric.startswith(METRIC_PREFIXES)
    if metric not in KNOWN_METRICS and fixed_family:
        raise ConfigError(
            f"--metric '{metric}' is not a tag craftlab writes; {did_you_mean(metric, KNOWN_METRICS)}"
            f" (or a tag of {', '.join(METRIC_PREFIXES[:3])} that the agent or env writes)"
        )
    if metric.startswith("eval/") and config.train.eval_interval <= 0:
        raise ConfigError(
            f"--metric {metric} needs periodic evaluation, but train.eval_interval is 0; "
            "add --set train.eval_interval=N (env steps)"
        )
    if scheduler != "none" and config.train.checkpoint_interval <= 0:
        raise ConfigError(
            f"--scheduler {scheduler} stops trials on the metric reported at each checkpoint, but "
            "train.checkpoint_interval is 0; add --set train.checkpoint_interval=N or "
            "--scheduler none"
        )
    return metric


def load_sweep_config(data: dict[str, Any]) -> SweepConfig:
    """The ``sweep:`` section of a config mapping (defaults when absent), validated."""
    section = data.get(SWEEP_SECTION) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"config key '{SWEEP_SECTION}' must be a mapping, got {type(section).__name__}")
    return build_dataclass(SweepConfig, section, prefix=f"{SWEEP_SECTION}.")
