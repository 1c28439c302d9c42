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
protocol and of reports. On resume the file is cut back to the checkpoint's
step, and TensorBoard's ``purge_step`` drops events written after it, so both
continue as if the run had never stopped.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

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
        self._start_time = time.perf_counter()
        self._last_sps_log = 0.0
        self._last_step = self._last_sps_step = start_step
        self.writer = None
        self._episodes_fh = None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._restore_episodes(start_step)
            self._episodes_fh = open(RunDir(self.run_dir).episodes, "a")
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                # purge_step: on resume, events after the checkpoint are dropped,
                # so the curves continue at the right step instead of doubling back.
                self.writer = SummaryWriter(str(self.run_dir), purge_step=start_step if start_step > 0 else None)
        self.bar = None
        if progress_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total_timesteps, initial=start_step, unit="step", dynamic_ncols=True,
                            smoothing=0.05, mininterval=0.5)

    # ------------------------------------------------------------------ episodes

    def _restore_episodes(self, start_step: int) -> None:
        """Re-read ``episodes.jsonl`` up to ``start_step`` (resume), dropping later lines."""
        path = RunDir(self.run_dir).episodes  # type: ignore[arg-type]
        if not path.exists():
            return
        kept = []
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line cut by a crash
                continue
            if record.get("step", 0) <= start_step:
                kept.append(line)
                self._count_episode(record)
        path.write_text("".join(k + "\n" for k in kept))

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
        if self.writer is not None:
            for tag, value in self.metrics.scalars().items():
                self.writer.add_scalar(tag, value, step)

    # ------------------------------------------------------------------ scalars

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None and value is not None and math.isfinite(float(value)):
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

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()
        if self._episodes_fh is not None:
            self._episodes_fh.flush()

    def close(self) -> None:
        if self._last_step > self._last_sps_step:  # the final SPS, which the rate limit may have skipped
            elapsed = max(time.perf_counter() - self._start_time, 1e-9)
            self.scalar("charts/SPS", (self._last_step - self.start_step) / elapsed, self._last_step)
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
        if self._episodes_fh is not None:
            self._episodes_fh.close()
