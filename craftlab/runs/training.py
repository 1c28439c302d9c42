"""A training run: its folder, what the agent reports during ``learn``, and
starting / resuming.

Run folder (``runs/<name>/``)::

    config.yaml        the resolved configuration (every default filled in)
    train.log          what happened, in words
    events.out.tfevents.*   TensorBoard scalars (tags: craftlab.core.logger)
    episodes.jsonl     every finished training episode
    checkpoints/       atomic checkpoints (craftlab.core.checkpoint)
    eval/              evaluation results (JSON) and videos

An agent's ``learn`` talks to a :class:`RunContext`: ``on_step`` after each
update (progress, SPS, checkpoints, evaluations, and whether to go on),
``log`` for losses, ``record_episodes`` for finished episodes.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch

from craftlab.agents.registry import agent_class
from craftlab.agents.run_context import RunContext
from craftlab.core.checkpoint import Checkpointer, CheckpointInfo, load_with_fallback
from craftlab.core.config import ConfigError, RunConfig, save_run_config
from craftlab.core.errors import UserError
from craftlab.core.logger import RunLogger
from craftlab.core.run_dir import CONFIG_FILE, RunDir
from craftlab.core.video import write_video
from craftlab.envs.factory import EnvFactory
from craftlab.envs.registry import episode_metrics
from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import check_python_interpreter, load_run_config

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent

log = logging.getLogger("craftlab")


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU. 'cuda' without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU or driver is visible"
        raise ConfigError(
            f"config key 'train.device' is 'cuda', but torch sees no CUDA GPU ({why}); "
            "use --device cpu or --device auto"
        )
    return torch.device(name)


def available_memory_bytes(device: torch.device, meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Memory free for a new buffer on ``device``: the GPU's free memory for CUDA,
    else the machine's ``MemAvailable`` (``meminfo``); None where it cannot be read
    (not Linux), and then nothing is refused."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_rollout_memory(config: RunConfig, envs: EnvFactory, device: torch.device) -> None:
    """Refuse, before allocating it, a rollout buffer larger than the memory
    available where it will live (agent configs with ``rollout_memory_bytes``)."""
    estimate = getattr(config.algo, "rollout_memory_bytes", None)
    if not callable(estimate):
        return
    needed = int(estimate(envs.observation_space, envs.action_space, config.train.num_envs))
    where = torch.device("cpu") if getattr(config.algo, "rollout_in_host_memory", False) else device
    available = available_memory_bytes(where)
    if available is None or needed <= available:
        return
    key, steps = config.algo.rollout_steps()
    space = envs.observation_space
    shape = getattr(space, "shape", None)
    obs = f"{getattr(space, 'dtype', '')}{list(shape)} " if shape else ""
    memory = "GPU memory" if where.type == "cuda" else "memory (MemAvailable)"
    raise ConfigError(
        f"the rollout buffer needs {needed / 1e9:.1f} GB ({key}={steps} x train.num_envs={config.train.num_envs} "
        f"steps of {obs}observations and more), but only {available / 1e9:.1f} GB of {memory} is available; "
        f"lower {key} or train.num_envs"
    )


def write_error_message(exc: OSError, where: str | Path | None = None) -> str | None:
    """One line for a failed write the user can fix (a full disk, a read-only
    folder, a file where a folder should be), naming the path; None for others.
    ``where`` stands in for the path when the error carries none."""
    path = exc.filename or where
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on device writing '{path}'; free some space on that disk or pass --run-dir on another one"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write '{path}': {exc.strerror or 'permission denied'} (a read-only folder); "
            "pass a writable --run-dir or fix the folder's permissions"
        )
    if exc.errno == errno.ENOTDIR and path is not None:
        blocker = next((p for p in Path(path).parents if p.is_file()), None)
        what = f"'{blocker}' is a file, not a folder" if blocker is not None else "a part of it is not a folder"
        return f"cannot create '{path}': {what}; pass another --run-dir"
    if exc.errno == errno.EEXIST and path is not None and Path(path).is_file():
        return f"cannot create the folder '{path}': a file has that name; pass another --run-dir"
    return None


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, innermost first."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    return missing


def _remove_new_run(created: list[Path]) -> None:
    """Undo a new run's folder (``created`` by it, innermost first); parent folders
    only while empty, so a concurrent run's folder is never touched."""
    if created:
        shutil.rmtree(created[0], ignore_errors=True)
    for folder in created[1:]:
        try:
            os.rmdir(folder)
        except OSError:
            break


