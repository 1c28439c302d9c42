"""The run folder's layout, owned in one place.

::

    runs/<name>/
      config.yaml              the resolved configuration (every default filled in)
      train.log                what happened, in words
      events.out.tfevents.*    TensorBoard scalars (tags: craftlab.core.logger)
      episodes.jsonl           every finished training episode, one JSON line each
      summary.json             status, steps, wall time, episodes (and the env's plug-in metrics)
      checkpoints/             atomic checkpoints (craftlab.core.checkpoint)
      eval/                    evaluations.jsonl, eval videos, `eval` command results
      values.txt, values.png   tabular agents: the value function and greedy policy

Every module that reads or writes a run folder asks a :class:`RunDir` for the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "config.yaml"
LOG_FILE = "train.log"
EPISODES_FILE = "episodes.jsonl"
SUMMARY_FILE = "summary.json"
CHECKPOINTS_DIR = "checkpoints"
EVAL_DIR = "eval"
EVALUATIONS_FILE = "evaluations.jsonl"
TENSORBOARD_PREFIX = "events.out.tfevents."


@dataclass(frozen=True)
class RunDir:
    """The paths inside one run folder (nothing is created until a writer asks)."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    @property
    def config(self) -> Path:
        """``config.yaml``: the resolved configuration"""
        return self.path / CONFIG_FILE

    @property
    def log(self) -> Path:
        """``train.log``"""
        return self.path / LOG_FILE

    @property
    def episodes(self) -> Path:
        """``episodes.jsonl``: one line per finished training episode"""
        return self.path / EPISODES_FILE

    @property
    def summary(self) -> Path:
        """``summary.json``"""
        return self.path / SUMMARY_FILE

    @property
    def checkpoints(self) -> Path:
        """``checkpoints/``"""
        return self.path / CHECKPOINTS_DIR

    @property
    def eval_dir(self) -> Path:
        """``eval/``"""
        return self.path / EVAL_DIR

    @property
    def evaluations(self) -> Path:
        """``eval/evaluations.jsonl``: periodic evaluations during training"""
        return self.path / EVAL_DIR / EVALUATIONS_FILE

    def tensorboard_files(self) -> list[Path]:
        """``events.out.tfevents.*``: TensorBoard's event files, in the (name) order TensorBoard reads them"""
        return sorted(self.path.glob(TENSORBOARD_PREFIX + "*"))

    @property
    def values_text(self) -> Path:
        """``values.txt``: tabular agents' value function as text"""
        return self.path / "values.txt"

    @property
    def values_picture(self) -> Path:
        """``values.png``: tabular agents' value function heat map"""
        return self.path / "values.png"

    def is_run(self) -> bool:
        """True when this folder holds a run (its ``config.yaml``)."""
        return self.config.exists()
