"""``python train.py sweep``: hyperparameter sweeps on Ray Tune, on this machine or a cluster.

::

    python train.py sweep CONFIG --param algo.learning_rate=loguniform(1e-4,3e-3) \\
        --param algo.ent_coef=choice(0.0,0.01) --samples 16 --metric crafter/score \\
        [--mode max] [--scheduler asha|median|none] [--search random|optuna] [--seeds 0 1 2] \\
        [--address auto] [--cpus-per-trial N] [--gpus-per-trial F] [--run-dir DIR] [--set key=value]
    python train.py sweep --resume DIR        continue a sweep whose driver stopped (Ctrl-C, a crash)

Every trial is a normal run folder inside the sweep folder (``watch``,
``eval``, ``report`` and TensorBoard work on it); the sweep folder also gets
trials.csv / trials.md and best_config.yaml (see craftlab.runs.ray_tune).
The search space (craftlab.runs.search_space) is checked against the config
before Ray starts: a typo is one line and exit status 2. The options can also
sit in the config's ``sweep:`` section; the command line overrides them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from craftlab.commands.experiment import add_ray_arguments, default_experiment_dir
from craftlab.core.config import (
    ConfigError,
    apply_override,
    build_dataclass,
    describe,
    load_yaml,
    parse_override,
    to_dict,
)
from craftlab.core.errors import UserError
from craftlab.runs.ray_tune import (
    BEST_CONFIG,
    SEED_KEY,
    TRIALS_MD,
    TUNE_DIR,
    SweepResult,
    require_optuna,
    require_ray,
    run_sweep,
    start_ray,
    trials_summary,
)
from craftlab.runs.search_space import (
    SWEEP_SECTION,
    Distribution,
    SweepConfig,
    check_metric,
    check_space,
    load_sweep_config,
    parse_distribution,
    parse_params,
)

SWEEP_FILE = "sweep.json"

CLI_OPTIONS = (
    "samples",
    "metric",
    "mode",
    "scheduler",
    "search",
    "seeds",
    "grace_period",
    "reduction_factor",
    "max_failures",
    "cpus_per_trial",
    "gpus_per_trial",
    "max_concurrent",
)
"""SweepConfig fields with a command-line option of the same name (``--samples``, ``--cpus-per-trial``, ...)"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py sweep",
        description="A hyperparameter sweep on Ray Tune: trials drawn from distributions, weak ones stopped "
        "early, every trial a run folder in one sweep folder. Same command on a laptop and a "
        "cluster (--address auto).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="distributions: uniform(low, high), loguniform(low, high), randint(low, high) (both ends "
        "included), choice(a, b, ...), grid(a, b, ...)\n\nthe config's sweep: section (the same "
        "settings; options override it):\n" + describe(SweepConfig, "sweep."),
    )
    p.add_argument("config", nargs="?", help="YAML config, e.g. configs/ppo_cartpole.yaml")
    p.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=DIST",
        help="a key to vary, e.g. --param 'algo.learning_rate=loguniform(1e-4,3e-3)' (repeatable)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fixed config value for every trial, e.g. --set train.total_timesteps=200000",
    )
    p.add_argument("--samples", type=int, help="trials drawn (x grid values x seeds; default 8)")
    p.add_argument("--metric", help="TensorBoard tag to optimise, e.g. crafter/score or eval/mean_return")
    p.add_argument("--mode", choices=["max", "min"], help="maximise (default) or minimise the metric")
    p.add_argument(
        "--scheduler", choices=["asha", "median", "none"], help="early stopping of weak trials (default asha)"
    )
    p.add_argument("--search", choices=["random", "optuna"], help="how values are drawn (default random)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="N", help="train each drawn configuration once per seed")
    p.add_argument("--grace-period", type=int, metavar="STEPS", help="env steps before a trial may be stopped")
    p.add_argument(
        "--reduction-factor", type=float, metavar="F", help="asha: the best 1/F of trials go on at each rung"
    )
    p.add_argument("--max-failures", type=int, metavar="N", help="restarts of a trial whose process dies (default 3)")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="at most N trials at a time")
    add_ray_arguments(p, launcher=False)
    p.add_argument("--run-dir", help="the sweep folder (default runs/<name>_sweep_<time>)")
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the sweep in DIR (its unfinished trials resume from their checkpoints)",
    )
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.resume:
        given = (
            [
                f"--{k.replace('_', '-')}"
                for k, v in vars(args).items()
                if k not in ("resume", "address", "params", "overrides", "config") and v is not None
            ]
            + (["CONFIG"] if args.config else [])
            + (["--param"] if args.params else [])
            + (["--set"] if args.overrides else [])
        )
        if given:
            raise UserError(f"sweep --resume continues a sweep as it was started: drop {' '.join(given)}")
        return resume_main(Path(args.resume), args.address)
    if not args.config:
        raise UserError(
            "sweep needs a CONFIG, e.g. python train.py sweep configs/ppo_cartpole.yaml "
            "--param 'algo.learning_rate=loguniform(1e-4,3e-3)' --metric eval/mean_return"
        )
    data = load_yaml(args.config)
    for text in args.overrides:
        keys, value = parse_override(text)
        apply_override(data, keys, value)
    sweep = sweep_settings(data, args)
    run_data = {k: v for k, v in data.items() if k != SWEEP_SECTION}
    space = parse_params(args.params, sweep.params)
    if not space:
        raise UserError(
            "sweep needs at least one --param KEY=DISTRIBUTION, e.g. --param "
            "'algo.learning_rate=loguniform(1e-4,3e-3)' (or sweep.params in the config)"
        )
    check_sweep(sweep, space)
    config = check_space(run_data, space)
    check_metric(sweep.metric, config, sweep.scheduler)
    if config.train.device == "cuda" and sweep.gpus_per_trial == 0:
        raise ConfigError(
            "train.device is 'cuda' but --gpus-per-trial is 0: Ray gives a trial only the GPUs it "
            "reserves; pass --gpus-per-trial F (e.g. 0.25: four trials per GPU) or use device auto"
        )
    folder = (
        Path(args.run_dir)
        if args.run_dir
        else default_experiment_dir(args.config, f"{config.name or Path(args.config).stem}_sweep")
    )
    if (folder / SWEEP_FILE).exists():
        raise FileExistsError(
            f"'{folder}' already holds a sweep; continue it with python train.py sweep --resume "
            f"{folder}, or choose another --run-dir"
        )
    require_ray("sweep")
    if sweep.search == "optuna":
        require_optuna()
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "config": str(args.config),
        "overrides": list(args.overrides),
        "data": run_data,
        "params": {key: str(dist) for key, (dist, _) in space.items()},
        "sweep": to_dict(sweep),
        "address": args.address,
        "command": ["train.py", "sweep", *argv],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / SWEEP_FILE).write_text(json.dumps(record, indent=2))
    n = sweep.samples * len(sweep.seeds or [0]) * _grid_size(space)
    print(
        f"sweep {folder}: {n} trials of {args.config}, {sweep.metric} ({sweep.mode}), scheduler {sweep.scheduler}, "
        f"search {sweep.search}; each trial {sweep.cpus_per_trial:g} CPU, {sweep.gpus_per_trial:g} GPU",
        flush=True,
    )
    start_ray(args.address, "sweep")
    result = run_sweep(folder, run_data, {key: dist for key, (dist, _) in space.items()}, sweep)
    return _print_result(folder, result, sweep)


