"""``python train.py eval`` and the periodic evaluation during training
(``train.eval_interval`` / ``train.eval_video``): real runs, real files."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
import pytest

from craftlab.commands.cli import main

CARTPOLE = Path(__file__).resolve().parent.parent / "configs" / "ppo_cartpole.yaml"


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory) -> Path:
    """CartPole with an evaluation (and its video) every 128 steps, all checkpoints kept."""
    run = tmp_path_factory.mktemp("eval") / "cartpole"
    code = main(
        [
            str(CARTPOLE),
            "--run-dir",
            str(run),
            "--set",
            "train.total_timesteps=384",
            "--set",
            "train.num_envs=2",
            "--set",
            "train.eval_interval=128",
            "--set",
            "train.eval_episodes=2",
            "--set",
            "train.eval_video=true",
            "--set",
            "train.checkpoint_interval=128",
            "--set",
            "train.keep_checkpoints=0",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 0
    return run


def test_eval_writes_json_with_the_episodes(evaluated_run, capsys):
    assert main(["eval", str(evaluated_run), "--episodes", "3", "--seed", "5"]) == 0
    step = json.loads((evaluated_run / "summary.json").read_text())["num_timesteps"]
    path = evaluated_run / "eval" / f"eval_{step:010d}.json"
    data = json.loads(path.read_text())
    assert data["episodes"] == 3 and len(data["returns"]) == 3 and len(data["lengths"]) == 3
    assert data["checkpoint_step"] == step
    assert data["mean_return"] == pytest.approx(sum(data["returns"]) / 3)
    assert data["deterministic"] is True
    assert str(path) in capsys.readouterr().out


def test_eval_checkpoint_and_stochastic(evaluated_run):
    out = evaluated_run / "custom.json"
    assert (
        main(["eval", str(evaluated_run), "--checkpoint", "128", "--episodes", "2", "--stochastic", "--out", str(out)])
        == 0
    )
    data = json.loads(out.read_text())
    assert data["checkpoint_step"] == 128 and data["episodes"] == 2 and data["deterministic"] is False


def test_best_uses_the_best_evaluation(evaluated_run, capsys):
    evaluations = [json.loads(line) for line in (evaluated_run / "eval" / "evaluations.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evaluations] == [128, 256, 384]
    best = max(evaluations, key=lambda e: e["mean_return"])["step"]
    assert main(["eval", str(evaluated_run), "--best", "--episodes", "1", "--out", str(evaluated_run / "b.json")]) == 0
    assert json.loads((evaluated_run / "b.json").read_text())["checkpoint_step"] == best
    assert f"--best: checkpoint at step {best}" in capsys.readouterr().out


def test_best_without_evaluations_explains_the_fallback(tmp_path, capsys):
    run = tmp_path / "noeval"
    assert (
        main(
            [
                str(CARTPOLE),
                "--run-dir",
                str(run),
                "--set",
                "train.total_timesteps=128",
                "--set",
                "train.num_envs=2",
                "--set",
                "train.eval_interval=0",
                "--set",
                "train.progress_bar=false",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["eval", str(run), "--best", "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    assert "has no evaluations" in out and "latest checkpoint" in out


def test_periodic_evaluation_writes_videos_to_run_and_tensorboard(evaluated_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    evaluations = [json.loads(line) for line in (evaluated_run / "eval" / "evaluations.jsonl").read_text().splitlines()]
    for e in evaluations:
        video = evaluated_run / "eval" / f"step_{e['step']:010d}.mp4"
        reader = imageio.get_reader(video)
        frames = sum(1 for _ in reader)
        reader.close()
        assert frames == min(e["lengths"][0], 300) + 1  # the first evaluation episode, initial frame included
    events = EventAccumulator(str(evaluated_run), size_guidance={"images": 0})
    events.Reload()
    images = events.Images("eval/video")
    assert [i.step for i in images] == [e["step"] for e in evaluations]
    import imageio.v3 as iio

    gif = iio.imread(images[0].encoded_image_string, extension=".gif", index=None)
    assert gif.ndim == 4 and gif.shape[0] > 1 and gif.shape[1:3] == (images[0].height, images[0].width)
