"""A run killed mid-training (SIGKILL, a real subprocess) resumes: same total
step count, and a continuous TensorBoard step axis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tb import read_scalars

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 6144


def test_killed_run_resumes_where_it_stopped(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "train.py", "configs/ppo_cartpole.yaml", "--run-dir", str(run_dir), "--device", "cpu",
           "--set", f"train.total_timesteps={TOTAL}", "--set", "train.checkpoint_interval=1024",
           "--set", "train.eval_interval=0", "--set", "train.progress_bar=false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    ckpt_dir = run_dir / "checkpoints"
    # wait until at least two checkpoints exist, then kill -9 mid-training
    while time.time() < deadline:
        steps = sorted(p.name for p in ckpt_dir.glob("step_*")) if ckpt_dir.exists() else []
        if len(steps) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = int((ckpt_dir / "latest").read_text().strip().split("_")[1])
    assert 0 < killed_at < TOTAL

    resumed = subprocess.run([sys.executable, "train.py", "--resume", str(run_dir)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["num_timesteps"] == TOTAL

    scalars = read_scalars(run_dir)
    # The resumed part continues from the checkpoint: purged events mean each
    # step appears once and the axis runs on to the end without going back.
    for tag in ("charts/SPS", "losses/policy_loss"):
        steps = [s for s, _ in scalars[tag]]
        assert steps == sorted(steps), f"{tag} goes back in time: {steps}"
        assert len(steps) == len(set(steps)), f"{tag} repeats steps"
        assert steps[-1] == TOTAL
    assert any(s <= killed_at for s, _ in scalars["losses/policy_loss"])  # kept from before the kill
    # episodes.jsonl was cut back to the checkpoint and then continued
    lines = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    ep_steps = [e["step"] for e in lines]
    assert ep_steps == sorted(ep_steps)
    assert "resumed from" in (run_dir / "train.log").read_text()

    # a finished run trains longer with --resume --set train.total_timesteps=...
    longer = subprocess.run([sys.executable, "train.py", "--resume", str(run_dir), "--set",
                             f"train.total_timesteps={TOTAL + 512}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert json.loads((run_dir / "summary.json").read_text())["num_timesteps"] == TOTAL + 512
    assert f"total_timesteps: {TOTAL + 512}" in (run_dir / "config.yaml").read_text()
