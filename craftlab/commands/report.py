"""``python train.py report``: compare experiments (several seeds each) in one PNG and a table.

::

    python train.py report runs/expA runs/expB [--scores crafter_reward-dreamerv3.json ...]
                           [--out report.png] [--json report.json] [--names A B]

Each positional argument is one *group*: an experiment folder (its ``seed_*``
run folders, :mod:`craftlab.commands.experiment`) or a single run folder. ``--scores``
adds published runs in the crafter repository's scores format as further groups.

Numbers (per group, across its seeds; a seed's numbers come from its training
episodes in ``episodes.jsonl``):

* **final return**: per seed, the mean return of the episodes that ended in the
  last :data:`FINAL_FRACTION` of that seed's env steps (``step > (1 - f) *
  last_step``); the table gives its mean across seeds with a 95% bootstrap
  confidence interval (resampling seeds) and its interquartile mean (IQM: the
  mean of the middle 50% of seeds, as rliable's ``trim_mean(x, 0.25)``;
  robust to an outlier seed; equals the mean below 4 seeds).
* **Crafter score** (Crafter runs only): per seed, the protocol's score over
  all its training episodes within 1M steps (:mod:`craftlab.runs.scores`); mean ±
  std across seeds (as published) and IQM.

The PNG shows learning curves (episodic return vs env steps: mean across
seeds, 95% bootstrap band), and for Crafter the score beside the published
ones and each achievement's success rate (log scale, as in the Crafter paper)
beside human experts and a random policy. For Crafter groups the scores file
is (re)written into the group's folder (``scores/<task>-<method>.json``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from craftlab.commands.experiment import find_runs
from craftlab.commands.plots import draw_report
from craftlab.commands.published import CRAFTER_BUDGET_STEPS
from craftlab.core.errors import UserError
from craftlab.core.run_dir import RunDir
from craftlab.runs.scores import (
    episodes_to_scores,
    export_scores,
    is_crafter_episodes,
    load_scores,
    read_episodes,
    run_seed,
    summarize,
    task_name,
)

FINAL_FRACTION = 0.1
"""the share of a run's steps whose episodes make its final return"""
BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


# ------------------------------------------------------------------ statistics


def iqm(values: np.ndarray | list[float]) -> float:
    """Interquartile mean: drop ``floor(n/4)`` values at each end, average the
    rest (``scipy.stats.trim_mean(x, 0.25)``, rliable's IQM)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0:
        return float("nan")
    cut = int(0.25 * x.size)
    return float(x[cut : x.size - cut].mean())


def bootstrap_ci(
    values: np.ndarray | list[float],
    statistic: Callable[[np.ndarray], float] = np.mean,
    samples: int = BOOTSTRAP_SAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``statistic`` (resampling the
    values with replacement). One value gives ``(v, v)``."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(samples, x.size))
    stats = np.array([statistic(x[i]) for i in idx]) if statistic is not np.mean else x[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


# ------------------------------------------------------------------------ data


@dataclass
class RunData:
    """One seed's training episodes."""

    label: str
    seed: int
    steps: np.ndarray
    """``int64[E]``: env step (over all parallel envs) when each episode ended"""
    returns: np.ndarray
    """``float64[E]``: episode returns"""
    lengths: np.ndarray
    """``int64[E]``: episode lengths (env steps)"""
    scores_run: dict[str, Any] | None = None
    """the run in the crafter scores format, for Crafter runs"""

    @property
    def last_step(self) -> int:
        return int(self.steps.max()) if self.steps.size else 0

    def final_return(self, fraction: float = FINAL_FRACTION) -> float:
        """Mean return of episodes ending at ``step > (1 - fraction) * last_step`` (the last episode at least)."""
        if not self.returns.size:
            return float("nan")
        keep = self.steps > (1.0 - fraction) * self.last_step
        return float(self.returns[keep].mean())


@dataclass
class Group:
    """Runs compared as one (the seeds of one experiment, or published runs)."""

    name: str
    runs: list[RunData]
    source: str
    published: bool = False
    scores_file: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def crafter(self) -> bool:
        return bool(self.runs) and all(r.scores_run is not None for r in self.runs)


def _method_name(run_dir: Path, fallback: str) -> str:
    import yaml

    path = RunDir(run_dir).config
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
        return str(data.get("name") or (data.get("algo") or {}).get("name") or fallback)
    return fallback


def load_group(path: str | Path, name: str | None = None, write_scores: bool = True) -> Group:
    """An experiment or run folder as a :class:`Group`; Crafter groups get their
    scores file written into the folder (``write_scores``)."""

    path = Path(path)
    run_dirs = find_runs(path)
    if not run_dirs:
        raise UserError(
            f"'{path}' holds no runs (no episodes.jsonl or config.yaml in it or its sub-folders); "
            "pass an experiment folder (python train.py CONFIG --seeds ...) or a run folder"
        )
    runs = []
    for i, run_dir in enumerate(run_dirs):
        episodes = read_episodes(run_dir)
        if not episodes:
            print(f"warning: {run_dir} has no finished episodes yet; left out")
            continue
        seed = run_seed(run_dir, default=i)
        scores_run = (
            episodes_to_scores(episodes, task_name(run_dir), "", seed) if is_crafter_episodes(episodes) else None
        )
        runs.append(
            RunData(
                run_dir.name,
                seed,
                np.array([e["step"] for e in episodes], dtype=np.int64),
                np.array([e["r"] for e in episodes], dtype=np.float64),
                np.array([e["l"] for e in episodes], dtype=np.int64),
                scores_run,
            )
        )
    if not runs:
        raise UserError(f"no run in '{path}' has finished an episode yet; nothing to report")
    group = Group(name or path.name, runs, str(path))
    if group.crafter and write_scores:
        method = _method_name(run_dirs[0], path.name)
        group.scores_file = export_scores([p for p in run_dirs if read_episodes(p)], path, method)
        for run in runs:
            run.scores_run["method"] = method  # type: ignore[index]
    return group


