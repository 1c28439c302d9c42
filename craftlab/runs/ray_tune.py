"""Trials on Ray Tune: every trial is a normal craftlab run in one folder, on
one machine or a cluster, with early stopping and restarts after crashes.

A sweep folder (``train.py sweep``; ``--seeds`` on Ray writes ``seed_<k>/``
run folders and ``experiment.json`` instead, see craftlab.commands.experiment)::

    runs/<sweep>/
      sweep.json            what was asked (config, search space, options); sweep --resume reads it
      trial_000/ ...        a run folder per trial: config.yaml, episodes.jsonl, TensorBoard,
                            checkpoints/, summary.json, console.log (the trial's output)
      trials.csv, trials.md one row per trial: its values, the metric, steps, status (kept current)
      best_config.yaml      the best configuration (mean over seeds), ready to train
      tune/                 Ray Tune's own state (Tuner.restore) and per-trial results

How a trial runs (:func:`run_trial`, in a Ray worker process): it builds the
run config from the sweep's config and its drawn values and calls
:func:`craftlab.runs.training.train` with an ``on_report`` hook, so at each
checkpoint the latest value of every TensorBoard tag goes to ``tune.report``
(:class:`TuneReporter`) and Tune's scheduler (ASHA, median stopping) may end
it; the run's summary.json then says ``stopped_early``. A trial whose process
dies (kill -9, a lost node) is started again by Tune (``max_failures``) and
finds its checkpoints in its run folder: craftlab's own
:func:`~craftlab.runs.training.resume` continues it from the latest one, and
since it reported right after saving that checkpoint, its curves and Tune's
results go on with no step missing or repeated.

Ray is optional (``pip install -e '.[ray]'``): it is imported inside the
functions that use it, never at the top of a module.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import logging
import math
import os
import socket
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from craftlab.core.checkpoint import Checkpointer, write_text_atomic
from craftlab.core.errors import UserError
from craftlab.core.run_dir import RunDir
from craftlab.runs.run_config import load_run_config
from craftlab.runs.search_space import Distribution, SweepConfig, apply_values
from craftlab.runs.training import resume, train

INSTALL_HINT = "pip install -e '.[ray]'"
TUNE_DIR = "tune"
"""Ray Tune's experiment folder inside a sweep folder"""
TRIALS_CSV, TRIALS_MD, BEST_CONFIG = "trials.csv", "trials.md", "best_config.yaml"
SEED_KEY = "train.seed"
TRIAL_PROCESS_ENV = {"TUNE_FUNCTION_THREAD_TIMEOUT_S": "60"}
"""for the trial processes: a process goes on to the next trial (Tune's actor reuse) once the
last one has ended, which a stopped trial does after saving its checkpoint and summary;
Tune waits 2 s for that by default, then fails the next trial"""


def require_ray(what: str = "this") -> Any:
    """Import Ray Tune, or raise a one-line :class:`UserError` with the install command."""
    try:
        import ray
        import ray.tune  # noqa: F401  (its extra dependencies: pandas, pyarrow, ...)
    except ImportError as exc:
        raise UserError(
            f"{what} needs Ray Tune, an optional dependency ({exc.name or exc} is missing): {INSTALL_HINT}"
        ) from None
    return ray


def require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UserError(f"--search optuna needs the optuna package: {INSTALL_HINT}") from None


def start_ray(address: str | None, what: str = "this") -> None:
    """Connect to the Ray cluster at ``address`` ('auto': the one ``ray start`` runs on this
    machine), or start a local Ray on this machine's cores; nothing if already connected."""
    ray = require_ray(what)
    if ray.is_initialized():
        return
    try:
        # Trials write their output to their run folder's console.log, not to this terminal.
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
            runtime_env={"env_vars": TRIAL_PROCESS_ENV},
        )
    except ConnectionError as exc:
        raise UserError(
            f"--address {address}: no Ray cluster found ({str(exc).splitlines()[0]}); start one with "
            "'ray start --head' (and 'ray start --address=HEAD:6379' on the other machines), "
            "or drop --address for a Ray on this machine only"
        ) from None


# ---------------------------------------------------------------- one trial


@dataclass(frozen=True)
class TrialSpec:
    """What every trial of a sweep shares; sent to the trial processes."""

    data: dict
    """the config mapping (YAML + --set), without its sweep section"""
    folder: str
    """the sweep (or experiment) folder, absolute: trials write their run folders in it"""
    naming: str = "trial"
    """run folder names: 'trial' (trial_000, ...) or 'seed' (seed_<k>, the --seeds layout)"""
    metric: str | None = None
    """the tag Tune optimises (reported as NaN until the run writes it)"""


