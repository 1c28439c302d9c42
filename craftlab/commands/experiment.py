"""Experiments: several seeds of one config, run in parallel, in one folder.

::

    python train.py configs/default.yaml --seeds 0 1 2 3 4 [--parallel N] [--run-dir runs/my_exp]

runs ``python train.py CONFIG --seed k --run-dir EXP/seed_k`` for each seed,
at most ``N`` at a time (default: the number of CPU cores), each a normal run
folder::

    runs/<experiment>/
      experiment.json     config, overrides, seeds, each seed's command and exit status
      seed_0/             a run folder (config.yaml, episodes.jsonl, checkpoints/, ...)
        console.log       that run's terminal output
      seed_1/ ...

Each child gets ``OMP_NUM_THREADS`` = cores / N (unless already set), so N
runs do not fight over the cores. :func:`find_runs` lists the run folders of
an experiment (or a single run) for ``report``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence
from craftlab.core.errors import UserError
from craftlab.core.run_dir import CONFIG_FILE, EPISODES_FILE, RunDir
from craftlab.runs.run_config import load_run_config

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


def seed_command(config_path: str | Path, seed: int, run_dir: Path, overrides: Sequence[str] = (),
                 extra: Sequence[str] = ()) -> list[str]:
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
        raise FileExistsError(f"experiment folder '{exp}' already has runs for seeds {busy}; "
                              "choose another --run-dir (or resume a seed with --resume EXP/seed_K)")
    exp.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    parallel = max(1, min(parallel or cores, len(seeds)))
    env = dict(os.environ)
    threads = str(max(1, cores // parallel))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    commands = {s: seed_command(config_path, s, exp / f"seed_{s}", overrides, extra_args) for s in seeds}
    record = {"config": str(config_path), "overrides": list(overrides), "seeds": list(seeds), "parallel": parallel,
              "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "commands": {str(s): c for s, c in commands.items()},
              "status": {}}

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


def train_seeds_main(args) -> int:
    """``python train.py CONFIG --seeds ...`` (``args`` from ``craftlab.commands.cli.train_parser``)."""

    if args.resume or args.seed is not None or args.checkpoint is not None:
        raise UserError("--seeds starts new runs: drop --resume/--seed/--checkpoint "
                        "(resume one seed with --resume EXP/seed_K)")
    if not args.config:
        raise UserError("--seeds needs a CONFIG, e.g. python train.py configs/default.yaml --seeds 0 1 2")
    if args.parallel is not None and args.parallel < 1:
        raise UserError(f"--parallel must be >= 1, got {args.parallel}")
    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    config = load_run_config(args.config, overrides)  # fail here, once, on a bad config
    exp = Path(args.run_dir) if args.run_dir else default_experiment_dir(args.config, config.name)
    try:
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
