"""User mistakes and limits (issue 9): every bad input gives exit status 2, exactly
one line on stderr (``error: ...`` naming the problem and the fix), no traceback,
and leaves nothing behind (no run folder, no new file anywhere under tmp_path).

One table, one row per mistake, run through ``craftlab.commands.cli.main``
in-process (a row may monkeypatch what cannot be staged for real: no GPU, a
full disk, EACCES while running as root); two rows also through a real
``python train.py`` subprocess. A corrupt latest checkpoint is not a mistake
but damage: resume, eval and watch fall back to the previous checkpoint with
one ``warning:`` line and go on; only when none loads is it an error.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import torch

from craftlab.commands.cli import main
from craftlab.runs import training

ROOT = Path(__file__).resolve().parent.parent
CARTPOLE = ROOT / "configs" / "ppo_cartpole.yaml"
CRAFTER = ROOT / "configs" / "default.yaml"
MINERL_REMOTE = ROOT / "configs" / "minerl" / "ppo_treechop_remote.yaml"
QUIET = ["--set", "train.progress_bar=false", "--set", "train.eval_interval=0"]
SMALL = [*QUIET, "--set", "train.total_timesteps=64", "--set", "train.num_envs=2"]
"""a budget that ends in seconds should a row's mistake go unnoticed"""


def write_config(tmp: Path, name: str, text: str) -> str:
    """A YAML config outside tmp/work (where the runs would go)."""
    path = tmp / "configs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


def sb3_ppo(tmp: Path, env: str = "CartPole-v1") -> str:
    return write_config(
        tmp,
        "sb3_ppo.yaml",
        f"env: {{id: {env}}}\nalgo: {{name: sb3_ppo}}\ntrain: {{num_envs: 1, progress_bar: false}}\n",
    )


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> str:
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def fail_config_write_with_enospc(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """A full disk: writing the run's config.yaml fails as os.write would."""
    original = Path.write_text

    def write_text(self: Path, *args, **kwargs):
        if self.name == "config.yaml" and tmp in self.absolute().parents:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)