def trial_folder_name(trial: Any, naming: str, first: int = 0) -> str:
    """The run folder of a Tune trial: ``seed_<k>``, or ``trial_<n>`` with n the search's
    counter (Tune's experiment tag starts with it; ``first``: the search's first number,
    0 for random search, 1 for Optuna's). Tune's own folder of the trial (in tune/) gets
    this name too, which is how the trial's process learns it."""
    if getattr(trial, "custom_dirname", None):
        return str(trial.custom_dirname)
    if naming == "seed":
        return f"seed_{trial.config[SEED_KEY]}"
    return f"trial_{int(str(trial.experiment_tag).split('_', 1)[0]) - first:03d}"


class TuneReporter:
    """``on_report`` for :func:`craftlab.runs.training.train`: each checkpoint's scalars to
    ``tune.report``, with ``num_timesteps`` (the scheduler's clock: it goes on across
    restarts) and the metric (NaN until the run writes it). Returns False once Tune has
    stopped the trial (``tune.report`` then exits the trial's thread: caught here, so the
    run stops after this update and writes its summary; run_trial exits after)."""

    def __init__(self, metric: str | None):
        self.metric = metric
        self.stopped = False

    def __call__(self, step: int, scalars: dict[str, float]) -> bool:
        from ray import tune

        if self.stopped:
            return False
        result = {**scalars, "num_timesteps": int(step)}
        if self.metric is not None and self.metric not in result:
            result[self.metric] = math.nan
        try:
            tune.report(result)
        except SystemExit:  # Tune stopped this trial (ASHA, median stopping, the end of the sweep)
            self.stopped = True
            return False
        return True


def run_trial(params: dict[str, Any], spec: TrialSpec) -> None:
    """Ray Tune's trainable: train one run folder with the drawn ``params`` (config key ->
    value), or continue it from its latest checkpoint when an earlier attempt died."""
    import ray
    from ray import tune

    trial_id = tune.get_context().get_trial_id()
    run_dir = Path(spec.folder) / Path(tune.get_context().get_trial_dir()).name  # see trial_folder_name
    run_dir.mkdir(parents=True, exist_ok=True)
    values = {**params, "train.progress_bar": False}
    if not ray.get_gpu_ids() and spec.data.get("train", {}).get("device", "auto") == "auto":
        values["train.device"] = "cpu"  # no GPU of its own: stay off the GPUs other trials hold
    reporter = TuneReporter(spec.metric)
    with (
        open(RunDir(run_dir).path / "console.log", "a", buffering=1) as console,
        contextlib.redirect_stdout(console),
        contextlib.redirect_stderr(console),
    ):
        print(
            f"ray trial {trial_id}: process {os.getpid()} on {socket.gethostname()}, "
            f"GPUs {ray.get_gpu_ids() or 'none'}, {time.strftime('%Y-%m-%dT%H:%M:%S')}"
        )
        latest = Checkpointer(RunDir(run_dir).checkpoints).latest()
        summary = _read_summary(RunDir(run_dir))
        if (
            latest is not None
            and summary.get("status") in ("finished", "stopped_early")
            and summary.get("num_timesteps") == latest.step
        ):
            # It ended, but Tune did not hear of it (a killed process, a restored sweep): say it again.
            print(
                f"ray trial {trial_id}: {run_dir} has ended ({summary['status']} at step {latest.step}); "
                "reporting its last values"
            )
            reporter(latest.step, last_scalars(run_dir))
        elif latest is not None:
            print(f"ray trial {trial_id}: resuming {run_dir} from its latest checkpoint")
            resume(run_dir, on_report=reporter, handle_signals=False)
        else:
            train(
                load_run_config(data=apply_values(spec.data, values)), run_dir, on_report=reporter, handle_signals=False
            )
    if reporter.stopped:  # Tune ended the trial in tune.report: end the thread as it expects, once the run is saved
        raise SystemExit(0)


