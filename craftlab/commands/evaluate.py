"""``python train.py eval RUN``: evaluate a trained agent, write JSON into the run.

::

    python train.py eval runs/<name> [--episodes 10] [--checkpoint STEP | --best]
                                     [--deterministic | --stochastic] [--seed 10000]

writes ``runs/<name>/eval/eval_<step>.json`` (``<step>`` = the checkpoint's env
step, 10 digits): mean/std of return and length, every episode's return and
length, and for Crafter the per-episode achievements, success rates and the
Crafter formula over these episodes as ``achievement_score`` with the policy
that played them (``achievement_score_policy``: greedy by default).

That is *not* the benchmark's Crafter score, which is over every training
episode of the stochastic policy within 1M steps (``summary.json``'s
``crafter_score``, ``python train.py report``); a greedy policy can score far
above or below it. Output and JSON never call the evaluation's number the
"Crafter score"; the run's benchmark score is printed beside it when the run
has one.

:func:`load_trained_agent` (also used by ``watch``) rebuilds a run's agent from
its saved config and loads a checkpoint into it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from craftlab.core.checkpoint import Checkpointer, CheckpointInfo, load_with_fallback
from craftlab.core.errors import UserError
from craftlab.core.run_dir import CONFIG_FILE, RunDir
from craftlab.envs.crafter import crafter_score
from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import load_run_config
from craftlab.runs.scores import success_rates
from craftlab.runs.training import build_agent

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent
    from craftlab.core.config import RunConfig


@dataclass
class LoadedRun:
    """A run's agent with a checkpoint loaded, ready to act."""

    run_dir: Path
    config: "RunConfig"
    agent: "Agent"
    checkpoint: CheckpointInfo
    note: str
    """how the checkpoint was chosen, in words (e.g. the --best fallback)"""


def pick_checkpoint(run_dir: Path, step: int | None = None, best: bool = False) -> tuple[CheckpointInfo, str]:
    """The checkpoint to load and a sentence saying why it is that one.

    ``best``: the checkpoint whose periodic evaluation (``eval/evaluations.jsonl``,
    written when ``train.eval_interval`` > 0) had the highest mean return,
    among evaluated steps that still have a checkpoint; the latest one otherwise.
    """
    checkpointer = Checkpointer(RunDir(run_dir).checkpoints)
    if step is not None or not best:
        info = checkpointer.find(step)
        return info, f"checkpoint at step {info.step}" + (" (latest)" if step is None else "")
    path = RunDir(run_dir).evaluations
    evaluations = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                evaluations.append(json.loads(line))
            except ValueError:
                continue
    latest = checkpointer.find(None)
    if not evaluations:
        return latest, (
            f"--best: the run has no evaluations ({path} missing; train with train.eval_interval > 0 "
            f"to have them), so using the latest checkpoint, step {latest.step}"
        )
    available = {c.step: c for c in checkpointer.list()}
    kept = [e for e in evaluations if int(e["step"]) in available]
    if not kept:
        best_eval = max(evaluations, key=lambda e: e["mean_return"])
        return latest, (
            f"--best: the best evaluation (step {best_eval['step']}, return "
            f"{best_eval['mean_return']:.2f}) has no checkpoint left (steps kept: "
            f"{', '.join(map(str, available)) or 'none'}; train.keep_checkpoints=0 keeps all), "
            f"so using the latest checkpoint, step {latest.step}"
        )
    chosen = max(kept, key=lambda e: e["mean_return"])
    return available[int(chosen["step"])], (
        f"--best: checkpoint at step {chosen['step']} "
        f"(evaluation mean return {chosen['mean_return']:.2f}, "
        f"best of {len(kept)} evaluated checkpoints)"
    )


