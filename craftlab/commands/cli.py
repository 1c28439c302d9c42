"""The command line (``python train.py ...`` or ``craftlab ...``).

::

    python train.py CONFIG [--set key.path=value ...] [--seed N] [--device auto|cpu|cuda] [--run-dir DIR]
    python train.py --resume runs/<name> [--set train.total_timesteps=N] [--checkpoint STEP]
    python train.py list              algorithms, environments, wrappers, configs
    python train.py help ALGO         an algorithm's settings, defaults and meaning
    python train.py watch RUN         play a trained agent (window or video)
    python train.py eval RUN          evaluate a trained agent (JSON in the run folder)
    python train.py record RUN --episodes N --out DIR   record episodes as a dataset (behaviour cloning)
    python train.py report RUNS...    multi-seed report (PNG + table)
    python train.py doctor            check the set-up (torch, CUDA, Java, MineRL, display)
    python train.py sweep CONFIG --param KEY=DIST ...   hyperparameter sweep on Ray Tune

Problems a user can fix (a bad config key, an unknown algorithm, a checkpoint
of another algorithm) print one line naming the problem and the fix, and exit
with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from craftlab.agents.registry import AGENTS, agent_class
from craftlab.commands import doctor, evaluate, record, report, sweep, watch
from craftlab.commands.experiment import add_ray_arguments, check_seed_options, train_seeds_main
from craftlab.core.checkpoint import CheckpointError
from craftlab.core.config import ConfigError, EnvConfig, TrainConfig, describe
from craftlab.core.errors import UserError
from craftlab.core.run_dir import RunDir
from craftlab.envs.registry import ENVS, WRAPPERS
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import resume, train, write_error_message

EXIT_USAGE = 2

SUBCOMMANDS: dict[str, tuple[Callable[[list[str]], int | None], str]] = {}
"""name -> (main(argv), one-line description); filled at the bottom of this module"""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    CheckpointError,
    UserError,
    FileExistsError,
    FileNotFoundError,
)
"""exceptions printed as one line with exit status 2"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return 0


def _dispatch(argv: list[str]) -> int:
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return int(SUBCOMMANDS[argv[0]][0](argv[1:]) or 0)
        return train_main(argv)
    except USER_ERRORS as exc:
        msg = str(exc).strip().strip("'\"") if isinstance(exc, KeyError) else str(exc)
        return _user_error(msg)
    except OSError as exc:  # a full disk, a read-only folder: one line too; anything else is a bug
        msg = write_error_message(exc)
        if msg is None:
            raise
        return _user_error(msg)


def _user_error(msg: str) -> int:
    """Print ``error: msg`` as one line on stderr; the exit status of a user mistake."""
    print("error: " + " ".join(line.strip() for line in msg.splitlines() if line.strip()), file=sys.stderr)
    return EXIT_USAGE


def train_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {name:8s} {desc}" for name, (_, desc) in SUBCOMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train a reinforcement-learning agent from a YAML config.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"other commands (python train.py COMMAND --help):\n{commands}",
    )
    parser.add_argument("config", nargs="?", help="YAML config, e.g. configs/default.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set algo.learning_rate=1e-3 (repeatable)",
    )
    parser.add_argument("--seed", type=int, help="shortcut for --set train.seed=N")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="shortcut for --set train.device=...")
    parser.add_argument("--run-dir", help="run folder (default: runs/<name>_s<seed>_<time>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument(
        "--checkpoint", type=int, metavar="STEP", help="with --resume: start from this step's checkpoint"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="N",
        help="train one run per seed, in parallel, grouped in one experiment folder "
        "(--run-dir, default runs/<name>_<time>) as seed_<N>/ run folders",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="with --seeds: at most N runs at a time (default: the number of CPU cores)",
    )
    add_ray_arguments(parser)
    return parser


def train_main(argv: list[str]) -> int:

    parser = train_parser()
    args = parser.parse_args(argv)
    if args.seeds is not None:
        return train_seeds_main(args)
    check_seed_options(args)
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.device is not None:
        overrides.append(f"train.device={args.device}")
    if args.resume:
        if args.config:
            raise UserError("give either a CONFIG or --resume RUN_DIR, not both (a resumed run uses its saved config)")
        run_dir = resume(args.resume, overrides, checkpoint_step=args.checkpoint)
    else:
        if not args.config:
            parser.print_help()
            return EXIT_USAGE
        config = load_run_config(args.config, overrides)
        run_dir = train(config, run_dir=args.run_dir)
    _print_where(run_dir)
    return 0


def _print_where(run_dir: Path) -> None:
    import json

    summary_path = RunDir(run_dir).summary
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    lines = [
        "",
        f"run folder:   {run_dir}",
        f"  status:     {summary.get('status', '?')} at step {summary.get('num_timesteps', '?')} "
        f"({summary.get('wall_time_s', '?')} s, {summary.get('episodes', '?')} episodes"
        + (f", Crafter score {summary['crafter_score']:.2f}%" if "crafter_score" in summary else "")
        + ")",
        f"  checkpoints: {run_dir / 'checkpoints'}",
        f"  TensorBoard: tensorboard --logdir {run_dir.parent}   (then open http://localhost:6006)",
        f"  watch it:   python train.py watch {run_dir}",
        f"  continue:   python train.py --resume {run_dir} --set train.total_timesteps=N",
    ]
    print("\n".join(lines))


def list_main(argv: list[str]) -> int:
    print("algorithms (algo.name):")
    for name, (_, desc) in AGENTS.items():
        print(f"  {name:22s} {desc}")
    print("\nenvironments (env.id; any Gymnasium id works too):")
    for name, entry in ENVS.items():
        print(f"  {name:36s} {entry.description}")
    print("\nwrappers (env.wrappers[].name):")
    for name, entry in WRAPPERS.items():
        print(f"  {name:22s} {entry.description}")
    # the configs of this checkout (craftlab/commands/cli.py -> ../../configs), else ./configs
    candidates = [Path(__file__).resolve().parents[2] / "configs", Path.cwd() / "configs"]
    root = next((c for c in candidates if c.is_dir()), None)
    if root is not None:
        print(f"\nconfigs ({root}):")
        for path in sorted(root.rglob("*.yaml")):
            print(f"  {path.relative_to(root.parent)}")
    return 0


def help_main(argv: list[str]) -> int:

    if not argv:
        print("usage: python train.py help ALGO   (python train.py list shows the algorithms)\n")
        print("env:\n" + describe(EnvConfig, "env."))
        print("\ntrain:\n" + describe(TrainConfig, "train."))
        return 0
    cls = agent_class(argv[0])
    print(f"{argv[0]}: {(cls.__doc__ or '').strip().splitlines()[0] if cls.__doc__ else ''}\n")
    print("algo:\n" + describe(cls.Config, "algo."))
    return 0


SUBCOMMANDS.update(
    {
        "list": (list_main, "list algorithms, environments, wrappers and configs"),
        "help": (help_main, "show an algorithm's settings"),
        "watch": (watch.main, "watch a trained agent play (window, or --video/--gif)"),
        "eval": (evaluate.main, "evaluate a trained agent"),
        "record": (record.main, "record episodes of an agent or a random/scripted policy as a dataset"),
        "report": (report.main, "multi-seed report with plots against published results"),
        "doctor": (doctor.main, "check the set-up: torch, CUDA, Java, MineRL, display"),
        "sweep": (sweep.main, "hyperparameter sweep on Ray Tune (seeds, early stopping; a cluster with --address)"),
    }
)