def refuse_mkdir_with_eacces(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """A read-only folder: tests run as root, where chmod is not enforced, so
    creating anything under tmp/readonly fails the way mkdir(2) does for a user."""
    original = Path.mkdir

    def mkdir(self: Path, *args, **kwargs):
        if tmp / "readonly" in self.absolute().parents:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


@dataclass
class Case:
    id: str
    argv: Callable[[Path], list[str]]
    """the command line, given tmp_path (the run folder goes in tmp_path/work: the cwd)"""
    expect: tuple[str, ...]
    """what the error line must say"""
    patch: Callable[[pytest.MonkeyPatch, Path], None] | None = None
    subprocess: bool = False
    """also run it as ``python train.py ...``"""
    setup: Callable[[Path], None] = field(default=lambda tmp: None)


CASES = [
    Case(
        "negative seed",
        lambda t: [str(CARTPOLE), "--run-dir", "run", "--set", "train.seed=-1"],
        ("train.seed", "must be >= 0"),
        subprocess=True,
    ),
    Case(
        "cuda without a GPU",
        lambda t: [str(CARTPOLE), "--run-dir", "run", "--device", "cuda", *SMALL],
        ("train.device", "no CUDA GPU", "--device cpu"),
        patch=lambda mp, t: mp.setattr(torch.cuda, "is_available", lambda: False),
    ),
    Case(
        "tabular algorithm on Crafter (image observations)",
        lambda t: [
            write_config(
                t,
                "q.yaml",
                "env: {id: crafter, kwargs: {length: 20}}\nalgo: {name: q_learning}\ntrain: {num_envs: 1}\n",
            )
        ],
        ("q_learning", "tabular", "Discrete", "crafter"),
    ),
    Case(
        "SB3 DQN on continuous actions (Pendulum)",
        lambda t: [
            write_config(t, "dqn.yaml", "env: {id: Pendulum-v1}\nalgo: {name: sb3_dqn}\ntrain: {num_envs: 1}\n")
        ],
        ("sb3_dqn", "Discrete action space", "Pendulum-v1", "Box"),
    ),
    Case(
        "misspelled SB3 policy",
        lambda t: [sb3_ppo(t), "--set", "algo.policy=MlpPolicyy", "--set", "algo.kwargs.n_steps=64"],
        ("algo.policy", "MlpPolicyy", "did you mean 'MlpPolicy'"),
    ),
    Case(
        "run folder inside a regular file (read-only for root too)",
        lambda t: [str(CARTPOLE), "--run-dir", "afile/run", *SMALL],
        ("afile", "is a file, not a folder", "--run-dir"),
        setup=lambda t: (t / "work" / "afile").write_text("not a folder\n"),
        subprocess=True,
    ),
    Case(
        "default runs/ is a regular file",
        lambda t: [str(CARTPOLE), *SMALL],
        ("runs", "is a file", "--run-dir"),
        setup=lambda t: (t / "work" / "runs").write_text("not a folder\n"),
    ),
    Case(
        "read-only run folder (EACCES)",
        lambda t: [str(CARTPOLE), "--run-dir", str(t / "readonly" / "run"), *SMALL],
        ("cannot write", "readonly", "Permission denied", "writable --run-dir"),
        patch=refuse_mkdir_with_eacces,
        setup=lambda t: (t / "readonly").mkdir(),
    ),
    Case(
        "full disk (ENOSPC)",
        lambda t: [str(CARTPOLE), "--run-dir", "run", *SMALL],
        ("no space left", "run/config.yaml", "--run-dir"),
        patch=fail_config_write_with_enospc,
    ),
    Case(
        "name escaping runs/ with ..",
        lambda t: [str(CARTPOLE), "--set", "name=../../../../outside", *SMALL],
        ("config key 'name'", "../../../../outside", "--run-dir"),
    ),
    Case(
        "absolute name",
        lambda t: [str(CARTPOLE), "--set", f"name={t / 'elsewhere'}", *SMALL],
        ("config key 'name'", "elsewhere", "--run-dir"),
    ),
    Case(
        "rollout larger than the budget (num_envs=10000, budget 64)",
        lambda t: [str(CARTPOLE), *SMALL, "--set", "train.num_envs=10000"],
        ("algo.num_steps * train.num_envs = 32 * 10000 = 320000 > train.total_timesteps = 64",),
        subprocess=True,
    ),
    Case(
        "Crafter rollout buffer (15.8 GB) larger than the available memory (8 GB)",
        lambda t: [
            str(CRAFTER),
            *QUIET,
            "--device",
            "cpu",
            "--set",
            "train.num_envs=10000",
            "--set",
            "train.total_timesteps=2e9",
        ],
        (
            "rollout buffer needs 15.8 GB",
            "algo.num_steps=128 x train.num_envs=10000",
            "uint8[64, 64, 3]",
            "only 8.0 GB of memory",
            "lower algo.num_steps or train.num_envs",
        ),
        patch=lambda mp, t: mp.setattr(training, "available_memory_bytes", lambda device: 8_000_000_000),
    ),
    Case(
        "SB3 rollout (default n_steps 2048) larger than the budget",
        lambda t: [sb3_ppo(t), "--set", "train.total_timesteps=64"],
        ("algo.kwargs.n_steps * train.num_envs = 2048 * 1 = 2048 > train.total_timesteps = 64",),
    ),
    Case(
        "SB3 rollout buffer larger than the machine's memory (Crafter, 4096 x 20000 steps)",
        lambda t: [
            sb3_ppo(t, "crafter"),
            "--set",
            "algo.kwargs.n_steps=4096",
            "--set",
            "train.num_envs=20000",
            "--set",
            "train.total_timesteps=1000000000",
        ],
        (
            "rollout buffer needs 4028.8 GB",
            "algo.kwargs.n_steps=4096",
            "train.num_envs=20000",
            "GB of memory (MemAvailable) is available",
        ),
    ),
    Case(
        "env.kwargs.python is not a Python interpreter",
        lambda t: [
            str(MINERL_REMOTE),
            "--set",
            "env.kwargs.standin=true",
            "--set",
            f"env.kwargs.python={executable(t / 'launcher.sh')}",
            *QUIET,
        ],
        ("env.kwargs.python", "launcher.sh", "not a Python interpreter"),
    ),
    Case(
        "env.kwargs.python does not exist",
        lambda t: [
            str(MINERL_REMOTE),
            "--set",
            "env.kwargs.standin=true",
            "--set",
            f"env.kwargs.python={t / 'venv' / 'bin' / 'python'}",
            *QUIET,
        ],
        ("env.kwargs.python", "does not exist"),
    ),
    Case(
        "env.kwargs.python is not executable",
        lambda t: [
            str(MINERL_REMOTE),
            "--set",
            "env.kwargs.standin=true",
            "--set",
            f"env.kwargs.python={t / 'python3'}",
            *QUIET,
        ],
        ("env.kwargs.python", "not an executable file"),
        setup=lambda t: (t / "python3").write_text(""),
    ),
]


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def assert_one_error_line(code: int, err: str, expect: tuple[str, ...]) -> None:
    assert code == 2, f"exit status {code}; stderr: {err}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr is not one error line: {err!r}"
    for text in expect:
        assert text in lines[0], f"{text!r} missing from: {lines[0]}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    case.setup(tmp_path)
    argv = case.argv(tmp_path)
    monkeypatch.chdir(work)
    if case.patch is not None:
        case.patch(monkeypatch, tmp_path)
    before = snapshot(tmp_path)
    code = main(argv)
    assert_one_error_line(code, capsys.readouterr().err, case.expect)
    assert snapshot(tmp_path) == before, f"left behind: {sorted(map(str, snapshot(tmp_path) - before))}"
    assert not list(tmp_path.parent.parent.glob("outside*"))  # the '..' name wrote nothing above tmp either
    if case.subprocess:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "train.py"), *argv], cwd=work, capture_output=True, text=True, timeout=120
        )
        assert_one_error_line(proc.returncode, proc.stderr, case.expect)
        assert snapshot(tmp_path) == before


