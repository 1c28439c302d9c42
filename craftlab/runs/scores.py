"""The Crafter evaluation protocol and the crafter repository's scores format.

Training already records every finished episode in ``episodes.jsonl``
(:mod:`craftlab.core.logger`). This module turns a run's episodes into the format
the crafter repository publishes its baselines in, ``scores/<task>-<method>.json``::

    [ {"task": "crafter_reward", "method": "ppo", "seed": 0,
       "xs": [...],        # cumulative env step at each episode's end
       "length": [...],    # episode lengths (env steps)
       "reward": [...],    # episode returns
       "achievement_collect_coal": [...],   # per-episode unlock counts, 22 such keys
       ...},
      ... one entry per seed ... ]

and computes the protocol's numbers from such runs: success rate of each
achievement = % of episodes (within the step budget) that unlocked it at least
once; Crafter score = geometric mean of (1 + rate) minus 1, per seed; then mean
and spread across seeds. Published runs in the same format load with
:func:`load_scores` and are treated exactly like ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from craftlab.core.run_dir import RunDir
from craftlab.envs.crafter import ACHIEVEMENTS, crafter_score

SCORES_DIR = "scores"
ScoresRun = dict[str, Any]
"""one entry of a scores file (see the module docstring)"""


def read_episodes(run_dir: str | Path) -> list[dict[str, Any]]:
    """The finished training episodes of a run folder, in order (a line cut by a
    crash is skipped). Each: ``{"step", "r", "l", ["t"], ["achievements"]}``."""
    path = RunDir(run_dir).episodes
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "r" in record and "l" in record:
            out.append(record)
    return out


def is_crafter_episodes(episodes: list[dict[str, Any]]) -> bool:
    """True when the episodes carry Crafter's 22 achievement counts."""
    return bool(episodes) and all(set(ACHIEVEMENTS) <= set(e.get("achievements", {})) for e in episodes)


def task_name(run_dir: str | Path) -> str:
    """``crafter_reward`` or ``crafter_noreward`` (the crafter repo's task names),
    from the run's config; ``crafter_reward`` when the config says nothing."""
    import yaml

    path = RunDir(run_dir).config
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
        env = data.get("env") or {}
        if env.get("id") == "crafter-noreward" or (env.get("kwargs") or {}).get("reward") is False:
            return "crafter_noreward"
    return "crafter_reward"


def episodes_to_scores(episodes: list[dict[str, Any]], task: str, method: str, seed: int) -> ScoresRun:
    """One run in the scores format. ``xs`` is the run's env-step counter (over
    all parallel envs) when each episode ended."""
    if not is_crafter_episodes(episodes):
        raise ValueError("episodes have no Crafter achievement counts; the scores format is Crafter's")
    run: ScoresRun = {
        "task": task,
        "method": method,
        "seed": int(seed),
        "xs": [int(e["step"]) for e in episodes],
        "length": [int(e["l"]) for e in episodes],
        "reward": [float(e["r"]) for e in episodes],
    }
    for name in ACHIEVEMENTS:
        run[f"achievement_{name}"] = [int(e["achievements"][name]) for e in episodes]
    return run


def run_seed(run_dir: str | Path, default: int = 0) -> int:
    """The seed in a run's config (``train.seed``), else ``default``."""
    import yaml

    path = RunDir(run_dir).config
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
        seed = (data.get("train") or {}).get("seed")
        if isinstance(seed, int):
            return seed
    return default


def export_scores(run_dirs: list[str | Path], out_dir: str | Path, method: str) -> Path | None:
    """Write the Crafter runs among ``run_dirs`` (typically the seeds of one
    experiment) to ``out_dir/scores/<task>-<method>.json``; returns the file,
    or None when no run holds Crafter episodes."""
    runs = []
    task = "crafter_reward"
    for i, run_dir in enumerate(run_dirs):
        episodes = read_episodes(run_dir)
        if not is_crafter_episodes(episodes):
            continue
        task = task_name(run_dir)
        runs.append(episodes_to_scores(episodes, task, method, run_seed(run_dir, default=i)))
    if not runs:
        return None
    path = Path(out_dir) / SCORES_DIR / f"{task}-{method}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(runs))
    return path


def load_scores(path: str | Path) -> list[ScoresRun]:
    """Runs of a scores file (ours or the crafter repository's), checked."""
    path = Path(path)
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read scores file '{path}': {exc}") from None
    if isinstance(runs, dict):
        runs = [runs]
    for run in runs:
        missing = [k for k in ("xs", "length", "reward") if k not in run]
        missing += [f"achievement_{n}" for n in ACHIEVEMENTS if f"achievement_{n}" not in run]
        if missing:
            raise ValueError(f"scores file '{path}' is not in the crafter scores format: a run lacks {missing[:3]}")
    return runs


def _within(run: ScoresRun, budget: int | None) -> np.ndarray:
    xs = np.asarray(run["xs"], dtype=np.int64)
    return xs <= budget if budget is not None else np.ones(len(xs), dtype=bool)


def success_rates(run: ScoresRun, budget: int | None = None) -> dict[str, float]:
    """% of the run's episodes (ending at step <= ``budget``; None: all) in which
    each achievement was unlocked at least once. NaN when there are none."""
    keep = _within(run, budget)
    n = int(keep.sum())
    out = {}
    for name in ACHIEVEMENTS:
        counts = np.asarray(run[f"achievement_{name}"])[keep]
        out[name] = float(100.0 * np.mean(counts >= 1)) if n else float("nan")
    return out


def run_score(run: ScoresRun, budget: int | None = None) -> float:
    """Crafter score (%) of one run (one seed) over its episodes within ``budget``."""
    return crafter_score(list(success_rates(run, budget).values()))


def summarize(runs: list[ScoresRun], budget: int | None = None) -> dict[str, Any]:
    """Protocol summary across seeds: per-seed scores, their mean and std (%),
    and each achievement's success rate averaged over seeds (%)."""
    scores = np.array([run_score(r, budget) for r in runs])
    rates = np.array([[success_rates(r, budget)[n] for n in ACHIEVEMENTS] for r in runs])
    return {
        "seeds": [int(r.get("seed", i)) for i, r in enumerate(runs)],
        "episodes": [int(_within(r, budget).sum()) for r in runs],
        "scores": scores.tolist(),
        "score_mean": float(scores.mean()) if len(scores) else float("nan"),
        "score_std": float(scores.std()) if len(scores) else float("nan"),
        "success_rates": dict(zip(ACHIEVEMENTS, rates.mean(axis=0).tolist())) if len(runs) else {},
        "success_rates_std": dict(zip(ACHIEVEMENTS, rates.std(axis=0).tolist())) if len(runs) else {},
    }
