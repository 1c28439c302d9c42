"""Drawing the report (matplotlib, Agg backend: no display needed).

Panels: learning curves (episodic return vs env steps; mean across seeds with
a 95% bootstrap band); final return per group (seeds as dots, mean with its
95% CI, IQM); for Crafter, the score beside published methods and each
achievement's success rate on a log axis beside human experts and random.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from craftlab.commands.published import CRAFTER_SCORES, REFERENCE_SUCCESS_RATES
from craftlab.envs.crafter import ACHIEVEMENTS

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.commands.report import Group, RunData

COLORS = plt.get_cmap("tab10").colors
HUMAN_COLOR, RANDOM_COLOR, PUBLISHED_COLOR = "#4d4d4d", "#bdbdbd", "#8c8c8c"


def _steps_formatter(x: float, _pos: int = 0) -> str:
    """Axis / label text of an env-step count: 2.5M, 60k, 1,966."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:,.0f}"


def binned_curve(run: "RunData", edges: np.ndarray) -> np.ndarray:
    """Mean return of the run's episodes ending in each bin ``(edges[i], edges[i+1]]``;
    an empty bin repeats the previous value; bins past the run's end are NaN.
    Returns ``float64[len(edges) - 1]``."""
    out = np.full(len(edges) - 1, np.nan)
    last = np.nan
    for i in range(len(edges) - 1):
        if edges[i] >= run.last_step:
            break
        keep = (run.steps > edges[i]) & (run.steps <= edges[i + 1])
        if keep.any():
            last = float(run.returns[keep].mean())
        out[i] = last
    return out


