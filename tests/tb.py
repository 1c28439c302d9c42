"""Reading a run's TensorBoard events back, and checking them after crashes
(for tests and benchmarks/kill_campaign.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """All scalar events in ``run_dir``: tag -> [(step, value), ...] in file order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


EPISODE_TAGS = ("charts/episodic_return", "charts/episodic_length")
"""tags with a point per finished episode: several episodes may end at one step"""


def repeated_steps(scalars: dict[str, list[tuple[int, float]]], episode_steps: list[int]) -> dict[str, int]:
    """Points too many, by tag: a step shown twice (an episode tag: its steps
    compared with ``episode_steps``, episodes.jsonl's, which may repeat; points
    missing there count too). Tags without a problem are left out."""
    out = {}
    for tag, points in scalars.items():
        steps = Counter(step for step, _ in points)
        if tag in EPISODE_TAGS:
            diff = (steps - Counter(episode_steps)) + (Counter(episode_steps) - steps)
            bad = sum(diff.values())
        else:
            bad = sum(n - 1 for n in steps.values())
        if bad:
            out[tag] = bad
    return out


def lost_points(
    before: dict[str, list[tuple[int, float]]], after: dict[str, list[tuple[int, float]]], up_to: int
) -> dict[str, int]:
    """Points shown ``before`` (e.g. at a crash) at steps <= ``up_to`` (the checkpoint
    resumed from) that ``after`` no longer shows, by tag; tags losing none left out."""
    out = {}
    for tag, points in before.items():
        kept = Counter((step, value) for step, value in points if step <= up_to)
        missing = kept - Counter(after.get(tag, []))
        if missing:
            out[tag] = sum(missing.values())
    return out
