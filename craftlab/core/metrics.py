"""Environment-specific episode metrics, plugged in by the environment's registration.

The logger knows nothing about any one environment: it hands every finished
episode to the run's :class:`EpisodeMetrics` and writes what that returns.
An environment brings its own by naming a factory in its registration
(``register_env(..., metrics="package.module:factory")``, see
:mod:`craftlab.envs.registry`); Crafter's achievements and score are such a
plug-in (:func:`craftlab.envs.crafter.crafter_metrics`). Environments without
one get :class:`AchievementMetrics` with no score: success rates of whatever
``info["achievements"]`` they report (MineRL milestones), nothing otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


class EpisodeMetrics:
    """Accumulates finished training episodes; says what to log about them.

    ``record`` is one line of ``episodes.jsonl``: ``{"step", "r", "l", ["achievements"]}``.
    """

    def add(self, record: dict[str, Any]) -> None:
        """Count one finished episode (also called for the episodes re-read on resume)."""

    def scalars(self) -> dict[str, float]:
        """TensorBoard tag -> value, written at the step of each finished episode."""
        return {}

    def progress_fields(self) -> dict[str, str]:
        """Short fields for the progress bar (e.g. ``{"score": "2.91"}``)."""
        return {}

    def summary(self) -> dict[str, float]:
        """Entries for the run's ``summary.json``."""
        return {}


class AchievementMetrics(EpisodeMetrics):
    """Success rates of achievements over all episodes so far (the Crafter protocol's
    per-achievement figure: % of episodes that unlocked it at least once), and an
    optional score computed from them.

    Args:
        achievements: the names, in display order; None takes whatever episodes report.
        score: success rates (percent, in ``achievements`` order) -> score; None for no score.
        score_tag: TensorBoard tag of the score (e.g. ``"crafter/score"``).
        summary_key: key of the score in ``summary.json`` (e.g. ``"crafter_score"``).
    """

    def __init__(
        self,
        achievements: Sequence[str] | None = None,
        score: Callable[[list[float]], float] | None = None,
        score_tag: str = "score",
        summary_key: str = "score",
    ) -> None:
        self.names = list(achievements) if achievements is not None else None
        self.score_fn = score
        self.score_tag = score_tag
        self.summary_key = summary_key
        self.episodes = 0
        """episodes that reported achievements"""
        self.unlocked: dict[str, int] = {}

    def add(self, record: dict[str, Any]) -> None:
        if "achievements" not in record:
            return
        self.episodes += 1
        for name, count in record["achievements"].items():
            self.unlocked[name] = self.unlocked.get(name, 0) + int(count > 0)

    def success_rates(self) -> dict[str, float]:
        """Percent of episodes in which each achievement was unlocked at least once."""
        known = self.names is not None and set(self.unlocked) <= set(self.names)
        names = self.names if known else sorted(self.unlocked)
        return {n: 100.0 * self.unlocked.get(n, 0) / max(self.episodes, 1) for n in names}  # type: ignore[union-attr]

    def score(self) -> float | None:
        if self.score_fn is None or not self.episodes:
            return None
        return float(self.score_fn(list(self.success_rates().values())))

    def scalars(self) -> dict[str, float]:
        if not self.episodes:
            return {}
        out = {f"achievements/{name}": rate for name, rate in self.success_rates().items()}
        score = self.score()
        if score is not None:
            out[self.score_tag] = score
        return out

    def progress_fields(self) -> dict[str, str]:
        score = self.score()
        return {"score": f"{score:.2f}"} if score is not None else {}

    def summary(self) -> dict[str, float]:
        score = self.score()
        return {self.summary_key: round(score, 4)} if score is not None else {}
