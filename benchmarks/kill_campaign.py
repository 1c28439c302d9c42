"""Kill -9 campaign: training runs are killed at random moments (some in the
middle of a checkpoint write, some while they resume), resumed after each
kill, and checked at the end: no episode line lost, no TensorBoard step
missing or shown twice. Run by hand (minutes)::

    python benchmarks/kill_campaign.py --kills 21               # 7 kills per algorithm
    python benchmarks/kill_campaign.py --kills 21 --root /tmp/old   # another checkout's code

Each algorithm (PPO CartPole, tabular Q-learning CliffWalking, SB3 A2C
CartPole) gets one run folder and its share of the kills, each at one of
these moments of a ``python train.py`` subprocess:

=============  ================================================================
``startup``    a fresh run, before its first checkpoint (it then starts over)
``training``   a random moment after the process saved a checkpoint
``checkpoint`` right after a ``.tmp-*`` folder appears: mid checkpoint write
``resume``     a resuming process, as it rewrites ``episodes.jsonl`` (a
               temporary file appears or the file shrinks) or opens its
               TensorBoard file, whichever comes first
=============  ================================================================

After each kill the next process resumes the run (``--resume``), or starts it
over when no checkpoint exists. What the folder shows right after each kill is
kept; a last resume finishes the run, and then:

- ``episodes.jsonl``: steps never go back, as many lines as ``summary.json``'s
  episodes, and for each resume, its lines up to the checkpoint it resumed from
  are the ones the folder held before it, as many as that checkpoint counted
  (``meta.json``'s episodes): the "lost" column;
- TensorBoard, every tag: each point shown before a resume at or before its
  checkpoint's step is still shown ("TB lost"), and no step is shown twice
  (episode tags: exactly episodes.jsonl's steps; "TB repeated");
- ``eval/evaluations.jsonl``, where the run evaluates: one line per step;
- the checkpoints folder holds no ``.tmp-*`` / ``.old-*`` leftovers.

Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from tb import lost_points, read_scalars, repeated_steps  # noqa: E402

from craftlab.core.checkpoint import LATEST_FILE as LATEST  # noqa: E402
from craftlab.core.checkpoint import read_meta  # noqa: E402
from craftlab.core.run_dir import RunDir  # noqa: E402

NEVER_ENDS = 10_000_000
"""total_timesteps of the processes to kill: none ends on its own"""

COMMON = ["--device", "cpu", "--set", "train.progress_bar=false", "--set", "train.torch_threads=1"]
ALGOS: dict[str, list[str]] = {
    "ppo": [
        "configs/ppo_cartpole.yaml",
        "--set",
        "train.checkpoint_interval=1024",
        "--set",
        "train.eval_interval=2048",
        "--set",
        "train.eval_episodes=2",
    ],
    "q_learning": [
        "configs/silver/q_learning.yaml",
        "--set",
        "train.checkpoint_interval=2000",
        "--set",
        "train.eval_interval=0",
    ],
    "sb3_a2c": [
        "configs/sb3/a2c_cartpole.yaml",
        "--set",
        "train.checkpoint_interval=1000",
        "--set",
        "train.eval_interval=0",
    ],
}
"""the train.py arguments of each algorithm's run (config, checkpoint interval)"""

MOMENTS = ("training", "checkpoint", "resume")


@dataclass
class Kill:
    """One kill -9 and the resume after it."""

    algo: str
    moment: str
    """when it was killed (see the module docstring)"""
    latest: int
    """the newest complete checkpoint's step right after the kill (0: none)"""
    episodes: list[str]
    """episodes.jsonl's lines right after the kill"""
    scalars: dict[str, list[tuple[int, float]]]
    """what TensorBoard showed right after the kill"""
    counted: dict[int, int]
    """episodes counted by each checkpoint's meta.json (step -> episodes)"""
    leftovers: list[str] = field(default_factory=list)
    """temporary files and folders the kill left (.tmp-* of a checkpoint or of episodes.jsonl, .old-*)"""
    resumed_from: int | None = None
    """the step the next process resumed from (0: started over); None: unknown"""
    lost_lines: int = 0
    changed_lines: int = 0
    lost_tb: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcome:
    """One algorithm's run after its campaign."""

    algo: str
    kills: list[Kill]
    episodes: int = 0
    summary_episodes: int | None = None
    repeated_tb: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ processes


