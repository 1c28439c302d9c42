"""``python train.py report`` on two small multi-seed experiments whose numbers
the test knows, and ``--seeds`` launching real runs into one experiment folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from craftlab.commands.cli import main
from craftlab.envs.crafter import ACHIEVEMENTS

CARTPOLE = Path(__file__).resolve().parent.parent / "configs" / "ppo_cartpole.yaml"


def write_run(run: Path, seed: int, episodes: list[tuple[int, float, dict[str, int]]]) -> None:
    """A run folder as training leaves it: config.yaml and episodes.jsonl."""
    run.mkdir(parents=True)
    run.joinpath("config.yaml").write_text(
        f"name: tiny\nenv:\n  id: crafter\nalgo:\n  name: ppo\ntrain:\n  seed: {seed}\n"
    )
    with open(run / "episodes.jsonl", "w") as fh:
        for step, ret, unlocked in episodes:
            counts = {a: unlocked.get(a, 0) for a in ACHIEVEMENTS}
            fh.write(json.dumps({"step": step, "r": ret, "l": 10, "t": 0.1, "achievements": counts}) + "\n")


def make_experiment(root: Path, finals: list[float], wood: list[int]) -> Path:
    """Seed k: 10 episodes at steps 100..1000; returns 0 except the last one
    (step 1000: the only one in the last 10% of steps), which returns finals[k];
    the first wood[k] episodes collect wood (twice)."""
    for k, (final, n_wood) in enumerate(zip(finals, wood)):
        episodes = [
            (100 * (i + 1), final if i == 9 else 0.0, {"collect_wood": 2} if i < n_wood else {}) for i in range(10)
        ]
        write_run(root / f"seed_{k}", k, episodes)
    return root


def crafter_score(percents: list[float]) -> float:
    return float(np.exp(np.mean(np.log1p(percents))) - 1)


def test_report_table_and_png(tmp_path, capsys):
    a = make_experiment(tmp_path / "expA", finals=[1.0, 2.0, 3.0, 4.0, 100.0], wood=[0, 1, 2, 5, 10])
    b = make_experiment(tmp_path / "expB", finals=[5.0, 7.0], wood=[10, 10])
    out = tmp_path / "report.png"
    assert main(["report", str(a), str(b), "--out", str(out), "--json", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    rows = {line.split()[0]: line for line in printed.splitlines() if line.startswith(("expA", "expB"))}
    # final return: mean over seeds, IQM = mean of the middle 50% (5 seeds: drop one at each end)
    assert "  5  " in rows["expA"] and "1,000" in rows["expA"] and "  50  " in rows["expA"]
    assert "22.00 [" in rows["expA"] and "3.00" in rows["expA"].split("]")[1].split()[0]
    assert "6.00 [5.00, 7.00]" in rows["expB"] and rows["expB"].split("]")[1].split()[0] == "6.00"
    # Crafter score per seed: one achievement (collect_wood) at n/10 of episodes, 21 at 0%
    scores_a = [crafter_score([10.0 * n] + [0.0] * 21) for n in [0, 1, 2, 5, 10]]
    assert f"{np.mean(scores_a):.2f} ± {np.std(scores_a):.2f}" in rows["expA"]
    assert rows["expA"].split()[-1] == f"{np.mean(sorted(scores_a)[1:4]):.2f}"
    score_b = crafter_score([100.0] + [0.0] * 21)
    assert f"{score_b:.2f} ± 0.00" in rows["expB"]
    # bootstrap CI of expA's mean lies inside the seeds' range and around the mean
    numbers = json.loads((tmp_path / "r.json").read_text())
    lo, hi = numbers["expA"]["final_return_ci95"]
    assert 1.0 <= lo < 22.0 < hi <= 100.0
    assert numbers["expA"]["success_rates"]["collect_wood"] == pytest.approx(np.mean([0, 10, 20, 50, 100]))
    # the PNG and the scores files
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < out.stat().st_size < 1_000_000
    scores = json.loads((a / "scores" / "crafter_reward-tiny.json").read_text())
    assert [r["seed"] for r in scores] == [0, 1, 2, 3, 4] and all(len(r["xs"]) == 10 for r in scores)


def test_iqm_and_bootstrap():
    from craftlab.commands.report import bootstrap_ci, iqm

    assert iqm([1, 2, 3, 4, 100]) == pytest.approx(3.0)
    assert iqm([1, 2, 3, 100]) == pytest.approx(2.5)
    assert iqm([4, 8]) == pytest.approx(6.0)
    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= lo < 2.5 < hi <= 4.0
    assert bootstrap_ci([7.0]) == (7.0, 7.0)


def test_seeds_launch_an_experiment_and_report_it(tmp_path, capsys):
    exp = tmp_path / "cartpole_exp"
    assert (
        main(
            [
                str(CARTPOLE),
                "--seeds",
                "0",
                "1",
                "--run-dir",
                str(exp),
                "--set",
                "train.total_timesteps=256",
                "--set",
                "train.num_envs=2",
                "--set",
                "train.eval_interval=0",
            ]
        )
        == 0
    )
    record = json.loads((exp / "experiment.json").read_text())
    assert record["status"] == {"0": 0, "1": 0}
    for seed in (0, 1):
        run = exp / f"seed_{seed}"
        assert (run / "checkpoints" / "latest").exists()
        assert f"seed: {seed}" in (run / "config.yaml").read_text()
    eps0 = (exp / "seed_0" / "episodes.jsonl").read_text()
    assert eps0 and eps0 != (exp / "seed_1" / "episodes.jsonl").read_text()  # different seeds, different runs
    capsys.readouterr()
    assert main(["report", str(exp)]) == 0
    assert (exp / "report.png").exists()
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("cartpole_exp"))
    assert row.split()[1] == "2"
    # a bad use is one line and exit 2
    assert main([str(CARTPOLE), "--seeds", "0", "0", "--run-dir", str(tmp_path / "dup")]) == 2
    assert main(["report", str(tmp_path / "nothing")]) == 2