def resume_main(folder: Path, address: str | None) -> int:
    """``sweep --resume DIR``: the sweep as sweep.json recorded it, Tune's state from DIR/tune."""
    path = folder / SWEEP_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"'{folder}' is not a sweep folder (no {SWEEP_FILE}); pass the folder python train.py sweep made"
        )
    if not (folder / TUNE_DIR).is_dir():
        raise FileNotFoundError(
            f"'{folder}' has no Ray Tune state ({TUNE_DIR}/): the sweep stopped before its first trial; start it again"
        )
    record = json.loads(path.read_text())
    sweep = build_dataclass(SweepConfig, record["sweep"], prefix="sweep.")
    space = {key: parse_distribution(text, f"{path}: params.{key}") for key, text in record["params"].items()}
    require_ray("sweep")
    if sweep.search == "optuna":
        require_optuna()
    print(f"sweep {folder}: resuming (finished trials stay, the others continue from their checkpoints)", flush=True)
    start_ray(address if address is not None else record.get("address"), "sweep")
    result = run_sweep(folder, record["data"], space, sweep, restore=True)
    return _print_result(folder, result, sweep)


def sweep_settings(data: dict[str, Any], args: argparse.Namespace) -> SweepConfig:
    """The config's sweep section with the command line's options over it, validated."""
    section = load_sweep_config(data)
    given = {name: getattr(args, name) for name in CLI_OPTIONS if getattr(args, name, None) is not None}
    merged = {**to_dict(section), **given}
    try:
        return build_dataclass(SweepConfig, merged, prefix="sweep.")
    except ConfigError as exc:
        message = str(exc)
        for name in given:  # name the option the user typed, not the section key
            message = message.replace(f"config key 'sweep.{name}'", f"--{name.replace('_', '-')}")
        raise ConfigError(message) from None