def curve_band(
    runs: list["RunData"], edges: np.ndarray, samples: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean across seeds and its 95% bootstrap band, per bin (NaN band with one seed)."""
    values = np.array([binned_curve(r, edges) for r in runs])  # [seeds, bins]
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
            lo, hi = np.full_like(mean, np.nan), np.full_like(mean, np.nan)
            rng = np.random.default_rng(seed)
            for j in range(values.shape[1]):
                col = values[~np.isnan(values[:, j]), j]
                if col.size >= 2:
                    boot = col[rng.integers(0, col.size, size=(samples, col.size))].mean(axis=1)
                    lo[j], hi[j] = np.quantile(boot, [0.025, 0.975])
    return mean, lo, hi


def plot_curves(ax: plt.Axes, groups: list["Group"]) -> None:
    for k, g in enumerate(groups):
        end = max(r.last_step for r in g.runs)
        episodes = np.median([r.returns.size for r in g.runs])
        bins = int(np.clip(episodes // 3, 4, 50))
        edges = np.linspace(0, end, bins + 1)
        mean, lo, hi = curve_band(g.runs, edges)
        x = edges[1:]
        color = COLORS[k % len(COLORS)]
        ax.plot(x, mean, color=color, lw=2, label=f"{g.name} ({len(g.runs)} seed{'s' * (len(g.runs) > 1)})")
        if np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episodic return (training episodes)")
    ax.set_title("Learning curves: mean across seeds, shaded 95% bootstrap CI")
    ax.xaxis.set_major_formatter(FuncFormatter(_steps_formatter))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9, frameon=False)


def plot_final(ax: plt.Axes, groups: list["Group"]) -> None:
    """Final return per group: seeds as dots, mean with 95% CI bar, IQM diamond."""
    for k, g in enumerate(groups):
        m, color = g.metrics, COLORS[k % len(COLORS)]
        finals = np.asarray(m["final_returns"])
        jitter = np.linspace(-0.12, 0.12, finals.size) if finals.size > 1 else np.zeros(1)
        ax.scatter(k + jitter, finals, color=color, alpha=0.5, s=22, zorder=2)
        lo, hi = m["final_return_ci95"]
        ax.errorbar(
            k,
            m["final_return_mean"],
            yerr=[[m["final_return_mean"] - lo], [hi - m["final_return_mean"]]],
            fmt="o",
            color=color,
            ms=8,
            capsize=6,
            lw=2,
            zorder=3,
        )
        ax.scatter(k + 0.25, m["final_return_iqm"], marker="D", color="black", s=30, zorder=3)
    ax.scatter([], [], color="gray", alpha=0.5, s=22, label="one seed")
    ax.errorbar([], [], yerr=[], fmt="o", color="gray", capsize=6, label="mean, 95% CI")
    ax.scatter([], [], marker="D", color="black", s=30, label="IQM")
    ax.set_xticks(range(len(groups)), [g.name for g in groups], rotation=15, ha="right")
    ax.set_xlim(-0.6, len(groups) - 0.2)
    ax.set_ylabel("final return (last 10% of steps)")
    ax.set_title("Final return across seeds")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")


def plot_scores(ax: plt.Axes, groups: list["Group"]) -> None:
    """Crafter score: published methods (grey) and ours (colours), best on top."""

    rows = []  # (label, mean, std, color, seeds' scores)
    for s in CRAFTER_SCORES:
        color = HUMAN_COLOR if s.kind == "human" else RANDOM_COLOR if s.kind == "random" else PUBLISHED_COLOR
        rows.append((s.method, s.score, s.std, color, None, None))
    for k, g in enumerate(groups):
        if g.crafter:
            m = g.metrics
            label = f"{g.name} ({'published' if g.published else 'ours'}, {_steps_formatter(m['env_steps'], 0)} steps)"
            rows.append(
                (
                    label,
                    m["crafter_score_mean"],
                    m["crafter_score_std"],
                    COLORS[k % len(COLORS)],
                    m["crafter_scores"],
                    m["crafter_score_iqm"],
                )
            )
    rows.sort(key=lambda r: r[1])
    first_ours = next((i for i, r in enumerate(rows) if r[4] is not None), -1)
    y = np.arange(len(rows))
    ax.barh(
        y,
        [r[1] for r in rows],
        xerr=[r[2] for r in rows],
        color=[r[3] for r in rows],
        error_kw={"lw": 1, "capsize": 3, "ecolor": "black"},
        height=0.7,
    )
    for i, r in enumerate(rows):
        ax.text(r[1] + r[2] + 0.8, i, f"{r[1]:.1f}", va="center", fontsize=8)
        if r[4] is not None:
            ax.scatter(
                r[4],
                np.full(len(r[4]), i),
                color="black",
                s=10,
                zorder=3,
                label="our seeds" if i == first_ours else None,
            )
            ax.scatter(
                [r[5]],
                [i + 0.3],
                marker="D",
                color="black",
                s=22,
                zorder=3,
                label="our IQM" if i == first_ours else None,
            )
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    for tick, r in zip(ax.get_yticklabels(), rows):
        if r[4] is not None:
            tick.set_fontweight("bold")
    ax.set_xlabel("Crafter score (%), ± std across seeds")
    ax.set_title("Crafter score beside published results (theirs: 1M steps)")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_xlim(0, max(60, max(r[1] + r[2] for r in rows) + 6))
    ax.grid(axis="x", alpha=0.3)


def plot_achievements(ax: plt.Axes, groups: list["Group"]) -> None:
    """Success rate of each achievement, log axis, ours beside human and random."""

    series = [
        (g.name, [g.metrics["success_rates"][a] for a in ACHIEVEMENTS], COLORS[k % len(COLORS)])
        for k, g in enumerate(groups)
        if g.crafter
    ]
    for name, rates in REFERENCE_SUCCESS_RATES.items():
        series.append(
            (name, [rates[a] for a in ACHIEVEMENTS], HUMAN_COLOR if name.startswith("Human") else RANDOM_COLOR)
        )
    n = len(series)
    width = 0.8 / n
    x = np.arange(len(ACHIEVEMENTS))
    floor = 0.01
    for i, (name, rates, color) in enumerate(series):
        vals = np.maximum(np.asarray(rates, dtype=float), floor)  # 0% sits on the axis
        ax.bar(x - 0.4 + width * (i + 0.5), vals - floor, bottom=floor, width=width, color=color, label=name)
    ax.set_yscale("log")
    ax.set_ylim(floor, 100)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_xticks(x, [a.replace("_", " ").title() for a in ACHIEVEMENTS], rotation=40, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(ACHIEVEMENTS) - 0.4)
    ax.set_ylabel("success rate (%), log scale")
    ax.set_title("Achievement success rates over all training episodes (mean across seeds)", loc="left")
    ax.grid(axis="y", alpha=0.3, which="major")
    ax.legend(fontsize=9, ncol=min(n, 6), frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0))


def draw_report(groups: list["Group"], out: str | Path, title: str | None = None, dpi: int = 80) -> Path:
    """Draw the report PNG of ``groups`` (metrics already computed) to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    crafter = any(g.crafter for g in groups)
    if crafter:
        fig = plt.figure(figsize=(16, 11), dpi=dpi)
        grid = fig.add_gridspec(2, 2, width_ratios=[1.15, 1], hspace=0.42, wspace=0.45)
        plot_curves(fig.add_subplot(grid[0, 0]), groups)
        plot_scores(fig.add_subplot(grid[0, 1]), groups)
        plot_achievements(fig.add_subplot(grid[1, :]), groups)
    else:
        fig = plt.figure(figsize=(13, 5), dpi=dpi)
        grid = fig.add_gridspec(1, 2, width_ratios=[1.6, 1], wspace=0.25)
        plot_curves(fig.add_subplot(grid[0, 0]), groups)
        plot_final(fig.add_subplot(grid[0, 1]), groups)
    fig.suptitle(title or "craftlab report: " + ", ".join(g.name for g in groups), fontsize=14, fontweight="bold")
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out