def start(
    root: Path, run_dir: Path, algo: str, resume: bool, total: int = NEVER_ENDS, overrides: list[str] = ()
) -> subprocess.Popen:
    """``python train.py`` on ``root``'s code: a new run in ``run_dir`` or its resume
    (``overrides``: more train.py arguments for a new run, e.g. ``--set KEY=VALUE``)."""
    what = ["--resume", str(run_dir)] if resume else [*ALGOS[algo], *overrides, "--run-dir", str(run_dir)]
    cmd = [sys.executable, "train.py", *what, *COMMON, "--set", f"train.total_timesteps={total}"]
    err = open(run_dir.parent / f"{run_dir.name}.stderr", "a")
    return subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=err)


def wait_until(proc: subprocess.Popen, condition, timeout: float, poll: float = 0.002) -> bool:
    """Poll ``condition()`` until it holds (True) or ``proc`` exits (False). The
    timeout is only a safety net against a hung process: the wait ends on an event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(poll)
    raise TimeoutError(f"nothing happened in {timeout:.0f} s (pid {proc.pid})")


def checkpoint_names(run_dir: Path) -> list[str]:
    folder = RunDir(run_dir).checkpoints
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def latest_step(run_dir: Path) -> int:
    """The newest complete checkpoint's step (0: none)."""
    steps = [
        int(n.split("_")[1])
        for n in checkpoint_names(run_dir)
        if n.startswith("step_") and read_meta(RunDir(run_dir).checkpoints / n) is not None
    ]
    return max(steps, default=0)


def kill_at(
    proc: subprocess.Popen, run_dir: Path, moment: str, resuming: bool, rng: random.Random, timeout: float
) -> str:
    """Wait for ``moment`` in ``proc``'s life, then kill -9 it; returns the moment
    that was used (``resume`` on a fresh start becomes ``startup``)."""
    run = RunDir(run_dir)
    if moment == "resume" and not resuming:
        moment = "startup"
    before = latest_step(run_dir)
    old_events = set(run.tensorboard_files())
    new_events = lambda: bool(set(run.tensorboard_files()) - old_events)  # noqa: E731
    if moment == "startup":
        condition = new_events
    elif moment == "resume":
        size = run.episodes.stat().st_size if run.episodes.exists() else 0

        def condition():
            rewriting = any(p.name.startswith(f".{run.episodes.name}.tmp-") for p in run_dir.iterdir())
            shrunk = run.episodes.exists() and run.episodes.stat().st_size < size
            return rewriting or shrunk or new_events()
    else:  # a checkpoint of this process first: something to resume from
        ok = wait_until(proc, lambda: latest_step(run_dir) > before, timeout)
        if ok and moment == "training":
            time.sleep(rng.uniform(0.0, 1.5))
        condition = (
            (lambda: True)
            if moment == "training"
            else (lambda: any(n.startswith(".tmp-") for n in checkpoint_names(run_dir)))
        )
    if not wait_until(proc, condition, timeout, poll=0.0005 if moment in ("checkpoint", "resume") else 0.002):
        raise RuntimeError(
            f"{run_dir.name}: the process ended before the '{moment}' kill (rc {proc.returncode});"
            f" see {run_dir.name}.stderr"
        )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return moment


def snapshot(run_dir: Path, algo: str, moment: str) -> Kill:
    """What the folder shows right after a kill."""
    run = RunDir(run_dir)
    counted = {}
    for name in checkpoint_names(run_dir):  # also .old-* / .tmp-*: a resume may put one back
        meta = read_meta(run.checkpoints / name)
        if meta is not None and "episodes" in meta:
            counted[int(meta["num_timesteps"])] = int(meta["episodes"])
    lines = run.episodes.read_text().splitlines() if run.episodes.exists() else []
    leftovers = [n for n in checkpoint_names(run_dir) if n.startswith((".tmp-", ".old-", f".{LATEST}.tmp-"))]
    leftovers += [p.name for p in run_dir.glob(".*.tmp-*")]
    return Kill(algo, moment, latest_step(run_dir), lines, read_scalars(run_dir), counted, leftovers)


def start_lines(run_dir: Path) -> list[str]:
    """train.log's lines that say how a process started ("new run" / "resumed from ... at step N")."""
    log = RunDir(run_dir).log
    text = log.read_text() if log.exists() else ""
    return [line for line in text.splitlines() if " new run: " in line or " resumed from " in line]


def started_from(line: str) -> int:
    return int(line.rsplit(" ", 1)[1]) if " resumed from " in line else 0