def test_memory_estimate_uses_memavailable_and_names_the_figure(tmp_path, monkeypatch, capsys):
    """The figure: SB3 keeps float32 observations, so Crafter's 64x64x3 frames take
    4 x (12288 + 1 action + 6 scalars) bytes a step: 2048 x 16 steps = 1.6 GB > 1.0 GB."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       2000000 kB\nMemFree:         100000 kB\nMemAvailable:    1000000 kB\n")
    assert training.available_memory_bytes(torch.device("cpu"), meminfo) == 1_024_000_000
    assert training.available_memory_bytes(torch.device("cpu"), tmp_path / "missing") is None  # not Linux: no check
    real = training.available_memory_bytes
    monkeypatch.setattr(training, "available_memory_bytes", lambda device: real(device, meminfo))
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            sb3_ppo(tmp_path, "crafter"),
            "--set",
            "algo.kwargs.n_steps=2048",
            "--set",
            "train.num_envs=16",
            "--run-dir",
            "run",
        ]
    )
    assert_one_error_line(code, capsys.readouterr().err, ("needs 1.6 GB", "only 1.0 GB"))
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_rollout_on_the_gpu_is_checked_against_free_gpu_memory(tmp_path, monkeypatch, capsys):
    """craftlab's rollout buffer lives on the device: 4096 x 20000 Crafter steps
    (12,324 bytes each, 1009.6 GB) against the GPU's free memory, not the machine's."""
    free = torch.cuda.mem_get_info()[0]
    assert training.available_memory_bytes(torch.device("cuda")) == pytest.approx(free, rel=0.05)
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            str(CRAFTER),
            "--device",
            "cuda",
            "--set",
            "algo.num_steps=4096",
            "--set",
            "train.num_envs=20000",
            "--set",
            "train.total_timesteps=1e9",
            "--run-dir",
            "run",
        ]
    )
    assert_one_error_line(code, capsys.readouterr().err, ("needs 1009.6 GB", "of GPU memory is available"))
    assert not (tmp_path / "run").exists()


def test_full_disk_during_training_names_the_run_folder(tmp_path, monkeypatch, capsys):
    """ENOSPC in the middle of a run (a checkpoint's torch.save): one line saying so and where."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    run = tmp_path / "run"
    code = main(
        [str(CARTPOLE), "--run-dir", str(run), "--set", "train.total_timesteps=64", "--set", "train.num_envs=2", *QUIET]
    )
    assert_one_error_line(code, capsys.readouterr().err, ("no space left", str(run)))


# ------------------------------------------------------------ corrupt checkpoints


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory) -> Path:
    """A CartPole run with checkpoints at steps 64 and 128."""
    run = tmp_path_factory.mktemp("bad_inputs") / "cartpole"
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
                "train.checkpoint_interval=64",
                *QUIET,
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == ["step_0000000064", "step_0000000128"]
    return run