def check_sweep(sweep: SweepConfig, space: dict[str, tuple[Distribution, str]]) -> None:
    """Combinations the search cannot run."""
    if SEED_KEY in space and sweep.seeds:
        raise UserError(f"{space[SEED_KEY][1]} and --seeds both set the seed; keep one")
    if sweep.search == "optuna":
        grids = [where for dist, where in space.values() if dist.kind == "grid"]
        if grids:
            raise UserError(
                f"{grids[0]}: grid(...) goes with --search random (Optuna draws every value itself); use choice(...)"
            )
        if sweep.seeds and len(sweep.seeds) > 1:
            raise UserError(
                "--search optuna draws new values for every trial, so it cannot repeat one over "
                "--seeds; search with one seed, then train best_config.yaml with --seeds"
            )


def _grid_size(space: dict[str, tuple[Distribution, str]]) -> int:
    size = 1
    for dist, _ in space.values():
        if dist.kind == "grid":
            size *= len(dist.args)
    return size


def _print_result(folder: Path, result: SweepResult, sweep: SweepConfig) -> int:
    counts = ", ".join(f"{n} {status}" for status, n in trials_summary(result).items())
    lines = ["", f"sweep folder: {folder}  ({len(result.rows)} trials: {counts or 'none'})"]
    if result.best is not None:
        values = ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.best["values"].items()
        )
        lines += [
            f"  best:        {sweep.metric} = {result.best['metric']:.6g} ({', '.join(result.best['trials'])}): "
            f"{values}",
            f"  best config: {folder / BEST_CONFIG}   (train it: python train.py {folder / BEST_CONFIG} --seeds 0 1 2)",
        ]
    elif sweep.metric:
        lines.append(f"  no trial reported {sweep.metric}: no best config (their console.log says why)")
    lines += [
        f"  trials:      {folder / TRIALS_MD}",
        f"  TensorBoard: tensorboard --logdir {folder}",
        f"  watch one:   python train.py watch {folder}/<trial>",
    ]
    missing = [r.trial for r in result.rows if r.status not in ("pending", "error") and not (folder / r.trial).is_dir()]
    if missing:
        lines.append(
            f"  warning: {len(missing)} trials' run folders are not on this machine ({missing[0]}, ...): on a "
            "cluster --run-dir must be on a filesystem every machine shares (docs/sweeps.md)"
        )
    errors = [r for r in result.rows if r.status == "error"]
    for row in errors[:5]:
        lines.append(f"  {row.trial} failed: {row.error or 'see its console.log'}")
    if result.interrupted:
        lines.append(f"  interrupted: continue with python train.py sweep --resume {folder}")
    print("\n".join(lines))
    return 1 if errors or result.interrupted else 0