# ------------------------------------------------------------------ a campaign


def campaign(
    root: Path,
    work: Path,
    algo: str,
    moments: list[str],
    rng: random.Random,
    timeout: float = 300.0,
    finish_steps: int = 4000,
    overrides: list[str] = (),
    finish: Callable[[Path, bool, int], object] | None = None,
) -> Outcome:
    """One run of ``algo`` in ``work/<algo>_run``: killed at ``moments`` (in order),
    resumed after each kill, finished ``finish_steps`` past its last checkpoint,
    then checked. ``overrides``: more train.py arguments for the new run.
    ``finish(run_dir, resume, total_timesteps)``, when given, finishes the run
    instead of a last train.py process (tests: in their own process)."""
    run_dir = work / f"{algo}_run"
    kills: list[Kill] = []
    proc, resuming, seen = start(root, run_dir, algo, resume=False, overrides=overrides), False, 0
    for i, moment in enumerate(moments):
        used = kill_at(proc, run_dir, moment, resuming, rng, timeout)
        _note_resume_point(run_dir, kills, seen)
        kills.append(snapshot(run_dir, algo, used))
        resuming = latest_step(run_dir) > 0 or any(n.startswith(".old-") for n in checkpoint_names(run_dir))
        seen = len(start_lines(run_dir))
        if i < len(moments) - 1:
            proc = start(root, run_dir, algo, resume=resuming, overrides=overrides)
    # the last one is not killed: it finishes the run a little further on
    total = latest_step(run_dir) + finish_steps
    if finish is not None:
        finish(run_dir, resuming, total)
    elif start(root, run_dir, algo, resume=resuming, total=total, overrides=overrides).wait(timeout=timeout) != 0:
        raise RuntimeError(f"{run_dir.name}: the final run failed; see {run_dir.name}.stderr")
    _note_resume_point(run_dir, kills, seen)
    return check(run_dir, algo, kills)


def _note_resume_point(run_dir: Path, kills: list[Kill], seen: int) -> None:
    """The process after the last kill said in train.log where it started: note it."""
    lines = start_lines(run_dir)
    if kills and len(lines) > seen:
        kills[-1].resumed_from = started_from(lines[seen])


def check(run_dir: Path, algo: str, kills: list[Kill]) -> Outcome:
    run = RunDir(run_dir)
    out = Outcome(algo, kills)
    lines = run.episodes.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    steps = [r["step"] for r in records]
    out.episodes = len(records)
    summary = json.loads(run.summary.read_text())
    out.summary_episodes = summary.get("episodes")
    if summary.get("status") != "finished":
        out.problems.append(f"summary.json status {summary.get('status')!r}")
    if out.summary_episodes != len(records):
        out.problems.append(f"summary.json counts {out.summary_episodes} episodes, episodes.jsonl has {len(records)}")
    if steps != sorted(steps):
        out.problems.append("episodes.jsonl goes back in steps (lines after a checkpoint were not cut)")
    scalars = read_scalars(run_dir)
    out.repeated_tb = repeated_steps(scalars, steps)
    for kill in kills:
        c = kill.resumed_from if kill.resumed_from is not None else kill.latest
        kept_then = [line for line in kill.episodes if _step(line) is not None and _step(line) <= c]
        kept_now = [line for line, s in zip(lines, steps) if s <= c]
        counted = kill.counted.get(c, len(kept_then)) if c > 0 else 0
        kill.lost_lines = max(0, counted - len(kept_now))
        kill.changed_lines = sum(a != b for a, b in zip(kept_then, kept_now)) + abs(len(kept_then) - len(kept_now))
        kill.lost_tb = lost_points(kill.scalars, scalars, c) if c > 0 else {}
        where = f"kill at '{kill.moment}', resumed from step {c}"
        if kill.lost_lines:
            out.problems.append(f"{where}: {kill.lost_lines} of the {counted} episodes the checkpoint counted are gone")
        if kill.changed_lines:
            out.problems.append(f"{where}: {kill.changed_lines} episode lines up to the checkpoint changed")
        if kill.lost_tb:
            out.problems.append(f"{where}: TensorBoard points gone: {kill.lost_tb}")
    if out.repeated_tb:
        out.problems.append(f"TensorBoard steps shown twice (or episode tags off episodes.jsonl): {out.repeated_tb}")
    if run.evaluations.exists():
        eval_steps = [json.loads(line)["step"] for line in run.evaluations.read_text().splitlines()]
        if len(eval_steps) != len(set(eval_steps)) or eval_steps != sorted(eval_steps):
            out.problems.append(f"evaluations.jsonl repeats or reorders steps: {eval_steps}")
    leftovers = [n for n in checkpoint_names(run_dir) if n.startswith((".tmp-", ".old-", f".{LATEST}.tmp-"))]
    if leftovers:
        out.problems.append(f"checkpoints folder keeps leftovers: {leftovers}")
    return out


