"""Crashes lose nothing: a run killed (SIGKILL, real subprocesses) mid checkpoint
write and mid resume resumes with every episode line its checkpoint counted and
every TensorBoard tag on a continuous step axis; and the pieces one at a time
(sync before a checkpoint, the purge step, a fresh start, an atomic cut of the
record, the warning on lost lines)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
from tb import read_scalars, repeated_steps

from craftlab.agents.run_context import RunContext
from craftlab.core.checkpoint import Checkpointer
from craftlab.core.logger import RunLogger
from craftlab.core.run_dir import RunDir
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import resume, train

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import kill_campaign  # noqa: E402

UPDATE = 256
"""env steps per PPO update in configs/ppo_cartpole.yaml (8 envs x 32 steps)"""


class FakeAgent:
    """Just enough of an agent for the checkpointer."""

    name = "fake"
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.num_timesteps = 0

    def save(self, directory):
        (Path(directory) / "agent.pt").write_bytes(b"weights")

    def load(self, directory):
        pass


def test_killed_mid_checkpoint_and_mid_resume_the_run_loses_nothing(tmp_path):
    """PPO CartPole through train.py, SIGKILLed in the middle of a checkpoint
    write, then in the middle of the resume after it; a last resume (in this
    process: one interpreter start less) finishes. No episode line the checkpoint
    counted is lost, and no TensorBoard tag misses or repeats a step
    (benchmarks/kill_campaign.py's checks, and the grid of updates and evaluations).
    Each wait ends on its event (a checkpoint's .tmp-* folder, the resume's
    TensorBoard file); the timeout is only a safety net for a hung process."""

    def finish(run_dir, resuming, total):
        assert resuming
        resume(run_dir, [f"train.total_timesteps={total}"], handle_signals=False)

    outcome = kill_campaign.campaign(
        ROOT,
        tmp_path,
        "ppo",
        ["checkpoint", "resume"],
        random.Random(0),
        timeout=900,
        finish_steps=2 * UPDATE,
        overrides=["--set", f"train.checkpoint_interval={2 * UPDATE}", "--set", f"train.eval_interval={4 * UPDATE}"],
        finish=finish,
    )
    assert [k.moment for k in outcome.kills] == ["checkpoint", "resume"]
    assert outcome.problems == []
    mid_write, mid_resume = outcome.kills
    assert mid_write.resumed_from > 0 and mid_write.counted[mid_write.resumed_from] > 0
    assert mid_resume.resumed_from == mid_write.resumed_from  # the killed resume saved nothing
    run_dir = tmp_path / "ppo_run"
    final = json.loads((run_dir / "summary.json").read_text())["num_timesteps"]
    assert final == mid_write.resumed_from + 2 * UPDATE

    scalars = read_scalars(run_dir)
    episodes = [json.loads(line)["step"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    assert repeated_steps(scalars, episodes) == {}  # every tag
    # every update and every evaluation exactly once, those at the checkpoint's step included
    for tag, points in scalars.items():
        if tag.startswith("losses/"):
            assert [s for s, _ in points] == list(range(UPDATE, final + 1, UPDATE)), tag
        if tag.startswith("eval/"):
            assert [s for s, _ in points] == list(range(4 * UPDATE, final + 1, 4 * UPDATE)), tag
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]  # .tmp-* cleaned

    # a finished run trains longer with --resume --set train.total_timesteps=...
    resume(run_dir, [f"train.total_timesteps={final + UPDATE}"], handle_signals=False)
    assert json.loads((run_dir / "summary.json").read_text())["num_timesteps"] == final + UPDATE
    assert f"total_timesteps: {final + UPDATE}" in (run_dir / "config.yaml").read_text()
    assert [s for s, _ in read_scalars(run_dir)["losses/policy_loss"]] == list(
        range(UPDATE, final + UPDATE + 1, UPDATE)
    )


def test_a_checkpoint_finds_its_episodes_and_points_already_on_disk(tmp_path):
    """The episode record and TensorBoard are synced before a checkpoint is saved:
    killed right after the checkpoint exists, a run loses none of the lines and
    points it counts on (they used to be flushed after it)."""
    logger = RunLogger(tmp_path, 0, progress_bar=False)
    run = RunContext(logger=logger, checkpointer=Checkpointer(RunDir(tmp_path).checkpoints), checkpoint_interval=100)
    run.agent = agent = FakeAgent()
    on_disk = {}
    save = run.checkpointer.save

    def save_then_look(agent, extra_meta=None):
        path = save(agent, extra_meta)  # from here on a kill -9 resumes from this checkpoint
        on_disk["lines"] = RunDir(tmp_path).episodes.read_text().splitlines()
        on_disk["scalars"] = read_scalars(tmp_path)
        return path

    run.checkpointer.save = save_then_look
    for step in range(1, 101):
        agent.num_timesteps = step
        if step % 4 == 0:
            run.record_episode(step, {"r": 1.0, "l": 4})
        run.log(step, {"losses/x": float(step)})
        run.on_step(step)
    assert Checkpointer(RunDir(tmp_path).checkpoints).latest().meta["episodes"] == 25
    assert len(on_disk["lines"]) == 25
    assert [s for s, _ in on_disk["scalars"]["losses/x"]] == list(range(1, 101))
    assert [s for s, _ in on_disk["scalars"]["charts/episodic_return"]] == list(range(4, 101, 4))
    logger.close()


def test_resume_keeps_the_points_at_the_checkpoint_step(tmp_path):
    """TensorBoard's purge starts one step past the checkpoint: the points logged
    at its step (before it was saved) stay, later ones of the dead process go."""
    dead = RunLogger(tmp_path, 0, progress_bar=False)
    for step in range(1, 11):
        dead.scalar("losses/x", float(step), step)
    dead.close()  # killed at step 10, its last checkpoint at step 5
    resumed = RunLogger(tmp_path, 0, start_step=5, progress_bar=False)
    for step in range(6, 9):
        resumed.scalar("losses/x", 100.0 + step, step)
    resumed.close()
    assert read_scalars(tmp_path)["losses/x"] == [(s, float(s)) for s in range(1, 6)] + [
        (6, 106.0),
        (7, 107.0),
        (8, 108.0),
    ]


def test_a_fresh_start_drops_a_dead_attempts_curves(tmp_path):
    """A run killed before its first checkpoint starts over in the same folder:
    the dead attempt's event files and episode lines go, so no step shows twice."""
    dead = RunLogger(tmp_path, 0, progress_bar=False)
    for step in range(1, 7):
        dead.record_episode(step, {"r": 0.0, "l": 1})
        dead.scalar("losses/x", 0.0, step)
    dead.close()
    fresh = RunLogger(tmp_path, 0, progress_bar=False)
    for step in range(1, 4):
        fresh.record_episode(step, {"r": 1.0, "l": 1})
        fresh.scalar("losses/x", 1.0, step)
    fresh.close()
    scalars = read_scalars(tmp_path)
    assert repeated_steps(scalars, [1, 2, 3]) == {}
    assert scalars["losses/x"] == [(1, 1.0), (2, 1.0), (3, 1.0)]
    assert len(RunDir(tmp_path).episodes.read_text().splitlines()) == 3
    assert len(RunDir(tmp_path).tensorboard_files()) == 1


def test_a_crash_while_resume_cuts_the_record_keeps_every_line(tmp_path):
    """Resume cuts episodes.jsonl back to the checkpoint through a temporary file
    and a rename: a crash in the middle of the rewrite leaves the file whole
    (an in-place rewrite left it cut short: 58,787 lines lost in the issue)."""
    episodes = RunDir(tmp_path).episodes
    episodes.write_text("".join(json.dumps({"step": s, "r": 1.0, "l": 1}) + "\n" for s in range(1, 3001)))
    original = episodes.read_bytes()
    # the rewrite dies part way: writes past 20 kB fail (RLIMIT_FSIZE), as a kill -9 would stop them
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000)); "
        "from craftlab.core.logger import RunLogger; "
        "RunLogger(sys.argv[1], 0, start_step=1500, progress_bar=False, tensorboard=False)"
    )
    died = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert died.returncode != 0 and "File too large" in died.stderr, died.stderr[-2000:]
    assert episodes.read_bytes() == original
    resumed = RunLogger(tmp_path, 0, start_step=1500, progress_bar=False, tensorboard=False)
    resumed.close()
    assert resumed.episode_count == 1500
    assert [json.loads(line)["step"] for line in episodes.read_text().splitlines()] == list(range(1, 1501))
    assert [p.name for p in tmp_path.iterdir()] == [episodes.name]  # the dead rewrite's temporary file is gone


def test_resume_warns_when_the_record_lost_episodes_the_checkpoint_counted(tmp_path, capsys):
    """A resume compares episodes.jsonl with the checkpoint's episode count and
    says how many lines are gone (a wiped file used to resume at 0 in silence)."""
    config = load_run_config(
        data={
            "env": {"id": "CliffWalking-v1"},
            "algo": {"name": "q_learning"},
            "train": {"total_timesteps": 3000, "checkpoint_interval": 1000, "eval_interval": 0, "progress_bar": False},
        }
    )
    run_dir = train(config, tmp_path / "run", handle_signals=False)
    latest = Checkpointer(RunDir(run_dir).checkpoints).latest()
    counted = latest.meta["episodes"]
    assert counted == len(RunDir(run_dir).episodes.read_text().splitlines()) > 0
    RunDir(run_dir).episodes.unlink()  # the record wiped by a crash
    resume(run_dir, ["train.total_timesteps=3500"], handle_signals=False)
    warning = f"holds 0 episodes up to step {latest.step}, but the checkpoint counted {counted}: {counted} lost"
    assert warning in capsys.readouterr().err
    assert warning in RunDir(run_dir).log.read_text()
