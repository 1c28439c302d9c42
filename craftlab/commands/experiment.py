"""Experiments: several seeds of one config, run in parallel, in one folder.

::

    python train.py configs/default.yaml --seeds 0 1 2 3 4 [--parallel N] [--run-dir runs/my_exp]
        [--launcher auto|ray|local] [--address auto] [--cpus-per-trial N] [--gpus-per-trial F]

With Ray installed (``pip install -e '.[ray]'``) or an ``--address`` given, the
seeds are trials of Ray Tune (craftlab.runs.ray_tune), on this machine or a
cluster, each restarted from its latest checkpoint if its process dies; without
Ray (or with ``--launcher local``) this runs
``python train.py CONFIG --seed k --run-dir EXP/seed_k`` for each seed as a
local subprocess, at most ``N`` at a time (default: the number of CPU cores).
Either way each seed is a normal run folder, in the same layout::

    runs/<experiment>/
      experiment.json     config, overrides, seeds, each seed's command and exit status
      seed_0/             a run folder (config.yaml, episodes.jsonl, checkpoints/, ...)
        console.log       that run's terminal output
      seed_1/ ...
      tune/               (Ray only) Ray Tune's own state

Each local child gets ``OMP_NUM_THREADS`` = cores / N (unless already set), so N
runs do not fight over the cores. :func:`find_runs` lists the run folders of
an experiment (or a single run) for ``report``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from craftlab.core.config import apply_override, load_yaml, parse_override
from craftlab.core.errors import UserError
from craftlab.core.run_dir import CONFIG_FILE, EPISODES_FILE, RunDir
from craftlab.runs.ray_tune import require_ray, run_sweep, start_ray
from craftlab.runs.run_config import load_run_config
from craftlab.runs.search_space import SWEEP_SECTION, SweepConfig

RUN_MARKERS = (CONFIG_FILE, EPISODES_FILE)
EXPERIMENT_FILE = "experiment.json"


def is_run_dir(path: str | Path) -> bool:
    """A run folder has a config.yaml or an episodes.jsonl."""
    return any((Path(path) / m).exists() for m in RUN_MARKERS)


def find_runs(path: str | Path) -> list[Path]:
    """``[path]`` when it is a run folder, else its run sub-folders (``seed_*``
    and any other), sorted by seed number then name; [] when there are none."""
    path = Path(path)
    if is_run_dir(path):
        return [path]
    if not path.is_dir():
        return []

    def key(p: Path) -> tuple[int, str]:
        tail = p.name.rsplit("_", 1)[-1]
        return (int(tail) if tail.isdigit() else 1 << 30, p.name)

    return sorted((p for p in path.iterdir() if p.is_dir() and is_run_dir(p)), key=key)


def default_experiment_dir(config_path: str | Path, name: str | None, root: str | Path = "runs") -> Path:
    """``runs/<name>_<time>`` (name: the config's ``name``, else its file stem)."""
    stem = name or Path(config_path).stem
    return Path(root) / f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}"


def seed_command(
    config_path: str | Path, seed: int, run_dir: Path, overrides: Sequence[str] = (), extra: Sequence[str] = ()
) -> list[str]:
    """The command line of one seed, ``python -m craftlab CONFIG ...`` (the same as
    ``train.py``, and present in an installed package too; progress bar off: output goes to a log)."""
    cmd = [sys.executable, "-m", "craftlab", str(config_path), "--seed", str(seed), "--run-dir", str(run_dir)]
    for text in overrides:
        cmd += ["--set", text]
    cmd += ["--set", "train.progress_bar=false", *extra]
    return cmd


