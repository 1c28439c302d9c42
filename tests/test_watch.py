"""``python train.py watch``: videos with exactly one frame per step plus the
initial frame of each episode, a window under SDL's dummy driver, the headless
fallback, and text environments in the terminal. Real runs, real files."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from craftlab.commands.cli import main

CARTPOLE = Path(__file__).resolve().parent.parent / "configs" / "ppo_cartpole.yaml"


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("watch") / "cartpole"
    code = main(
        [
            str(CARTPOLE),
            "--run-dir",
            str(run),
            "--set",
            "train.total_timesteps=256",
            "--set",
            "train.num_envs=2",
            "--set",
            "train.eval_interval=0",
            "--set",
            "train.progress_bar=false",
        ]
    )
    assert code == 0
    return run


def episode_lengths(run: Path, episodes: int, seed: int, max_steps: int | None = None) -> list[int]:
    """Lengths of the same episodes played by craftlab.runs.evaluation (independent of watch)."""
    from craftlab.commands.evaluate import load_trained_agent
    from craftlab.runs.evaluation import evaluate

    loaded = load_trained_agent(run)
    try:
        return evaluate(loaded.agent, loaded.agent.envs, episodes=episodes, seed=seed, max_steps=max_steps).lengths
    finally:
        loaded.agent.close()


def count_frames(path: Path) -> int:
    reader = imageio.get_reader(path)
    try:
        return sum(1 for _ in reader)
    finally:
        reader.close()


def test_video_has_one_frame_per_step_plus_initial(cartpole_run, tmp_path, capsys):
    out = tmp_path / "rollout.mp4"
    assert main(["watch", str(cartpole_run), "--video", str(out), "--episodes", "2", "--seed", "7"]) == 0
    lengths = episode_lengths(cartpole_run, 2, 7)
    assert count_frames(out) == sum(lengths) + 2  # each episode: initial frame + one per step
    printed = capsys.readouterr().out
    for k, length in enumerate(lengths):
        assert f"episode {k + 1}: return {float(length):.2f}, {length} steps" in printed
    first = imageio.get_reader(out).get_data(0)
    assert first.shape[0] % 2 == 0 and first.shape[1] > 600  # frame + text panel


def test_gif_with_max_steps(cartpole_run, tmp_path):
    out = tmp_path / "rollout.gif"
    assert main(["watch", str(cartpole_run), "--gif", str(out), "--seed", "3", "--max-steps", "6"]) == 0
    lengths = episode_lengths(cartpole_run, 1, 3, max_steps=6)
    assert lengths == [6]
    import imageio.v3 as iio

    assert iio.imread(out, index=None).shape[0] == 6 + 1


def test_window_opens_and_closes_with_dummy_driver(cartpole_run, capsys, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert main(["watch", str(cartpole_run), "--window", "--seed", "1", "--max-steps", "4", "--fps", "500"]) == 0
    assert "window closed after 5 frames" in capsys.readouterr().out
    import pygame

    assert not pygame.display.get_init()


def test_window_keys(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from craftlab.commands.watch import Window

    window = Window("test", fps=100)
    import pygame

    try:
        frame = np.zeros((60, 80, 3), dtype=np.uint8)
        frame[:, :40] = 255
        assert window.show(frame)
        surface = pygame.display.get_surface()
        assert surface.get_size() == (80, 60)
        assert tuple(surface.get_at((10, 10)))[:3] == (255, 255, 255)
        assert tuple(surface.get_at((70, 10)))[:3] == (0, 0, 0)
        key = lambda k: pygame.event.Event(pygame.KEYDOWN, key=k)  # noqa: E731
        window.handle(key(pygame.K_SPACE))
        assert window.paused
        window.handle(key(pygame.K_n))  # one frame: show returns at once though paused
        assert window.show(frame) and window.paused
        window.handle(key(pygame.K_DOWN))
        assert window.fps == pytest.approx(100 / 1.5)
        window.handle(key(pygame.K_UP))
        assert window.fps == pytest.approx(100)
        window.handle(key(pygame.K_SPACE))
        assert not window.paused
        pygame.event.post(key(pygame.K_q))
        assert window.show(frame) is False
    finally:
        window.close()
    assert not pygame.display.get_init()


def test_no_display_writes_a_video_into_the_run(cartpole_run, capsys, monkeypatch):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(var, raising=False)
    before = set((cartpole_run / "watch").glob("*.mp4")) if (cartpole_run / "watch").exists() else set()
    assert main(["watch", str(cartpole_run), "--seed", "2", "--max-steps", "5"]) == 0
    assert "no display found" in capsys.readouterr().out
    new = set((cartpole_run / "watch").glob("*.mp4")) - before
    assert len(new) == 1
    assert count_frames(new.pop()) == 5 + 1


def test_text_environment_plays_in_terminal(tmp_path, capsys):
    config = tmp_path / "windy.yaml"
    config.write_text(
        "env:\n  id: tabular/windy_gridworld\nalgo:\n  name: q_learning\n"
        "train:\n  total_timesteps: 500\n  num_envs: 1\n  progress_bar: false\n"
    )
    run = tmp_path / "windy"
    assert main([str(config), "--run-dir", str(run)]) == 0
    capsys.readouterr()
    assert main(["watch", str(run), "--fps", "0", "--seed", "0", "--max-steps", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("G") == 4  # the goal in the initial frame and after each of 3 steps
    assert "step 3" in " ".join(out.split()) and "episode 1: return" in out
    assert main(["watch", str(run), "--video", str(tmp_path / "x.mp4")]) == 2


def test_bad_run_folder_is_one_line(tmp_path, capsys):
    assert main(["watch", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run folder" in err[0]
