"""``train.py sweep`` and ``--seeds`` on Ray Tune (a local Ray with 2 CPUs, as in CI):
run folders per trial, the trials table and best config, ASHA stopping a bad
trial, a trial killed with SIGKILL continuing from its checkpoint, bad
``--param`` values refused before Ray starts, and ``--seeds`` giving the same
folders through Ray as through local subprocesses.

The agent is tabular Q-learning on CliffWalking (alpha is its learning rate):
seconds per trial, deterministic for a seed, and its greedy evaluation return
is exactly -13 (the optimal path) once learned, so good trials tie and ASHA's
cut is no coin toss; alpha = 1e-4 learns nothing useful in the budget (-100:
the episode cap).
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from craftlab.commands import sweep as sweep_command
from craftlab.commands.cli import main
from craftlab.runs.run_config import load_run_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tb import read_scalars, repeated_steps  # noqa: E402

CLIFF = {
    "name": "cliff",
    "env": {"id": "CliffWalking-v1", "max_episode_steps": 100},
    "algo": {"name": "q_learning", "alpha": 0.5, "gamma": 1.0, "epsilon": 0.1},
    "train": {
        "total_timesteps": 6000,
        "num_envs": 1,
        "seed": 0,
        "checkpoint_interval": 1000,
        "eval_interval": 1000,
        "eval_episodes": 1,
        "progress_bar": False,
    },
}
GOOD, BAD = [0.5, 0.7, 1.0], 1e-4


def write_config(folder: Path, **train: int) -> Path:
    data = json.loads(json.dumps(CLIFF))
    data["train"].update(train)
    path = folder / "cliff.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.tune")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    if started:
        ray.shutdown()


def read_trials(folder: Path) -> list[dict[str, str]]:
    with open(folder / "trials.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def asha_sweep(local_ray, tmp_path_factory):
    """Four trials over alpha, three good and one bad (started last: 2 CPUs run two at a time),
    ASHA with one rung at 4,000 of 6,000 steps."""
    folder = tmp_path_factory.mktemp("asha")
    config = write_config(folder)
    alphas = ", ".join(str(a) for a in [*GOOD, BAD])
    code = main(
        [
            "sweep",
            str(config),
            "--param",
            f"algo.alpha=grid({alphas})",
            "--samples",
            "1",
            "--metric",
            "eval/mean_return",
            "--scheduler",
            "asha",
            "--grace-period",
            "4000",
            "--reduction-factor",
            "2",
            "--run-dir",
            str(folder / "sweep"),
        ]
    )
    return code, folder / "sweep"


def test_sweep_writes_a_run_folder_per_trial_the_trials_table_and_the_best_config(asha_sweep):
    code, folder = asha_sweep
    assert code == 0
    rows = read_trials(folder)
    assert sorted(float(r["algo.alpha"]) for r in rows) == sorted([*GOOD, BAD])
    for row in rows:  # every trial a normal run folder
        run = folder / row["trial"]
        assert (run / "config.yaml").exists() and (run / "episodes.jsonl").exists()
        assert list(run.glob("events.out.tfevents.*")) and (run / "checkpoints" / "latest").exists()
        assert json.loads((run / "summary.json").read_text())["status"] in ("finished", "stopped_early")
        assert load_run_config(run / "config.yaml").algo.alpha == float(row["algo.alpha"])
    metrics = [float(r["eval/mean_return"]) for r in rows]
    assert max(metrics) == -13.0  # the optimal path: some trial learned it
    best = (folder / "best_config.yaml").read_text()
    assert re.search(r"eval/mean_return = (\S+)", best).group(1) == "-13"
    best_alpha = load_run_config(folder / "best_config.yaml").algo.alpha
    assert best_alpha in [float(r["algo.alpha"]) for r in rows if float(r["eval/mean_return"]) == max(metrics)]
    assert "sweep" not in yaml.safe_load(best)  # ready to train as is
    assert "| trial | algo.alpha | eval/mean_return | steps | status |" in (folder / "trials.md").read_text()


def test_asha_stops_the_bad_trial_early_and_lets_the_good_ones_finish(asha_sweep):
    code, folder = asha_sweep
    rows = {float(r["algo.alpha"]): r for r in read_trials(folder)}
    bad = rows[BAD]
    assert bad["status"] == "stopped_early" and int(bad["steps"]) < 6000
    assert float(bad["eval/mean_return"]) < -13
    summary = json.loads((folder / bad["trial"] / "summary.json").read_text())
    assert summary["status"] == "stopped_early" and summary["num_timesteps"] == int(bad["steps"])
    for alpha in GOOD:
        assert rows[alpha]["status"] == "finished" and int(rows[alpha]["steps"]) >= 6000
        assert float(rows[alpha]["eval/mean_return"]) == -13.0


def test_a_killed_trial_restarts_from_its_checkpoint_and_its_curves_continue(local_ray, tmp_path):
    total, interval = 16_000, 2000
    config = write_config(tmp_path, total_timesteps=total, checkpoint_interval=interval, eval_interval=interval)
    folder = tmp_path / "sweep"
    run = folder / "trial_000"
    killed: dict[str, int] = {}

    def kill_after_first_checkpoint():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            latest = run / "checkpoints" / "latest"
            log = run / "console.log"
            found = re.search(r"process (\d+)", log.read_text()) if log.exists() else None
            if latest.exists() and found:
                killed["step"] = int(latest.read_text().strip().split("_")[-1])
                killed["pid"] = int(found.group(1))
                os.kill(killed["pid"], signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_first_checkpoint, daemon=True)
    killer.start()
    code = main(
        [
            "sweep",
            str(config),
            "--param",
            "algo.alpha=grid(0.5)",
            "--samples",
            "1",
            "--metric",
            "eval/mean_return",
            "--scheduler",
            "none",
            "--max-failures",
            "2",
            "--run-dir",
            str(folder),
        ]
    )
    killer.join(timeout=5)
    assert "pid" in killed and killed["step"] < total, "the trial ended before it could be killed"
    assert code == 0
    row = read_trials(folder)[0]
    assert row["status"] == "finished" and int(row["steps"]) >= total
    pids = [int(p) for p in re.findall(r"process (\d+)", (run / "console.log").read_text())]
    assert len(pids) == 2 and pids[0] == killed["pid"] != pids[1]  # a second process took over ...
    assert "resuming" in (run / "console.log").read_text()  # ... from the checkpoint, not from scratch
    assert re.search(r"resumed from .*step_0*(\d+) at step", (run / "train.log").read_text())
    # The curves go on: every finished episode once in episodes.jsonl and TensorBoard, one evaluation
    # per interval, and Ray Tune's results never step back or repeat.
    episodes = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    steps = [e["step"] for e in episodes]
    assert steps == sorted(steps) and steps[-1] > killed["step"]
    scalars = read_scalars(run)
    assert repeated_steps(scalars, steps) == {}
    evals = [step // interval for step, _ in scalars["eval/mean_return"]]
    assert evals == list(range(1, len(evals) + 1)) and evals[-1] >= total // interval
    reported = [
        json.loads(line)["num_timesteps"]
        for line in (folder / "tune" / "trial_000" / "result.json").read_text().splitlines()
    ]
    assert reported == sorted(set(reported)) and reported[-1] >= total


@pytest.mark.parametrize(
    "param, words",
    [
        ("algo.lerning_rate=loguniform(1e-4,3e-3)", ["algo.lerning_rate", "does not exist"]),
        ("algo.alpha=logunifrom(1e-3,0.5)", ["unknown distribution 'logunifrom'", "loguniform"]),
        ("algo.alpha=loguniform(1e-3)", ["takes 2 arguments"]),
        ("algo.alpha=loguniform(1e-3,0.5", ["is not a distribution"]),
        ("algo.alpha=uniform(0.9,0.1)", ["low 0.9 must be < high 0.1"]),
        ("algo.alpha=uniform(0.1,2.0)", ["algo.alpha", "must be in (0, 1]"]),
        ("train.num_envs=uniform(1,4)", ["train.num_envs", "must be an integer"]),
        ("algo.alpha", ["must look like key.path=distribution"]),
    ],
)
def test_a_bad_param_is_one_line_and_exit_2_before_ray_starts(param, words, tmp_path, monkeypatch, capsys):
    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started for a bad --param")

    monkeypatch.setattr(sweep_command, "start_ray", no_ray)
    monkeypatch.setattr(sweep_command, "run_sweep", no_ray)
    config = write_config(tmp_path)
    code = main(
        ["sweep", str(config), "--param", param, "--metric", "eval/mean_return", "--run-dir", str(tmp_path / "sweep")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    for word in words:
        assert word in err[0]
    assert not (tmp_path / "sweep").exists()


def test_sweep_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    config = write_config(tmp_path)
    code = main(
        [
            "sweep",
            str(config),
            "--param",
            "algo.alpha=loguniform(0.1,0.5)",
            "--metric",
            "eval/mean_return",
            "--run-dir",
            str(tmp_path / "sweep"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install -e '.[ray]'" in err[0]
    assert main([str(config), "--seeds", "0", "1", "--launcher", "ray", "--run-dir", str(tmp_path / "exp")]) == 2


def test_seeds_through_ray_match_the_local_layout_and_report_reads_both(local_ray, tmp_path, capsys):
    config = write_config(tmp_path, total_timesteps=2000)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main([str(config), "--seeds", "0", "1", "--launcher", "local", "--run-dir", str(local)]) == 0
    assert main([str(config), "--seeds", "0", "1", "--run-dir", str(on_ray)]) == 0  # auto: Ray is installed

    def layout(run: Path) -> list[str]:
        names = [str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()]
        return sorted(re.sub(r"events\.out\.tfevents\..*", "events.out.tfevents.*", n) for n in names)

    def episodes(run: Path) -> list[tuple]:
        return [(e["step"], e["r"], e["l"]) for e in map(json.loads, (run / "episodes.jsonl").read_text().splitlines())]

    for exp, launcher in ((local, "local"), (on_ray, "ray")):
        record = json.loads((exp / "experiment.json").read_text())
        assert record["launcher"] == launcher and record["status"] == {"0": 0, "1": 0}
    for seed in (0, 1):
        assert layout(local / f"seed_{seed}") == layout(on_ray / f"seed_{seed}")
        assert episodes(local / f"seed_{seed}") == episodes(on_ray / f"seed_{seed}")  # the same training
    assert episodes(on_ray / "seed_0") != episodes(on_ray / "seed_1")
    capsys.readouterr()
    assert main(["report", str(local), str(on_ray)]) == 0
    table = capsys.readouterr().out.splitlines()
    for name in ("local", "ray"):
        row = next(line for line in table if line.startswith(name + " "))
        assert row.split()[1] == "2"  # two seeds each
