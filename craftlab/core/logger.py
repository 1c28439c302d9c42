"""What a run reports: TensorBoard scalars under one tag scheme, an episode
record on disk, and a progress bar.

Tag scheme (the same for every agent; SB3's keys are mapped onto it):

=============================  =============================================
``charts/episodic_return``     return of each finished training episode
``charts/episodic_length``     its length in env steps
``charts/SPS``                 env steps per second since the (re)start
``losses/<name>``              training losses and diagnostics of updates
``achievements/<name>``        % of episodes so far that unlocked it (env plug-in)
``crafter/score``              Crafter: score of all episodes so far (%) (plug-in)
``eval/<name>``                evaluation results
=============================  =============================================

Every finished episode is also appended to ``episodes.jsonl`` in the run folder
(step, return, length, achievement counts): the raw material of the Crafter
protocol and of reports.

Crashes (kill -9 at any moment) lose nothing a checkpoint counts on:

- before each checkpoint, :meth:`RunLogger.sync` puts every episode line and
  TensorBoard point logged so far on disk (flush + fsync), so a checkpoint at
  step N never names an episode or a point at a step <= N that a crash could
  still lose (its ``meta.json`` counts the episodes; resume checks them);
- on resume ``episodes.jsonl`` (and ``eval/evaluations.jsonl``) is cut back to
  the checkpoint's step through a temporary file renamed over it: killed at
  any moment, it holds the old lines or the new ones, never fewer;
- TensorBoard's ``purge_step`` is one past the checkpoint: it hides the events
  written after the checkpoint and keeps those at its step;
- a fresh start (step 0) in a folder that a dead attempt wrote to drops that
  attempt's episode lines and event files, so no step appears twice.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from craftlab.core.checkpoint import fsync_dir, fsync_file, write_text_atomic
from craftlab.core.metrics import EpisodeMetrics
from craftlab.core.run_dir import RunDir


class RunLogger:
    """TensorBoard writer + episode record + progress bar of one run."""

    def __init__(
        self,
        run_dir: str | Path | None,
        total_timesteps: int,
        start_step: int = 0,
        progress_bar: bool = True,
        tensorboard: bool = True,
        metrics: EpisodeMetrics | None = None,
    ):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.total_timesteps = total_timesteps
        self.start_step = start_step
        self.metrics = metrics if metrics is not None else EpisodeMetrics()
        """the environment's metric plug-in (craftlab.core.metrics)"""
        self.last_return: float | None = None
        self.episode_count = 0
        self.latest: dict[str, float] = {}
        """the last value written under each tag (Ray Tune trials report these at each checkpoint)"""
        self._start_time = time.perf_counter()
        self._last_sps_log = 0.0
        self._last_step = self._last_sps_step = start_step
        self.writer = None
        self._episodes_fh = None
        if self.run_dir is not None:
            run = RunDir(self.run_dir)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._restore_episodes(start_step)
            cut_jsonl(run.evaluations, start_step)
            self._episodes_fh = open(run.episodes, "a")
            if start_step == 0:  # a fresh start: a dead attempt's curves are not this run's
                for stale in run.tensorboard_files():
                    stale.unlink()
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                _wait_for_a_later_event_file_name(run)
                # purge_step: on resume, TensorBoard hides the events at steps >= purge_step
                # written before, i.e. after the checkpoint; those at the checkpoint's own step
                # were logged (and synced) before it was saved, so they stay.
                self.writer = SummaryWriter(str(self.run_dir), purge_step=start_step + 1 if start_step > 0 else None)
        self.bar = None
        if progress_bar:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_timesteps,
                initial=start_step,
                unit="step",
                dynamic_ncols=True,
                smoothing=0.05,
                mininterval=0.5,
            )

    # ------------------------------------------------------------------ episodes

    def _restore_episodes(self, start_step: int) -> None:
        """Keep and count the episodes of ``episodes.jsonl`` up to ``start_step`` (the
        checkpoint resumed from); later lines and lines cut by a crash are dropped."""
        for record in cut_jsonl(RunDir(self.run_dir).episodes, start_step):  # type: ignore[arg-type]
            self._count_episode(record)

    def _count_episode(self, record: dict[str, Any]) -> None:
        self.episode_count += 1
        self.last_return = record["r"]
        self.metrics.add(record)

    def record_episode(self, step: int, episode: dict[str, Any]) -> None:
        """One finished episode: ``{"r": return, "l": length, ["achievements": {...}]}``."""
        record = {"step": int(step), **episode}
        self._count_episode(record)
        if self._episodes_fh is not None:
            self._episodes_fh.write(json.dumps(record) + "\n")
        self.scalar("charts/episodic_return", episode["r"], step)
        self.scalar("charts/episodic_length", episode["l"], step)
        for tag, value in self.metrics.scalars().items():
            self.scalar(tag, value, step)

    # ------------------------------------------------------------------ scalars

    def scalar(self, tag: str, value: float, step: int) -> None:
        if value is not None and math.isfinite(float(value)):
            self.latest[tag] = float(value)
            if self.writer is not None:
                self.writer.add_scalar(tag, float(value), step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self.scalar(tag, value, step)

    def progress(self, step: int) -> None:
        """Advance the progress bar and log SPS (at most twice a second)."""
        now = time.perf_counter()
        self._last_step = step
        sps = (step - self.start_step) / max(now - self._start_time, 1e-9)
        if now - self._last_sps_log >= 0.5:
            self._last_sps_log, self._last_sps_step = now, step
            self.scalar("charts/SPS", sps, step)
            if self.bar is not None:
                postfix = {"SPS": f"{sps:.0f}"}
                if self.last_return is not None:
                    postfix["return"] = f"{self.last_return:.2f}"
                postfix.update(self.metrics.progress_fields())
                self.bar.set_postfix(postfix, refresh=False)
        if self.bar is not None:
            self.bar.update(max(0, step - self.bar.n))

    def _log_pending_sps(self) -> None:
        """SPS at the last step seen, which the rate limit may have skipped."""
        if self._last_step > self._last_sps_step:
            elapsed = max(time.perf_counter() - self._start_time, 1e-9)
            self.scalar("charts/SPS", (self._last_step - self.start_step) / elapsed, self._last_step)
            self._last_sps_step = self._last_step

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()
        if self._episodes_fh is not None:
            self._episodes_fh.flush()

    def sync(self) -> None:
        """Put everything logged so far on disk: flush and fsync the episode record and
        the TensorBoard files. Called before each checkpoint is saved, so that a crash
        after the checkpoint exists cannot lose an episode or a point it counts on."""
        self._log_pending_sps()  # the checkpoint's step gets its SPS point before, not after
        self.flush()
        if self._episodes_fh is not None:
            os.fsync(self._episodes_fh.fileno())
        if self.run_dir is not None:
            if self.writer is not None:
                for path in RunDir(self.run_dir).tensorboard_files():  # no-ops but for this run's file
                    fsync_file(path)
            fsync_dir(self.run_dir)

    def close(self) -> None:
        self._log_pending_sps()
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
        if self._episodes_fh is not None:
            self._episodes_fh.close()


def cut_jsonl(path: Path, step: int) -> list[dict[str, Any]]:
    """Cut a JSON-lines record (``{"step": ...}`` per line) back to its lines at
    steps <= ``step``, and return their records. A line cut by a crash is dropped.
    The file is rewritten only when something goes, through a temporary file
    renamed over it (:func:`write_text_atomic`): killed at any moment, it holds
    the old lines or the new ones, never fewer."""
    for stray in path.parent.glob(f".{path.name}.tmp-*"):  # left by a crash in an earlier cut
        stray.unlink(missing_ok=True)
    if not path.exists():
        return []
    text = path.read_text()
    kept, records = [], []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut by a crash
            continue
        if isinstance(record, dict) and record.get("step", 0) <= step:
            kept.append(line)
            records.append(record)
    new_text = "".join(line + "\n" for line in kept)
    if new_text != text:
        write_text_atomic(path, new_text)
    return records


def _wait_for_a_later_event_file_name(run: RunDir) -> None:
    """TensorBoard reads a folder's event files in name order, and a name starts
    with the second it was created in: wait (a second at most) until a new file
    sorts after one a dead attempt created in the same second, so that its
    ``purge_step`` applies to that file's events."""
    seconds = [int(part) for part in (p.name.split(".")[3] for p in run.tensorboard_files()) if part.isdigit()]
    deadline = time.monotonic() + 1.5  # a file from the future (clock moved back) is not waited for
    while seconds and int(time.time()) <= max(seconds) and time.monotonic() < deadline:
        time.sleep(0.05)