def _step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def plan(kills: int, algos: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Each algorithm's kill moments: its share of ``kills``; the first kill of a
    run at startup where there are 4 or more, the rest cycling through
    training / checkpoint / resume in a random order."""
    out = {}
    for i, algo in enumerate(algos):
        n = kills // len(algos) + (1 if i < kills % len(algos) else 0)
        moments = ["startup"] if n >= 4 else []
        while len(moments) < n:
            moments += rng.sample(MOMENTS, len(MOMENTS))
        out[algo] = moments[:n]
    return out


LEGEND = """\
left: temporary files/folders the kill left (> 0: it landed mid-write); ckpt: the step the next
process resumed from (0: started over); counted: episodes that checkpoint's meta.json counts;
at kill: lines up to it on disk right after the kill; kept: of those counted, in the final
episodes.jsonl; lost: counted - kept; TB pts: points up to ckpt shown right after the kill;
TB lost: of those, gone at the end; TB repeated: points repeating a step, in the final curves"""


def table(outcomes: list[Outcome]) -> str:
    """Per kill: what the checkpoint counted, what the folder held, what survived;
    per run: the final counts (see LEGEND)."""
    rows = [
        f"{'#':>3} {'algo':<11}{'moment':<11}{'left':>5}{'ckpt':>7}{'counted':>9}{'at kill':>9}{'kept':>7}"
        f"{'lost':>6}{'TB pts':>8}{'TB lost':>9}"
    ]
    i = 0
    for outcome in outcomes:
        for kill in outcome.kills:
            i += 1
            c = kill.resumed_from if kill.resumed_from is not None else kill.latest
            at_kill = sum(1 for line in kill.episodes if (_step(line) or 0) <= c) if c else 0
            counted = kill.counted.get(c, 0) if c else 0
            pts = sum(1 for points in kill.scalars.values() for s, _ in points if s <= c) if c else 0
            rows.append(
                f"{i:>3} {kill.algo:<11}{kill.moment:<11}{len(kill.leftovers):>5}{c:>7}{counted:>9}{at_kill:>9}"
                f"{counted - kill.lost_lines:>7}{kill.lost_lines:>6}{pts:>8}{sum(kill.lost_tb.values()):>9}"
            )
    rows.append("")
    rows.append(f"{'algo':<11}{'episodes':>9}{'summary':>9}{'TB repeated':>13}  problems")
    for outcome in outcomes:
        rows.append(
            f"{outcome.algo:<11}{outcome.episodes:>9}{outcome.summary_episodes!s:>9}"
            f"{sum(outcome.repeated_tb.values()):>13}  {len(outcome.problems)}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=21, help="kills in all, shared by the algorithms")
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=list(ALGOS))
    parser.add_argument("--root", type=Path, default=REPO, help="the checkout whose train.py is run")
    parser.add_argument("--work", type=Path, default=None, help="where the run folders go (default: a new temp folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=300.0, help="safety net per wait, seconds")
    args = parser.parse_args(argv)
    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # its note on each purge a resume asks for
    rng = random.Random(args.seed)
    if args.work is None:
        import tempfile

        args.work = Path(tempfile.mkdtemp(prefix="kill_campaign_"))
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    outcomes = []
    for algo, moments in plan(args.kills, args.algos, rng).items():
        print(f"{algo}: kills at {', '.join(moments)}", flush=True)
        outcomes.append(campaign(args.root.resolve(), args.work.resolve(), algo, moments, rng, args.timeout))
    print(table(outcomes))
    print(LEGEND)
    problems = [f"{o.algo}: {p}" for o in outcomes for p in o.problems]
    for line in problems:
        print("PROBLEM", line)
    kills = sum(len(o.kills) for o in outcomes)
    print(
        f"{kills} kills in {time.perf_counter() - t0:.0f} s, run folders in {args.work}: "
        + ("every check holds" if not problems else f"{len(problems)} problems")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