def launch_seeds(
    config_path: str | Path,
    seeds: Sequence[int],
    experiment_dir: str | Path,
    overrides: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    parallel: int | None = None,
    quiet: bool = False,
) -> dict[int, int]:
    """Train ``config_path`` once per seed in ``experiment_dir/seed_<k>/``, at most
    ``parallel`` (default: CPU cores) at a time. Returns ``{seed: exit status}``.
    Ctrl-C / SIGTERM is passed to the running children, which save and stop."""
    exp = Path(experiment_dir)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds has repeats: {list(seeds)}")
    busy = [s for s in seeds if RunDir(exp / f"seed_{s}").checkpoints.exists()]
    if busy:
        raise FileExistsError(
            f"experiment folder '{exp}' already has runs for seeds {busy}; "
            "choose another --run-dir (or resume a seed with --resume EXP/seed_K)"
        )
    exp.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    parallel = max(1, min(parallel or cores, len(seeds)))
    env = dict(os.environ)
    threads = str(max(1, cores // parallel))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    commands = {s: seed_command(config_path, s, exp / f"seed_{s}", overrides, extra_args) for s in seeds}
    record = {
        "config": str(config_path),
        "overrides": list(overrides),
        "seeds": list(seeds),
        "parallel": parallel,
        "launcher": "local",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "commands": {str(s): c for s, c in commands.items()},
        "status": {},
    }

    def save() -> None:
        (exp / EXPERIMENT_FILE).write_text(json.dumps(record, indent=2))

    save()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    say(f"experiment {exp}: {len(seeds)} seeds, {parallel} at a time (logs: {exp}/seed_K/console.log)")
    pending = list(seeds)
    running: dict[int, tuple[subprocess.Popen, object, float]] = {}
    status: dict[int, int] = {}
    stopping = False
    try:
        while pending or running:
            while pending and len(running) < parallel and not stopping:
                seed = pending.pop(0)
                run_dir = exp / f"seed_{seed}"
                run_dir.mkdir(parents=True, exist_ok=True)
                log = open(run_dir / "console.log", "w")
                proc = subprocess.Popen(commands[seed], stdout=log, stderr=subprocess.STDOUT, env=env)
                running[seed] = (proc, log, time.perf_counter())
                say(f"  seed {seed}: started (pid {proc.pid})")
            for seed, (proc, log, t0) in list(running.items()):
                code = proc.poll()
                if code is None:
                    continue
                log.close()  # type: ignore[attr-defined]
                del running[seed]
                status[seed] = code
                record["status"][str(seed)] = code
                save()
                how = "finished" if code == 0 else f"FAILED (exit {code}; see {exp / f'seed_{seed}' / 'console.log'})"
                say(f"  seed {seed}: {how} in {time.perf_counter() - t0:.0f} s")
            if stopping and not running:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        stopping = True
        say("interrupted: asking the running seeds to save and stop")
        for seed, (proc, log, _) in running.items():
            proc.send_signal(signal.SIGTERM)
        for seed, (proc, log, _) in running.items():
            status[seed] = proc.wait()
            record["status"][str(seed)] = status[seed]
            log.close()  # type: ignore[attr-defined]
        save()
        raise
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    save()
    return status


def add_ray_arguments(parser: argparse.ArgumentParser, launcher: bool = True) -> None:
    """The options of runs on Ray: ``train.py CONFIG --seeds ...`` (with ``launcher``) and ``train.py sweep``."""
    if launcher:
        parser.add_argument(
            "--launcher",
            choices=["auto", "ray", "local"],
            help="with --seeds: run the seeds as Ray Tune trials ('ray', also on a cluster) or local "
            "subprocesses ('local'); 'auto' (default): Ray when installed or --address is given",
        )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="the Ray cluster to run on: 'auto' (the one 'ray start' runs on this machine) or "
        "HOST:PORT; default: a Ray on this machine only",
    )
    parser.add_argument("--cpus-per-trial", type=float, metavar="N", help="CPU cores Ray reserves per run (default 1)")
    parser.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="F",
        help="GPUs Ray reserves per run, e.g. 0.25: four runs share a GPU (default 0)",
    )


def choose_launcher(launcher: str | None, address: str | None) -> str:
    """'ray' or 'local' for ``--seeds``: Ray when asked for, given an address, or installed."""
    launcher = launcher or "auto"
    if launcher == "local":
        if address is not None:
            raise UserError("--address runs the seeds on a Ray cluster; drop --launcher local")
        return "local"
    if launcher == "ray" or address is not None:
        require_ray("--seeds on Ray")
        return "ray"
    try:
        installed = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # a broken or hidden installation
        installed = False
    return "ray" if installed else "local"


def check_seed_options(args: argparse.Namespace) -> None:
    """Options that only mean something with ``--seeds``."""
    extra = [
        name
        for name in ("parallel", "launcher", "address", "cpus_per_trial", "gpus_per_trial")
        if getattr(args, name, None) is not None
    ]
    if extra:
        flag = "--" + extra[0].replace("_", "-")
        raise UserError(f"{flag} goes with --seeds (e.g. --seeds 0 1 2 {flag} ...), or use python train.py sweep")


