"""Crafter protocol: a real (tiny) Crafter run exported in the crafter
repository's scores format, checked against an independent computation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from craftlab.commands.cli import main
from craftlab.envs.crafter import ACHIEVEMENTS

DEFAULT = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


@pytest.fixture(scope="module")
def crafter_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("scores") / "crafter"
    code = main(
        [
            str(DEFAULT),
            "--run-dir",
            str(run),
            "--seed",
            "3",
            "--set",
            "env.kwargs.length=25",
            "--set",
            "env.kwargs.engine=fast",
            "--set",
            "train.num_envs=1",
            "--set",
            "train.vector=sync",
            "--set",
            "algo.num_steps=64",
            "--set",
            "train.total_timesteps=128",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 0
    return run


def independent_score(runs: list[dict]) -> float:
    """Hafner 2021: success rate s_i (%) of each achievement over all episodes,
    score = exp(mean ln(1 + s_i)) - 1; here for one run."""
    (run,) = runs
    n = len(run["xs"])
    logs = []
    for name in ACHIEVEMENTS:
        unlocked = sum(1 for count in run["achievement_" + name] if count > 0)
        logs.append(math.log(1 + 100.0 * unlocked / n))
    return math.exp(sum(logs) / len(logs)) - 1


def test_scores_file_matches_the_episodes(crafter_run):
    from craftlab.runs.scores import export_scores, run_score

    lines = (crafter_run / "episodes.jsonl").read_text().splitlines()
    summary = json.loads((crafter_run / "summary.json").read_text())
    assert len(lines) == summary["episodes"] >= 4
    path = export_scores([crafter_run], crafter_run, "ppo_tiny")
    assert path == crafter_run / "scores" / "crafter_reward-ppo_tiny.json"
    runs = json.loads(path.read_text())
    assert len(runs) == 1
    run = runs[0]
    assert run["task"] == "crafter_reward" and run["method"] == "ppo_tiny" and run["seed"] == 3
    keys = sorted(k for k in run if k.startswith("achievement_"))
    assert keys == sorted("achievement_" + a for a in ACHIEVEMENTS) and len(keys) == 22
    for key in ["xs", "length", "reward", *keys]:
        assert len(run[key]) == len(lines), key  # one entry per finished episode
    records = [json.loads(line) for line in lines]
    assert run["length"] == [r["l"] for r in records]
    assert all(n <= 25 for n in run["length"])
    assert run["xs"] == sorted(run["xs"]) and run["xs"][-1] <= summary["num_timesteps"]
    score = independent_score(runs)
    assert run_score(run) == pytest.approx(score, abs=1e-9)
    assert summary["crafter_score"] == pytest.approx(score, abs=1e-4)  # what training logged


def test_load_scores_and_budget(crafter_run, tmp_path):
    from craftlab.runs.scores import export_scores, load_scores, success_rates, summarize

    path = export_scores([crafter_run], tmp_path, "m")
    runs = load_scores(path)
    first = runs[0]["xs"][0]
    rates = success_rates(runs[0], budget=first)  # only the episodes that ended by the first one's step
    n = sum(1 for x in runs[0]["xs"] if x <= first)
    for name in ACHIEVEMENTS:
        unlocked = sum(1 for x, c in zip(runs[0]["xs"], runs[0]["achievement_" + name]) if x <= first and c > 0)
        assert rates[name] == pytest.approx(100.0 * unlocked / n)
    two = summarize(runs + runs)
    assert two["score_std"] == pytest.approx(0.0) and len(two["scores"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"xs": [1], "length": [1], "reward": [0.0]}]))
    with pytest.raises(ValueError, match="scores format"):
        load_scores(bad)


def test_report_writes_scores_and_loads_published_runs(crafter_run, tmp_path, capsys):
    published = tmp_path / "crafter_reward-someone.json"
    from craftlab.runs.scores import export_scores

    export_scores([crafter_run], tmp_path / "pub", "someone").rename(published)
    out = tmp_path / "r.png"
    assert main(["report", str(crafter_run), "--scores", str(published), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (crafter_run / "scores").is_dir() and out.stat().st_size > 10_000
    rows = [line for line in printed.splitlines() if line.startswith(("crafter", "someone"))]
    assert len(rows) == 2 and "(published)" in rows[1]
    score = independent_score(json.loads(published.read_text()))
    assert all(f"{score:.2f} ± 0.00" in row for row in rows)