def load_trained_agent(
    run_dir: str | Path, step: int | None = None, best: bool = False, device: str = "cpu"
) -> LoadedRun:
    """Rebuild the run's agent from ``config.yaml`` (one env, in-process) and load
    the chosen checkpoint (see :func:`pick_checkpoint`); when its files are
    corrupt and no ``step`` was asked for, the newest older one that loads, with
    a warning on stderr."""

    run_dir = Path(run_dir)
    if not RunDir(run_dir).is_run():
        hint = ""
        if run_dir.is_dir():
            seeds = sorted(p.name for p in run_dir.iterdir() if RunDir(p).is_run())
            if seeds:
                hint = f" (it holds runs: {', '.join(seeds[:5])}; pass one, e.g. {run_dir / seeds[0]})"
        raise UserError(f"'{run_dir}' is not a run folder: it has no {CONFIG_FILE}{hint}; pass runs/<name>")
    info, note = pick_checkpoint(run_dir, step, best)
    config = load_run_config(run_dir / CONFIG_FILE, [f"train.device={device}", "train.num_envs=1", "train.vector=sync"])
    agent = build_agent(config)
    try:
        loaded, skipped = load_with_fallback(
            agent, Checkpointer(RunDir(run_dir).checkpoints), info, fallback=step is None
        )
    except BaseException:
        agent.close()
        raise
    for warning in skipped:
        print(f"warning: {warning}", file=sys.stderr)
    if loaded.step != info.step:
        note = f"checkpoint at step {loaded.step} (the newest that loads; the one at step {info.step} is corrupt)"
    return LoadedRun(run_dir, config, agent, loaded, note)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train.py eval", description="Evaluate a trained agent; JSON into RUN/eval/.")
    p.add_argument("run", help="run folder, e.g. runs/<name>")
    p.add_argument("--episodes", type=int, default=10, help="episodes to play (default 10)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", type=int, metavar="STEP", help="checkpoint step (default: latest)")
    which.add_argument("--best", action="store_true", help="the checkpoint with the best periodic evaluation")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--deterministic",
        dest="deterministic",
        action="store_true",
        default=True,
        help="greedy actions (default; its achievement score is not the benchmark's Crafter score)",
    )
    mode.add_argument("--stochastic", dest="deterministic", action="store_false", help="sample actions")
    p.add_argument("--seed", type=int, default=10_000, help="episode k is reset with seed+k (default 10000)")
    p.add_argument("--max-steps", type=int, help="cut each episode after this many steps")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--out", help="JSON path (default RUN/eval/eval_<step>.json)")
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``python train.py eval``."""

    args = parser().parse_args(argv)
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    loaded = load_trained_agent(args.run, args.checkpoint, args.best, args.device)
    print(loaded.note)
    t0 = time.perf_counter()
    try:
        result = evaluate(
            loaded.agent,
            loaded.agent.envs,
            episodes=args.episodes,
            deterministic=args.deterministic,
            seed=args.seed,
            max_steps=args.max_steps,
        )
    finally:
        loaded.agent.close()
    summary = result.summary()
    record = {
        "run": str(loaded.run_dir),
        "env": loaded.config.env.id,
        "algorithm": loaded.config.algo.name,
        "checkpoint_step": loaded.checkpoint.step,
        "checkpoint_choice": loaded.note,
        "deterministic": args.deterministic,
        "seed": args.seed,
        "max_steps": args.max_steps,
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **summary,
    }
    if result.achievements:
        run = {"xs": list(range(len(result.achievements)))}
        for name in result.achievements[0]:
            run[f"achievement_{name}"] = [a[name] for a in result.achievements]
        record["achievements"] = result.achievements
        try:
            rates = success_rates(run)

            record["success_rates"] = rates
            record["achievement_score"] = crafter_score(list(rates.values()))
            record["achievement_score_policy"] = "greedy" if args.deterministic else "stochastic"
            record["achievement_score_note"] = (
                f"Crafter's formula over these {args.episodes} evaluation episodes of the "
                f"{record['achievement_score_policy']} policy; not the benchmark's Crafter score, which is "
                "over all training episodes of the stochastic policy (summary.json crafter_score)"
            )
        except KeyError:  # not Crafter's 22 achievements
            pass
    benchmark = _benchmark_score(loaded.run_dir)
    if benchmark is not None:
        record["training_crafter_score"] = benchmark
    out = Path(args.out) if args.out else RunDir(loaded.run_dir).eval_dir / f"eval_{loaded.checkpoint.step:010d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    mode = "greedy" if args.deterministic else "stochastic"
    print(
        f"{args.episodes} evaluation episodes ({mode} policy, seeds {args.seed}..{args.seed + args.episodes - 1}): "
        f"return {summary['mean_return']:.2f} ± {summary['std_return']:.2f}, "
        f"length {summary['mean_length']:.1f} ± {summary['std_length']:.1f}"
    )
    if "achievement_score" in record:
        print(
            f"{mode}-policy achievement score over these {args.episodes} episodes: "
            f"{record['achievement_score']:.2f}% (an evaluation figure, not the benchmark's score)"
        )
    if benchmark is not None:
        print(
            f"benchmark Crafter score of this run (all training episodes, stochastic policy; summary.json): "
            f"{benchmark:.2f}%"
        )
    print(f"written: {out}")
    return 0


def _benchmark_score(run_dir: Path) -> float | None:
    """``crafter_score`` of the run's ``summary.json`` (training episodes), if it has one."""
    try:
        summary = json.loads(RunDir(run_dir).summary.read_text())
    except (OSError, ValueError):
        return None
    score = summary.get("crafter_score") if isinstance(summary, dict) else None
    return float(score) if isinstance(score, (int, float)) else None