def last_scalars(run_dir: Path) -> dict[str, float]:
    """The last value of each TensorBoard tag in a run folder (what its last report held)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: float(events.Scalars(tag)[-1].value) for tag in events.Tags()["scalars"]}


# ---------------------------------------------------------------- the tuner


@dataclass
class TrialRow:
    """One line of trials.csv."""

    trial: str
    values: dict[str, Any]
    """the drawn values (config key -> value), the seed included"""
    metric: float | None
    steps: int | None
    status: str
    """pending, running, finished, stopped_early, error"""
    error: str = ""
    time_s: float | None = None


@dataclass
class SweepResult:
    rows: list[TrialRow] = field(default_factory=list)
    best: dict[str, Any] | None = None
    """the best configuration's values, its mean metric, its trials"""
    interrupted: bool = False


def param_space(space: dict[str, Distribution], seeds: list[int] | None) -> dict[str, Any]:
    """The search space in Tune's API; several seeds are a grid (each drawn configuration
    runs with every seed: random search keeps the drawn values constant over it)."""
    from ray import tune

    out = {key: dist.to_tune() for key, dist in space.items()}
    if seeds:
        out[SEED_KEY] = tune.grid_search(list(seeds)) if len(seeds) > 1 else seeds[0]
    return out


def _scheduler(sweep: SweepConfig, total_timesteps: int, checkpoint_interval: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    grace = sweep.grace_period or max(total_timesteps // 8, checkpoint_interval, 1)
    if sweep.scheduler == "asha":
        return ASHAScheduler(
            time_attr="num_timesteps",
            max_t=total_timesteps,
            grace_period=min(grace, total_timesteps),
            reduction_factor=sweep.reduction_factor,
        )
    if sweep.scheduler == "median":
        # min_time_slice inf (typed int, any number works): never pause a trial to let others catch up (Tune
        # would end its process, and it would restart from its checkpoint); with fewer than 3 others to
        # compare with, it goes on
        return MedianStoppingRule(
            time_attr="num_timesteps",
            grace_period=grace,
            min_samples_required=3,
            min_time_slice=math.inf,  # type: ignore[arg-type]
        )
    return FIFOScheduler()


def _search(sweep: SweepConfig, seed: int) -> Any:
    if sweep.search == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=seed)
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(constant_grid_search=True, random_state=seed)


def run_sweep(
    folder: Path,
    data: dict[str, Any],
    space: dict[str, Distribution],
    sweep: SweepConfig,
    naming: str = "trial",
    restore: bool = False,
) -> SweepResult:
    """Run (or with ``restore``, continue) the trials of a sweep in ``folder`` on the Ray
    that :func:`start_ray` connected to. ``data``: the config mapping without its sweep
    section; ``space``: key -> distribution. Then writes trials.csv / trials.md,
    best_config.yaml (when there is a metric) and the summary.json of trials that Tune
    stopped before they could write it. Returns the table."""
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    folder = folder.resolve()
    config = load_run_config(data=data)
    total = config.train.total_timesteps
    spec = TrialSpec(data=data, folder=str(folder), naming=naming, metric=sweep.metric)
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, spec=spec), {"cpu": sweep.cpus_per_trial, "gpu": sweep.gpus_per_trial}
    )
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)  # trials without results
    # Tune's TensorBoard copy of every result would sit beside the runs' own curves: CSV and JSON only.
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    if restore:
        tuner = tune.Tuner.restore(
            str(folder / TUNE_DIR), trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(space, sweep.seeds),
            tune_config=tune.TuneConfig(
                metric=sweep.metric,
                mode=sweep.mode if sweep.metric else None,
                search_alg=_search(sweep, config.train.seed),
                scheduler=_scheduler(sweep, total, config.train.checkpoint_interval),
                num_samples=sweep.samples,
                max_concurrent_trials=sweep.max_concurrent or None,
                reuse_actors=True,  # one process per slot, not per trial: no start-up (imports) for each trial
                trial_dirname_creator=functools.partial(
                    trial_folder_name, naming=naming, first=1 if sweep.search == "optuna" else 0
                ),
            ),
            run_config=tune.RunConfig(
                name=TUNE_DIR,
                storage_path=str(folder),
                failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
                callbacks=[JsonLoggerCallback(), CSVLoggerCallback(), _progress_lines(naming, sweep.metric, total)],
                verbose=0,  # Tune's boxes; one line per trial event instead (_progress_lines)
            ),
        )
    interrupted = False
    try:
        with warnings.catch_warnings():  # ASHA's quantile of a rung where no trial has the metric yet
            warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
            tuner.fit()
    except KeyboardInterrupt:
        interrupted = True
    trials = tune.ExperimentAnalysis(str(folder / TUNE_DIR)).trials
    rows = [_row(trial, folder, sweep, list(space), naming, total) for trial in trials]
    rows.sort(key=lambda r: r.trial)
    for row in rows:
        if row.status in ("finished", "stopped_early"):
            _complete_summary(RunDir(folder / row.trial), row, sweep.scheduler)
    result = SweepResult(rows=rows, interrupted=interrupted or any(r.status in ("pending", "running") for r in rows))
    write_trials_table(folder, rows, sweep, list(space))
    if sweep.metric:
        result.best = best_configuration(rows, sweep.mode)
        if result.best is not None:
            write_best_config(folder / BEST_CONFIG, data, result.best, sweep, folder)
    return result


