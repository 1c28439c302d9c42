"""Time to score: wall-clock until the Crafter score of the training episodes first
reaches SB3 PPO's published 1M-step result (4.6, the crafter README's "PPO"), for
craftlab's recipe and for SB3's PPO with its published defaults, one after the
other on the same machine, in one invocation.

Run by hand (the full comparison takes hours on a CPU; a GPU helps craftlab's recipe)::

    python benchmarks/time_to_score.py                          # both, up to 1M steps each
    python benchmarks/time_to_score.py --craftlab configs/levine/ppo_crafter_cpu.yaml --device cpu
    python benchmarks/time_to_score.py --budget 8192 --target 0.5 --min-episodes 5   # a smoke test

Contenders (each ``python train.py CONFIG`` in its own subprocess, its run folder under ``--out``):

* ``craftlab``  ``--craftlab`` (default ``configs/levine/ppo_crafter.yaml`` with CUDA, else
                ``ppo_crafter_cpu.yaml``): the 15.6 recipe
* ``sb3``       ``--sb3`` (default ``configs/sb3/ppo_crafter.yaml``): SB3's PPO, ``CnnPolicy``,
                its defaults (the configuration the published 4.6 comes from)

The score is the benchmark's: over *all* training episodes so far (each
achievement's success rate in percent, ``exp(mean ln(1 + s)) - 1``), read from
the run's ``episodes.jsonl`` as it grows (every ``--poll`` seconds). It counts
only from ``--min-episodes`` finished episodes on: a handful of episodes can
score high by chance. The clock starts when the trainer process starts (imports,
env and network building included). The trainer writes ``episodes.jsonl`` through
an 8 KB buffer (about 13 Crafter episodes): a time is late by at most the time
those take (under a second at GPU speeds, tens of seconds on a 2-core CPU). A contender stops at the target
(``--keep-going`` trains on to the budget) or at ``--budget`` steps.

Prints a table and writes ``--out/time_to_score.json``: per contender whether it
reached the target, the wall-clock seconds and env steps at that moment,
episodes, steps and score at the end, steps per second.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from craftlab.envs.crafter import ACHIEVEMENTS, crafter_score

ROOT = Path(__file__).resolve().parent.parent
SB3_PUBLISHED_PPO = 4.6
"""the crafter README's PPO (SB3 defaults) at 1M steps, percent"""