def launch_seeds_on_ray(
    config_path: str | Path,
    seeds: Sequence[int],
    experiment_dir: str | Path,
    overrides: Sequence[str] = (),
    parallel: int | None = None,
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    quiet: bool = False,
) -> dict[int, int]:
    """:func:`launch_seeds` on Ray Tune: the same folder layout, each seed a trial
    (restarted from its latest checkpoint if its process dies). Returns ``{seed: 0
    (finished) or 1}``."""
    exp = Path(experiment_dir)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds has repeats: {list(seeds)}")
    busy = [s for s in seeds if RunDir(exp / f"seed_{s}").checkpoints.exists()]
    if busy:
        raise FileExistsError(
            f"experiment folder '{exp}' already has runs for seeds {busy}; "
            "choose another --run-dir (or resume a seed with --resume EXP/seed_K)"
        )
    data = load_yaml(config_path)
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(data, keys, value)
    data.pop(SWEEP_SECTION, None)
    sweep = SweepConfig(
        samples=1,
        scheduler="none",
        seeds=list(seeds),
        cpus_per_trial=cpus_per_trial or 1.0,
        gpus_per_trial=gpus_per_trial or 0.0,
        max_concurrent=parallel or 0,
    )
    sweep.validate()
    exp.mkdir(parents=True, exist_ok=True)
    record = {
        "config": str(config_path),
        "overrides": list(overrides),
        "seeds": list(seeds),
        "parallel": parallel,
        "launcher": "ray",
        "address": address,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "commands": {str(s): seed_command(config_path, s, exp / f"seed_{s}", overrides) for s in seeds},
        "status": {},
    }
    (exp / EXPERIMENT_FILE).write_text(json.dumps(record, indent=2))
    if not quiet:
        print(f"experiment {exp}: {len(seeds)} seeds as Ray Tune trials (logs: {exp}/seed_K/console.log)", flush=True)
    start_ray(address, "--seeds on Ray")
    result = run_sweep(exp, data, {}, sweep, naming="seed")
    status = {int(row.values.get("train.seed", -1)): 0 if row.status == "finished" else 1 for row in result.rows}
    record["status"] = {str(s): status.get(s, 1) for s in seeds}
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    (exp / EXPERIMENT_FILE).write_text(json.dumps(record, indent=2))
    return {s: status.get(s, 1) for s in seeds}


def train_seeds_main(args) -> int:
    """``python train.py CONFIG --seeds ...`` (``args`` from ``craftlab.commands.cli.train_parser``)."""

    if args.resume or args.seed is not None or args.checkpoint is not None:
        raise UserError(
            "--seeds starts new runs: drop --resume/--seed/--checkpoint (resume one seed with --resume EXP/seed_K)"
        )
    if not args.config:
        raise UserError("--seeds needs a CONFIG, e.g. python train.py configs/default.yaml --seeds 0 1 2")
    if args.parallel is not None and args.parallel < 1:
        raise UserError(f"--parallel must be >= 1, got {args.parallel}")
    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    config = load_run_config(args.config, overrides)  # fail here, once, on a bad config
    exp = Path(args.run_dir) if args.run_dir else default_experiment_dir(args.config, config.name)
    address = getattr(args, "address", None)
    launcher = choose_launcher(getattr(args, "launcher", None), address)
    if launcher == "local" and (getattr(args, "cpus_per_trial", None) or getattr(args, "gpus_per_trial", None)):
        raise UserError(
            "--cpus-per-trial / --gpus-per-trial are Ray's; the local launcher gives each seed "
            "cores / --parallel threads"
        )
    if launcher == "ray" and config.train.device == "cuda" and not getattr(args, "gpus_per_trial", None):
        raise UserError(
            "train.device is 'cuda' but --gpus-per-trial is 0: Ray gives a run only the GPUs it "
            "reserves; pass --gpus-per-trial F (e.g. 0.5: two seeds per GPU) or use device auto"
        )
    try:
        if launcher == "ray":
            status = launch_seeds_on_ray(
                args.config,
                args.seeds,
                exp,
                overrides,
                parallel=args.parallel,
                address=address,
                cpus_per_trial=getattr(args, "cpus_per_trial", None),
                gpus_per_trial=getattr(args, "gpus_per_trial", None),
            )
        else:
            status = launch_seeds(args.config, args.seeds, exp, overrides, parallel=args.parallel)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    failed = sorted(s for s, code in status.items() if code != 0)
    print(f"\nexperiment folder: {exp}  ({len(status) - len(failed)}/{len(args.seeds)} seeds finished)")
    print(f"  report:      python train.py report {exp}")
    print(f"  TensorBoard: tensorboard --logdir {exp}")
    if failed:
        print(f"  failed seeds: {failed} (their console.log says why)")
        return 1
    return 0