def _progress_lines(naming: str, metric: str | None, total: int) -> Any:
    """A Tune callback printing one line when a trial starts, ends, fails or restarts."""
    from ray import tune

    def name(trial: Any) -> str:
        return trial_folder_name(trial, naming)

    def say(trials: list[Any], text: str) -> None:
        done = sum(t.status in ("TERMINATED", "ERROR") for t in trials)
        print(f"  [{done}/{len(trials)} done] {text}", flush=True)

    class ProgressLines(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            values = ", ".join(f"{k}={_text(v)}" for k, v in trial.config.items())
            say(trials, f"{name(trial)} started: {values}")

        def on_trial_complete(self, iteration, trials, trial, **info):
            last = trial.last_result or {}
            steps = last.get("num_timesteps", 0)
            how = "finished" if steps >= total else "stopped early"
            value = f", {metric} {_text(last.get(metric))}" if metric else ""
            say(trials, f"{name(trial)} {how} at step {steps:,}{value}")

        def on_trial_recover(self, iteration, trials, trial, **info):
            say(
                trials,
                f"{name(trial)} died ({_error_line(trial) or 'its process ended'}); restarting it from its "
                "latest checkpoint",
            )

        def on_trial_error(self, iteration, trials, trial, **info):
            say(trials, f"{name(trial)} FAILED: {_error_line(trial) or 'see its console.log'}")

    return ProgressLines()


def _row(trial: Any, folder: Path, sweep: SweepConfig, keys: list[str], naming: str, total: int) -> TrialRow:
    """A Tune trial (as the experiment state on disk has it) as a line of the table."""
    name = trial_folder_name(trial, naming)
    last = trial.last_result or {}
    steps = last.get("num_timesteps")
    metric = last.get(sweep.metric) if sweep.metric else None
    metric = float(metric) if isinstance(metric, (int, float)) and math.isfinite(metric) else None
    status, error = _status(trial, RunDir(folder / name), steps, total)
    values = {key: trial.config.get(key) for key in [*keys, SEED_KEY] if key in trial.config}
    return TrialRow(name, values, metric, steps, status, error, last.get("time_total_s"))


# ---------------------------------------------------------------- the table


def _status(trial: Any, run: RunDir, steps: int | None, total: int) -> tuple[str, str]:
    """(status, error line) of a Tune trial, the run folder's summary.json first."""
    if trial.status == "PENDING":
        return "pending", ""
    if trial.status in ("RUNNING", "PAUSED"):
        return "running", ""
    if trial.status == "ERROR":
        return "error", _error_line(trial)
    summary = _read_summary(run)
    if summary.get("status") in ("finished", "stopped_early") and summary.get("num_timesteps") == steps:
        return str(summary["status"]), ""
    # Tune ended it and the run had no time to say how (its process is stopped right away)
    return ("finished" if steps is not None and steps >= total else "stopped_early"), ""


def _error_line(trial: Any) -> str:
    try:
        error = trial.get_error()
    except Exception:  # noqa: BLE001  (a missing or unreadable error file: no line)
        return ""
    lines = [ln.strip() for ln in str(error or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _read_summary(run: RunDir) -> dict[str, Any]:
    try:
        data = json.loads(run.summary.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _complete_summary(run: RunDir, row: TrialRow, scheduler: str) -> None:
    """A trial Tune stopped may have been ended before it wrote summary.json (its process
    is stopped right after the stop): write it from what the trial reported, counting the
    episodes up to that step in episodes.jsonl."""
    if not run.path.is_dir() or row.steps is None:
        return
    summary = _read_summary(run)
    if summary.get("status") == row.status and summary.get("num_timesteps") == row.steps:
        return
    episodes = 0
    if run.episodes.exists():
        for line in run.episodes.read_text().splitlines():
            try:
                episodes += json.loads(line).get("step", 0) <= row.steps
            except ValueError:
                pass
    summary = {
        "status": row.status,
        "num_timesteps": row.steps,
        "wall_time_s": round(row.time_s or 0.0, 2),
        "episodes": episodes,
    }
    if row.status == "stopped_early":
        summary["stopped_by"] = f"Ray Tune's {scheduler} scheduler at step {row.steps}"
    write_text_atomic(run.summary, json.dumps(summary, indent=2))


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict, bool)) or value is None:
        return json.dumps(value)
    return str(value)


def write_trials_table(folder: Path, rows: list[TrialRow], sweep: SweepConfig, keys: list[str]) -> None:
    """trials.csv (every value in full) and trials.md (best first) in ``folder``."""
    keys = [*keys, SEED_KEY] if any(SEED_KEY in r.values for r in rows) and SEED_KEY not in keys else list(keys)
    metric = sweep.metric or "metric"
    header = ["trial", *keys, metric, "steps", "status", "error"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for r in rows:
        writer.writerow(
            [
                r.trial,
                *[
                    json.dumps(r.values.get(k)) if isinstance(r.values.get(k), (list, dict)) else r.values.get(k)
                    for k in keys
                ],
                "" if r.metric is None else repr(r.metric),
                "" if r.steps is None else r.steps,
                r.status,
                r.error,
            ]
        )
    write_text_atomic(folder / TRIALS_CSV, out.getvalue())

    sign = -1.0 if sweep.mode == "max" else 1.0
    ranked = sorted(rows, key=lambda r: (r.metric is None, sign * (r.metric or 0.0), r.trial))
    lines = [f"# Trials of {folder.name}", ""]
    if sweep.metric:
        lines += [
            f"metric: `{sweep.metric}` ({sweep.mode}, last value reported), scheduler: {sweep.scheduler}, "
            f"search: {sweep.search}",
            "",
        ]
    lines += ["| " + " | ".join(header[:-1]) + " |", "|" + "---|" * (len(header) - 1)]
    for r in ranked:
        cells = [
            r.trial,
            *[_text(r.values.get(k)) for k in keys],
            "" if r.metric is None else f"{r.metric:.6g}",
            "" if r.steps is None else f"{r.steps:,}",
            r.status,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    errors = [r for r in rows if r.error]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {r.trial}: {r.error}" for r in errors]
    write_text_atomic(folder / TRIALS_MD, "\n".join(lines) + "\n")


def best_configuration(rows: list[TrialRow], mode: str) -> dict[str, Any] | None:
    """The configuration (values without the seed) with the best metric, the mean over its
    seeds' trials that reported one; None when no trial did."""
    groups: dict[str, list[TrialRow]] = {}
    for r in rows:
        if r.metric is not None:
            values = {k: v for k, v in r.values.items() if k != SEED_KEY}
            groups.setdefault(json.dumps(values, sort_keys=True, default=str), []).append(r)
    if not groups:
        return None
    pick = max if mode == "max" else min
    key = pick(groups, key=lambda k: statistics.fmean(r.metric for r in groups[k]))  # type: ignore[misc]
    trials = groups[key]
    return {
        "values": {k: v for k, v in trials[0].values.items() if k != SEED_KEY},
        "metric": statistics.fmean(r.metric for r in trials),  # type: ignore[misc]
        "trials": [r.trial for r in trials],
        "seeds": [r.values.get(SEED_KEY) for r in trials if SEED_KEY in r.values],
    }


def write_best_config(path: Path, data: dict[str, Any], best: dict[str, Any], sweep: SweepConfig, folder: Path) -> None:
    """The sweep's config with the best values set: a YAML ``train.py`` trains as is."""
    config = apply_values(data, best["values"])
    values = ", ".join(f"{k}={_text(v)}" for k, v in best["values"].items()) or "(no values varied)"
    seeds = f", mean of seeds {best['seeds']}" if len(best["seeds"]) > 1 else ""
    header = [
        f"# Best configuration of the sweep {folder}:",
        f"#   {sweep.metric} = {best['metric']:.6g} ({sweep.mode}{seeds}; trials {', '.join(best['trials'])})",
        f"#   values: {values}",
        f"# Train it: python train.py {path} --seeds 0 1 2",
    ]
    write_text_atomic(path, "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False))


def trials_summary(result: SweepResult) -> dict[str, int]:
    """status -> number of trials."""
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