class ScoreTracker:
    """The benchmark's Crafter score over a run's finished episodes, read incrementally."""

    def __init__(self, episodes_file: Path):
        self.path = episodes_file
        self.offset = 0
        self.episodes = 0
        self.unlocked = np.zeros(len(ACHIEVEMENTS), dtype=np.int64)
        """episodes in which each achievement was unlocked at least once"""
        self.last_step = 0

    def read(self) -> None:
        """Fold in the episodes written since the last call (a line still being written waits)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            try:
                episode = json.loads(line)
            except ValueError:
                continue
            counts = episode.get("achievements") or {}
            self.unlocked += np.array([int(counts.get(name, 0)) >= 1 for name in ACHIEVEMENTS])
            self.episodes += 1
            self.last_step = max(self.last_step, int(episode.get("step", 0)))

    @property
    def score(self) -> float:
        return crafter_score(100.0 * self.unlocked / self.episodes) if self.episodes else float("nan")


def run_contender(name: str, config: str, args: argparse.Namespace, overrides: list[str]) -> dict:
    """Train ``config`` until the target score, the budget, or the end; time it."""
    run_dir = Path(args.out) / name
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        config,
        "--run-dir",
        str(run_dir),
        "--set",
        f"train.total_timesteps={args.budget}",
        "--set",
        f"train.seed={args.seed}",
        "--set",
        "train.progress_bar=false",
        "--set",
        "train.checkpoint_interval=0",
    ]
    if args.device:
        cmd += ["--device", args.device]
    for override in overrides:
        cmd += ["--set", override]
    print(f"[{name}] {' '.join(cmd)}", flush=True)
    tracker = ScoreTracker(run_dir / "episodes.jsonl")
    log = (Path(args.out) / f"{name}.log").open("w")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    reached: dict | None = None
    next_report = start + args.report_every
    try:
        while True:
            finished = proc.poll() is not None
            tracker.read()
            now = time.perf_counter()
            if reached is None and tracker.episodes >= args.min_episodes and tracker.score >= args.target:
                reached = {
                    "seconds": round(now - start, 1),
                    "step": tracker.last_step,
                    "episodes": tracker.episodes,
                    "score": round(tracker.score, 3),
                }
                print(
                    f"[{name}] reached {args.target}% after {reached['seconds']} s at step {reached['step']} "
                    f"({reached['episodes']} episodes)",
                    flush=True,
                )
                if not args.keep_going and not finished:
                    proc.send_signal(signal.SIGINT)  # finish the update, save, stop
            if now >= next_report and not finished:
                print(
                    f"[{name}] {now - start:7.0f} s  step {tracker.last_step:>8}  episodes {tracker.episodes:>6}  "
                    f"score {tracker.score:.2f}%",
                    flush=True,
                )
                next_report = now + args.report_every
            if finished:
                break
            time.sleep(args.poll)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    seconds = time.perf_counter() - start
    summary = {}
    if (run_dir / "summary.json").exists():
        summary = json.loads((run_dir / "summary.json").read_text())
    steps = int(summary.get("num_timesteps", tracker.last_step))
    return {
        "name": name,
        "config": config,
        "run_dir": str(run_dir),
        "returncode": proc.returncode,
        "reached": reached is not None,
        "time_to_target_s": reached and reached["seconds"],
        "step_at_target": reached and reached["step"],
        "wall_s": round(seconds, 1),
        "steps": steps,
        "steps_per_s": round(steps / seconds, 1) if seconds > 0 else None,
        "episodes": tracker.episodes,
        "final_score": round(tracker.score, 3) if tracker.episodes else None,
    }


def parser() -> argparse.ArgumentParser:
    cuda = _cuda_available()
    default = "configs/levine/ppo_crafter.yaml" if cuda else "configs/levine/ppo_crafter_cpu.yaml"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--craftlab", default=default, help=f"craftlab's config (default here: {default})")
    p.add_argument("--sb3", default="configs/sb3/ppo_crafter.yaml", help="SB3's config (its published defaults)")
    p.add_argument("--only", choices=["craftlab", "sb3"], help="run one contender")
    p.add_argument("--target", type=float, default=SB3_PUBLISHED_PPO, help="Crafter score %% to reach (default 4.6)")
    p.add_argument("--budget", type=int, default=1_000_000, help="env steps at most, per contender")
    p.add_argument("--min-episodes", type=int, default=100, help="episodes before the score counts (default 100)")
    p.add_argument("--keep-going", action="store_true", help="train on to the budget after reaching the target")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="both contenders' train.device")
    p.add_argument("--set-craftlab", action="append", default=[], metavar="KEY=VALUE", help="override (repeatable)")
    p.add_argument("--set-sb3", action="append", default=[], metavar="KEY=VALUE", help="override (repeatable)")
    p.add_argument("--out", default=f"runs/time_to_score_{time.strftime('%Y%m%d_%H%M%S')}", help="output folder")
    p.add_argument("--poll", type=float, default=5.0, help="seconds between reads of episodes.jsonl")
    p.add_argument("--report-every", type=float, default=60.0, help="seconds between progress lines")
    return p


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    contenders = [("craftlab", args.craftlab, args.set_craftlab), ("sb3", args.sb3, args.set_sb3)]
    results = [
        run_contender(name, config, args, sets) for name, config, sets in contenders if args.only in (None, name)
    ]
    record = {
        "target": args.target,
        "budget": args.budget,
        "min_episodes": args.min_episodes,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "cuda": _cuda_available()},
        "results": results,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out / "time_to_score.json").write_text(json.dumps(record, indent=2))
    print(
        f"\ntime to a Crafter score of {args.target}% (training episodes, >= {args.min_episodes} episodes), "
        f"budget {args.budget} steps, seed {args.seed}:"
    )
    print(
        f"{'contender':<10} {'reached':>7} {'seconds':>9} {'at step':>9} {'steps/s':>8} {'episodes':>8} "
        f"{'final score':>11}  config"
    )
    for r in results:
        seconds = f"{r['time_to_target_s']:.0f}" if r["reached"] else "-"
        step = str(r["step_at_target"]) if r["reached"] else "-"
        final = f"{r['final_score']:.2f}%" if r["final_score"] is not None else "-"
        print(
            f"{r['name']:<10} {str(r['reached']):>7} {seconds:>9} {step:>9} {r['steps_per_s']!s:>8} "
            f"{r['episodes']:>8} {final:>11}  {r['config']}"
        )
    if len(results) == 2 and all(r["reached"] for r in results):
        ratio = results[1]["time_to_target_s"] / max(results[0]["time_to_target_s"], 1e-9)
        print(f"craftlab reaches it {ratio:.2f}x as fast as SB3 (wall-clock)")
    print(f"written: {out / 'time_to_score.json'}")
    failed = [r["name"] for r in results if r["returncode"] not in (0, None)]
    if failed:
        print(f"training failed for: {', '.join(failed)} (see {out}/<name>.log)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