def _warn(message: str) -> None:
    """A warning on stderr and in train.log (the run goes on)."""
    print(f"warning: {message}", file=sys.stderr)
    log.warning(message)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- starting runs


def new_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    name = config.name or f"{config.algo.name}_{config.env.id.replace('/', '-')}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}_s{config.train.seed}_{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{name}_s{config.train.seed}_{stamp}-{suffix}"
    return path


def _setup_text_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(RunDir(run_dir).log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def build_agent(config: RunConfig, seed_offset: int = 0) -> "Agent":
    """The agent of ``config`` with its EnvFactory, on the resolved device."""

    device = resolve_device(config.train.device)
    if config.train.torch_threads > 0:
        torch.set_num_threads(config.train.torch_threads)
    if config.env.kwargs.get("python") is not None:  # a program the env will start: check it first
        check_python_interpreter(config.env.kwargs["python"], "env.kwargs.python")
    seed = config.train.seed
    seed_everything(seed + seed_offset)
    envs = EnvFactory(config.env, num_envs=config.train.num_envs, seed=seed + seed_offset, vector=config.train.vector)
    check_rollout_memory(config, envs, device)
    return agent_class(config.algo.name)(config.algo, envs, device, seed)


def train(
    config: RunConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_step: int | None = None,
    handle_signals: bool = True,
    on_report: ReportHook | None = None,
) -> Path:
    """Train ``config`` in ``run_dir`` (new folder when None); with ``resume``,
    continue from the run folder's latest checkpoint. Returns the run folder.
    ``on_report`` (a Ray Tune trial's): see :class:`_Reports`."""
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(config)
    checkpointer = Checkpointer(RunDir(run_dir).checkpoints, keep=config.train.keep_checkpoints)
    cleaned = checkpointer.cleanup()  # what a crash left: .tmp-* and .old-* folders, half-deleted step_*
    if not resume and checkpointer.latest() is not None:
        raise FileExistsError(
            f"run folder '{run_dir}' already holds checkpoints; continue it with "
            f"'python train.py --resume {run_dir}' or choose another --run-dir"
        )
    created = [] if resume else _missing_folders(run_dir)  # removed again if it fails before training starts
    started = False
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handler = _setup_text_log(run_dir)
    except OSError as exc:
        _remove_new_run(created)
        message = write_error_message(exc, run_dir)
        if message is None:
            raise
        raise UserError(message) from None
    try:
        start = 0
        info = None
        if resume:
            info = checkpointer.find(checkpoint_step)
            start = info.step
        # A resumed run re-seeds its envs differently so it does not replay the first episodes.
        agent = build_agent(config, seed_offset=start)
        if info is not None:
            # a corrupt newest checkpoint (unless --checkpoint named it): the one before it, with a warning
            info, skipped = load_with_fallback(agent, checkpointer, info, fallback=checkpoint_step is None)
            for note in skipped:
                _warn(note)
            start = info.step
            log.info("resumed from %s at step %d", info.path, start)
        else:
            log.info("new run: %s", run_dir)
        for line in cleaned:
            log.info("checkpoints folder: %s", line)
        save_run_config(config, RunDir(run_dir).config)  # on resume: with any --set changes
        log.info(
            "algorithm %s, env %s, device %s, %d env(s), %d steps",
            config.algo.name,
            config.env.id,
            agent.device,
            config.train.num_envs,
            config.train.total_timesteps,
        )

        logger = RunLogger(
            run_dir,
            config.train.total_timesteps,
            start_step=start,
            progress_bar=config.train.progress_bar,
            metrics=episode_metrics(config.env.id),
        )
        if info is not None:
            _check_episode_record(logger, info)
        run = RunContext(
            total_timesteps=config.train.total_timesteps,
            logger=logger,
            checkpointer=checkpointer,
            checkpoint_interval=config.train.checkpoint_interval,
            evaluate=_evaluator(config, run_dir, logger) if config.train.eval_interval > 0 else None,
            eval_interval=config.train.eval_interval,
            start_step=start,
            save_replay_buffer=config.train.save_replay_buffer,
        )
        run.agent = agent
        reports = _Reports(run, logger, on_report, config.train.total_timesteps) if on_report is not None else None
        started = True  # from here on the folder holds a run (its log, its TensorBoard file) worth keeping
        restore = _install_signal_handlers(run) if handle_signals else (lambda: None)
        t0 = time.perf_counter()
        try:
            agent.learn(config.train.total_timesteps, run)
        finally:
            restore()
            # Whatever happened (done, Ctrl-C, an exception), keep what was learned.
            if agent.num_timesteps > start:
                run.save_checkpoint()
            agent.close()
            logger.close()
        elapsed = time.perf_counter() - t0
        status = (
            "stopped_early"
            if reports is not None and reports.stopped_early
            else "interrupted"
            if run.interrupted
            else "finished"
        )
        summary = {
            "status": status,
            "num_timesteps": agent.num_timesteps,
            "wall_time_s": round(elapsed, 2),
            "episodes": logger.episode_count,
        }
        summary.update(logger.metrics.summary())
        RunDir(run_dir).summary.write_text(json.dumps(summary, indent=2))
        log.info("%s at step %d after %.1f s", status, agent.num_timesteps, elapsed)
        if reports is not None:
            reports.report()  # the last step, once the run is complete on disk (a stop then cuts nothing)
        return run_dir
    except OSError as exc:
        message = write_error_message(exc, run_dir)
        if message is None:
            raise
        raise UserError(message) from None
    finally:
        log.removeHandler(handler)
        handler.close()
        if not started:  # a new run that failed while starting leaves no folder behind
            _remove_new_run(created)


ReportHook = Callable[[int, dict[str, float]], bool]
"""``on_report(step, scalars) -> go on?``: the latest value of each TensorBoard tag at a checkpoint"""


class _Reports:
    """``on_report(step, logger.latest)`` after each checkpoint the run saves before
    the end of its budget (so a restart from that checkpoint reports no step twice),
    and once more after summary.json is written. ``False`` before the budget is
    spent stops the run after this update: summary.json says ``stopped_early``
    (Ray Tune's ASHA / median stopping ends weak trials so)."""

    def __init__(self, run: RunContext, logger: RunLogger, on_report: ReportHook, total_timesteps: int):
        self.run, self.logger, self.on_report, self.total_timesteps = run, logger, on_report, total_timesteps
        self.stopped_early = False
        self._last_step: int | None = None
        self._save = run.save_checkpoint
        run.save_checkpoint = self._save_and_report  # type: ignore[method-assign]

    def _save_and_report(self) -> Path | None:
        path = self._save()
        if path is not None and self.run.agent is not None and self.run.agent.num_timesteps < self.total_timesteps:
            self.report()
        return path

    def report(self) -> None:
        step = self.run.agent.num_timesteps if self.run.agent is not None else 0
        if self.stopped_early or step == self._last_step:
            return
        self._last_step = step
        if not self.on_report(step, dict(self.logger.latest)) and step < self.total_timesteps:
            self.stopped_early = True
            self.run.interrupted = True


def resume(run_dir: str | Path, overrides: Sequence[str] = (), checkpoint_step: int | None = None, **kwargs) -> Path:
    """Continue the run in ``run_dir`` from its saved config and latest checkpoint.
    Overrides may change e.g. ``train.total_timesteps`` to train longer."""
    run_dir = Path(run_dir)
    if not RunDir(run_dir).is_run():
        raise FileNotFoundError(f"'{run_dir}' is not a run folder (no {CONFIG_FILE}); pass runs/<name>")
    config = load_run_config(RunDir(run_dir).config, overrides)
    return train(config, run_dir, resume=True, checkpoint_step=checkpoint_step, **kwargs)


def _check_episode_record(logger: RunLogger, info: CheckpointInfo) -> None:
    """Warn when ``episodes.jsonl`` holds fewer episodes up to the checkpoint's step
    than the checkpoint counted (``meta.json``): lines lost (a crash of an older
    version, or an edited file), so summary.json and scores would undercount."""
    counted = info.meta.get("episodes")
    if isinstance(counted, int) and logger.run_dir is not None and logger.episode_count < counted:
        _warn(
            f"'{RunDir(logger.run_dir).episodes}' holds {logger.episode_count} episodes up to step {info.step}, "
            f"but the checkpoint counted {counted}: {counted - logger.episode_count} lost; episode counts "
            "and scores of this run will be short by that many"
        )


def _install_signal_handlers(run: RunContext) -> Callable[[], None]:
    """First Ctrl-C / SIGTERM: finish the update, save, stop. Second: stop now."""
    previous = {}

    def handler(signum, frame):
        if run.interrupted:
            raise KeyboardInterrupt
        run.interrupted = True
        if run.logger is not None and run.logger.bar is not None:
            run.logger.bar.write("interrupted: saving a checkpoint after this update (Ctrl-C again to abort)")

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass

    def restore():
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _evaluator(config: RunConfig, run_dir: Path, logger: RunLogger) -> Callable[["Agent", int], None]:
    """Periodic evaluation during training: scalars ``eval/*`` and a line in
    ``eval/evaluations.jsonl``; with ``train.eval_video`` also a short video of
    the first evaluation episode (its first ``video_steps`` steps), written to
    ``eval/step_<N>.mp4`` and to TensorBoard as ``eval/video`` (an animated GIF
    made here: TensorBoard's own ``add_video`` silently writes nothing without
    the moviepy package). The video is recorded in a separate replay of that
    episode (same seed), so recording never holds a 10,000-step episode's
    frames in memory and never changes the evaluation's numbers."""

    out_dir = RunDir(run_dir).eval_dir
    video_steps, video_fps, tb_max_side = 300, 10, 256

    def run_eval(agent: "Agent", step: int) -> None:
        seed = 10_000 + config.train.seed
        result = evaluate(agent, agent.envs, episodes=config.train.eval_episodes, seed=seed)
        summary = result.summary()
        logger.scalars(step, {"eval/mean_return": summary["mean_return"], "eval/mean_length": summary["mean_length"]})
        out_dir.mkdir(exist_ok=True)
        with open(RunDir(run_dir).evaluations, "a") as fh:
            fh.write(json.dumps({"step": step, **summary}) + "\n")
        if config.train.eval_video:
            clip = evaluate(agent, agent.envs, episodes=1, seed=seed, record_frames=True, max_steps=video_steps)
            frames = [f for f in clip.frames if f is not None]
            if frames:
                import imageio.v3 as iio
                from tensorboard.compat.proto.summary_pb2 import Summary

                video = np.stack(frames)  # uint8[T, H, W, 3]
                write_video(out_dir / f"step_{step:010d}.mp4", video, fps=video_fps)
                if logger.writer is not None:
                    stride = max(1, -(-max(video.shape[1:3]) // tb_max_side))
                    small = np.ascontiguousarray(video[:, ::stride, ::stride, :3])
                    gif = iio.imwrite("<bytes>", small, extension=".gif", duration=1000 / video_fps, loop=0)
                    image = Summary.Image(
                        height=small.shape[1], width=small.shape[2], colorspace=3, encoded_image_string=gif
                    )
                    logger.writer._get_file_writer().add_summary(
                        Summary(value=[Summary.Value(tag="eval/video", image=image)]), step
                    )
        log.info("evaluation at step %d: return %.2f +- %.2f", step, summary["mean_return"], summary["std_return"])

    return run_eval