def load_scores_group(path: str | Path, name: str | None = None) -> Group:
    """Published runs (crafter scores format) as a :class:`Group`."""

    try:
        entries = load_scores(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    runs = [
        RunData(
            f"seed {e.get('seed', i)}",
            int(e.get("seed", i)),
            np.asarray(e["xs"], dtype=np.int64),
            np.asarray(e["reward"], dtype=np.float64),
            np.asarray(e["length"], dtype=np.int64),
            e,
        )
        for i, e in enumerate(entries)
    ]
    method = entries[0].get("method") if entries else None
    return Group(name or str(method or Path(path).stem), runs, str(path), published=True)


# --------------------------------------------------------------------- metrics


def compute_metrics(group: Group) -> dict[str, Any]:
    """The table's numbers for one group (see the module docstring)."""
    finals = np.array([r.final_return() for r in group.runs])
    lo, hi = bootstrap_ci(finals)
    out: dict[str, Any] = {
        "seeds": len(group.runs),
        "env_steps": int(np.median([r.last_step for r in group.runs])),
        "episodes": int(sum(r.returns.size for r in group.runs)),
        "final_returns": finals.tolist(),
        "final_return_mean": float(finals.mean()),
        "final_return_ci95": [lo, hi],
        "final_return_iqm": iqm(finals),
    }
    if group.crafter:
        summary = summarize([r.scores_run for r in group.runs], budget=CRAFTER_BUDGET_STEPS)  # type: ignore[misc]
        out.update(
            {
                "crafter_scores": summary["scores"],
                "crafter_score_mean": summary["score_mean"],
                "crafter_score_std": summary["score_std"],
                "crafter_score_iqm": iqm(summary["scores"]),
                "success_rates": summary["success_rates"],
                "success_rates_std": summary["success_rates_std"],
            }
        )
    group.metrics = out
    return out


def format_table(groups: list[Group]) -> str:
    """The printed table: one row per group."""
    crafter = any(g.crafter for g in groups)
    header = ["group", "seeds", "env steps", "episodes", "final return mean [95% CI]", "final return IQM"]
    if crafter:
        header += ["Crafter score % mean ± std", "score IQM"]
    rows = [header]
    for g in groups:
        m = g.metrics
        lo, hi = m["final_return_ci95"]
        row = [
            g.name + (" (published)" if g.published else ""),
            str(m["seeds"]),
            f"{m['env_steps']:,}",
            str(m["episodes"]),
            f"{m['final_return_mean']:.2f} [{lo:.2f}, {hi:.2f}]",
            f"{m['final_return_iqm']:.2f}",
        ]
        if crafter:
            row += (
                [f"{m['crafter_score_mean']:.2f} ± {m['crafter_score_std']:.2f}", f"{m['crafter_score_iqm']:.2f}"]
                if g.crafter
                else ["-", "-"]
            )
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------- commands


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py report",
        description="Multi-seed report: learning curves, Crafter scores and achievements "
        "beside published results; a PNG and a table.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="EXPERIMENT_OR_RUN",
        help="experiment folders (seed_*/ runs) or run folders; each is one group",
    )
    p.add_argument(
        "--scores",
        nargs="+",
        default=[],
        metavar="FILE.json",
        help="published runs in the crafter scores format (scores/<task>-<method>.json), as groups",
    )
    p.add_argument("--names", nargs="+", help="group names, in order (default: folder names / methods)")
    p.add_argument("--out", help="PNG path (default: report.png in the first folder)")
    p.add_argument("--json", dest="json_out", help="also write the numbers as JSON here")
    p.add_argument("--title", help="figure title")
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``python train.py report``."""

    args = parser().parse_args(argv)
    if not args.paths and not args.scores:
        raise UserError("report needs experiment or run folders, e.g. python train.py report runs/my_exp")
    names = list(args.names or [])
    total = len(args.paths) + len(args.scores)
    if names and len(names) != total:
        raise UserError(f"--names gives {len(names)} names for {total} groups")
    names += [None] * (total - len(names))
    groups = [load_group(p, n) for p, n in zip(args.paths, names)]
    groups += [load_scores_group(p, n) for p, n in zip(args.scores, names[len(args.paths) :])]
    seen: dict[str, int] = {}
    for g in groups:  # keep legend entries apart
        seen[g.name] = seen.get(g.name, 0) + 1
        if seen[g.name] > 1:
            g.name = f"{g.name} ({seen[g.name]})"
    for g in groups:
        compute_metrics(g)
    print(format_table(groups))
    out = Path(args.out) if args.out else Path(args.paths[0] if args.paths else ".") / "report.png"
    draw_report(groups, out, title=args.title)
    print(f"\nreport: {out}")
    for g in groups:
        if g.scores_file is not None:
            print(f"scores: {g.scores_file}")
    if args.json_out:
        data = {g.name: {"source": g.source, "published": g.published, **g.metrics} for g in groups}
        Path(args.json_out).write_text(json.dumps(data, indent=2))
        print(f"numbers: {args.json_out}")
    return 0
