"""What an agent's ``learn`` reports to: :class:`RunContext`.

``on_step`` after each update (progress, SPS, checkpoints, evaluations, and
whether to go on), ``log`` for losses, ``record_episodes`` for finished
episodes. The training loop (:mod:`craftlab.runs.training`) builds one per run;
``RunContext()`` alone is silent (tests).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from craftlab.core.checkpoint import Checkpointer
from craftlab.core.logger import RunLogger
from craftlab.envs.episode_stats import finished_episodes

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent

log = logging.getLogger("craftlab")


class RunContext:
    """What ``Agent.learn`` reports to. ``RunContext()`` alone is silent (tests)."""

    def __init__(
        self,
        total_timesteps: int = 0,
        logger: RunLogger | None = None,
        checkpointer: Checkpointer | None = None,
        checkpoint_interval: int = 0,
        evaluate: Callable[["Agent", int], None] | None = None,
        eval_interval: int = 0,
        start_step: int = 0,
        save_replay_buffer: bool = False,
    ):
        self.total_timesteps = total_timesteps
        self.logger = logger
        self.checkpointer = checkpointer
        self.checkpoint_interval = checkpoint_interval
        self.evaluate = evaluate
        self.eval_interval = eval_interval
        self.save_replay_buffer = save_replay_buffer
        """off-policy agents include their replay buffer in checkpoints (``train.save_replay_buffer``)"""
        self.agent: Agent | None = None
        self.interrupted = False
        """set by Ctrl-C (SIGINT) or SIGTERM: the agent stops after its current update"""
        self._next_checkpoint = self._next(start_step, checkpoint_interval)
        self._next_eval = self._next(start_step, eval_interval)

    @staticmethod
    def _next(step: int, interval: int) -> float:
        return (step // interval + 1) * interval if interval > 0 else float("inf")

    @property
    def run_dir(self) -> Path | None:
        return self.logger.run_dir if self.logger is not None else None

    # ------------------------------------------------------- called by agents

    def on_step(self, num_timesteps: int) -> bool:
        """Call after each update. Saves checkpoints and evaluates when their
        intervals are crossed. Returns False when the agent should stop."""
        if self.logger is not None:
            self.logger.progress(num_timesteps)
        # Evaluate first: everything logged at a checkpoint's step is on disk before the checkpoint.
        if num_timesteps >= self._next_eval and self.agent is not None and self.evaluate is not None:
            self.evaluate(self.agent, num_timesteps)
            self._next_eval = self._next(num_timesteps, self.eval_interval)
        if num_timesteps >= self._next_checkpoint and self.agent is not None:
            self.save_checkpoint()
            self._next_checkpoint = self._next(num_timesteps, self.checkpoint_interval)
        return not self.interrupted and (self.total_timesteps <= 0 or num_timesteps < self.total_timesteps)

    def log(self, num_timesteps: int, scalars: dict[str, float]) -> None:
        """Scalars under craftlab's tag scheme, e.g. ``{"losses/policy_loss": 0.1}``."""
        if self.logger is not None:
            self.logger.scalars(num_timesteps, scalars)

    def record_episode(self, num_timesteps: int, episode: dict[str, Any]) -> None:
        """One finished episode ``{"r", "l", ["achievements"]}`` (EpisodeStatistics' format)."""
        if self.logger is not None:
            self.logger.record_episode(num_timesteps, episode)

    def record_episodes(self, num_timesteps: int, infos: Any) -> None:
        """All episodes that ended in a vector env step (merged info or list of infos)."""
        if self.logger is not None:
            for _, episode in finished_episodes(infos):
                self.logger.record_episode(num_timesteps, episode)

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path | None:
        """Save the agent at its current step. The episode record and TensorBoard
        are put on disk first (``RunLogger.sync``), and ``meta.json`` counts the
        episodes, so a crash right after cannot leave a checkpoint that counts on
        lines the record lost (resume checks the count)."""
        if self.checkpointer is None or self.agent is None:
            return None
        episodes = 0
        if self.logger is not None:
            self.logger.sync()
            episodes = self.logger.episode_count
        path = self.checkpointer.save(self.agent, {"episodes": episodes})
        log.info("checkpoint saved: %s", path)
        return path