def damage(run: Path, step: int, file: str, how: str) -> Path:
    path = run / "checkpoints" / f"step_{step:010d}" / file
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"\x00garbage{" * 64}[how])
    return path


LATEST = 128


@pytest.mark.parametrize(
    "command,file,how",
    [
        ("resume", "agent.pt", "truncated"),
        ("eval", "agent.pt", "garbage"),
        ("watch", "agent.pt", "empty"),
        ("eval", "meta.json", "garbage"),
    ],
)
def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(
    two_checkpoints, tmp_path, capsys, command, file, how
):
    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    corrupt = damage(run, LATEST, file, how)
    argv = {
        "resume": ["--resume", str(run), "--set", "train.total_timesteps=192"],
        "eval": ["eval", str(run), "--episodes", "1"],
        "watch": ["watch", str(run), "--episodes", "1", "--max-steps", "3", "--video", str(tmp_path / "w.mp4")],
    }[command]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), err
    assert str(corrupt) in warnings[0] and "loaded the checkpoint at step 64 instead" in warnings[0]
    if command == "resume":
        log = (run / "train.log").read_text()
        assert "resumed from" in log and "step_0000000064 at step 64" in log and "is corrupt" in log
        assert (run / "checkpoints" / "step_0000000192").exists()
    if command == "eval":
        assert (run / "eval" / "eval_0000000064.json").exists()


@pytest.mark.parametrize(
    "argv,expect",
    [
        (["--resume", "{run}"], ("no loadable checkpoint", "step_0000000128/agent.pt", "an empty file", "and 1 more")),
        (["eval", "{run}"], ("no loadable checkpoint", "step_0000000128/agent.pt", "start a new run")),
        (["watch", "{run}", "--video", "{run}/w.mp4"], ("no loadable checkpoint", "agent.pt")),
        (
            ["eval", "{run}", "--checkpoint", "64"],
            ("no loadable checkpoint", "step_0000000064/agent.pt", "--checkpoint"),
        ),
    ],
)
def test_no_loadable_checkpoint_is_one_error_line(two_checkpoints, tmp_path, capsys, argv, expect):
    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    damage(run, 128, "agent.pt", "empty")
    damage(run, 64, "agent.pt", "truncated")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.name != "train.log"}
    assert main([a.format(run=run) for a in argv]) == 2
    assert_one_error_line(2, capsys.readouterr().err, expect)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.name != "train.log"} == before


def test_garbage_meta_json_names_the_file_not_saved_none_yet(two_checkpoints, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    damage(run, 128, "meta.json", "garbage")
    (run / "checkpoints" / "step_0000000064" / "meta.json").write_text("[]")
    assert main(["eval", str(run)]) == 2
    assert_one_error_line(
        2, capsys.readouterr().err, ("step_0000000128/meta.json' is corrupt", "not readable JSON", "and 1 more")
    )
    assert main(["eval", str(run), "--checkpoint", "64"]) == 2
    err = capsys.readouterr().err
    assert_one_error_line(2, err, ("step 64 is unusable", "step_0000000064/meta.json", "not a JSON object"))
    assert "saved none yet" not in err
