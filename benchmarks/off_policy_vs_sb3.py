"""Off-policy agents against Stable-Baselines3 on the same settings (issue 11):
craftlab's DQN vs SB3's DQN on CartPole-v1 and craftlab's SAC vs SB3's SAC on
Pendulum-v1, greedy return at equal env steps over seeds, and training env
steps per second, side by side in one invocation.

Run by hand (the full benchmark takes tens of minutes on a CPU)::

    python benchmarks/off_policy_vs_sb3.py                                  # both, seeds 0 1 2
    python benchmarks/off_policy_vs_sb3.py --algo dqn --out runs/bench/dqn.json
    python benchmarks/off_policy_vs_sb3.py --algo both --steps 2000 --seeds 0   # a quick check

Settings: craftlab trains the shipped config (``configs/levine/dqn_cartpole.yaml``,
``configs/levine/sac_pendulum.yaml``) through its public API (``load_run_config`` +
``build_agent``); SB3's arguments are translated from that same loaded config
(:func:`sb3_dqn_kwargs`, :func:`sb3_sac_kwargs`), so a change to the YAML changes both,
and a setting SB3 has no equivalent for stops the benchmark with a message.
Both train in the same envs (craftlab's ``EnvFactory``: the Gymnasium env with its
time limit), one env, one torch thread, on the CPU; runs alternate craftlab, SB3
per seed so that a change in machine load hits both.

What cannot be made equal (SB3 has no option for it):

* weight init: craftlab's Linear layers are orthogonal (gain sqrt 2; Q heads 1.0, the
  SAC policy's mean and log-std heads 0.01); SB3's off-policy networks keep PyTorch's
  default (Kaiming-uniform) init;
* SAC's temperature loss: craftlab's is the paper's eq. 18, ``-alpha (log pi + H_bar)``,
  differentiated through alpha = exp(log alpha); SB3 differentiates
  ``-log alpha (log pi + H_bar)``, i.e. its gradient in log alpha is 1/alpha times
  craftlab's (same fixed point, entropy = H_bar);
* SAC's first gradient step: craftlab trains from env step ``learning_starts`` (100)
  on, SB3 from the step after it (SB3 trains when ``num_timesteps > learning_starts``);
* evaluation moments: SB3's callback runs before the gradient steps of its env step,
  craftlab's after them: SAC's checkpoint at step t has 2 gradient steps fewer on
  SB3's side (e.g. 4899 vs 4901 at 5k); DQN's checkpoints fall between its training
  rounds (every 256 steps), so both have had the same rounds;
* DQN's target network: craftlab counts ``target_update_interval`` in gradient steps
  (128: a copy after each round of 128), SB3 in env steps; the translation
  (``train_freq * interval / gradient_steps`` = 256, a copy right before each round)
  updates the target at the same moments (RL Zoo's 10 env steps does too).

Evaluation: after every ``--eval-every`` env steps, ``--eval-episodes`` greedy
episodes (DQN: argmax Q; SAC: tanh of the Gaussian's mean), episode k reset with
seed ``--eval-seed + k``: the same worlds for every run. Timing: wall-clock and
process CPU time from building the agent to the end of training, evaluations
excluded; env steps per second = env steps / that time. Before the timed runs each
trainer makes one short untimed run (:func:`warm_up`), so that the first run in the
process does not pay the one-time costs alone.

Prints one table per algorithm (returns: mean +- std over seeds of each seed's
mean greedy return; std with ddof 0) and the steps/s of each trainer with the
ratio craftlab / SB3. ``--out FILE.json`` writes the results as JSON (after each
run, so a stopped benchmark keeps the finished runs) and the console text beside
it (``FILE.txt``); ``--report FILE.json`` prints the tables of such a file again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import DQN, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from craftlab.agents.dqn import DQNConfig
from craftlab.agents.run_context import RunContext
from craftlab.agents.sac import SACConfig
from craftlab.core.config import RunConfig
from craftlab.envs.factory import EnvFactory
from craftlab.runs.evaluation import batch_observation, unbatch_action
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = ("craftlab", "sb3")

Policy = Callable[[np.ndarray], np.ndarray]
"""a batch of one observation ``[1, ...]`` -> a batch of one greedy action"""


class NoSB3Equivalent(Exception):
    """A craftlab setting that SB3's class cannot reproduce."""


# ------------------------------------------------------- config translation


def sb3_network(config: RunConfig) -> dict[str, Any]:
    """``policy_kwargs``: the same MLP (hidden sizes, activation) and Adam epsilon."""
    net = config.algo.network
    if net.kind not in ("auto", "mlp") or net.dense or net.lstm:
        raise NoSB3Equivalent("algo.network: only a plain MLP (kind mlp, no dense, no lstm) has an SB3 twin here")
    activation = {"relu": nn.ReLU, "tanh": nn.Tanh}[net.activation]
    return {
        "net_arch": list(net.hidden_sizes),
        "activation_fn": activation,
        "optimizer_kwargs": {"eps": config.algo.adam_eps},
    }


def sb3_dqn_kwargs(config: RunConfig) -> dict[str, Any]:
    """SB3 ``DQN`` arguments for craftlab's DQN config, one to one."""
    cfg = config.algo
    assert isinstance(cfg, DQNConfig)
    extensions = {
        "double_q": cfg.double_q,
        "dueling": cfg.dueling,
        "n_step": cfg.n_step != 1,
        "prioritized_replay": cfg.prioritized_replay,
    }
    if any(extensions.values()):
        on = [key for key, value in extensions.items() if value]
        raise NoSB3Equivalent(f"algo.{on[0]}: SB3's DQN has no such option; benchmark the plain DQN config")
    if cfg.loss != "huber":
        raise NoSB3Equivalent("algo.loss: SB3's DQN uses the Huber loss only")
    # craftlab copies the target every C gradient steps; SB3 every T env steps (during collection).
    # With C a multiple of gradient_steps G, a copy falls after every (C / G)-th round of training,
    # i.e. right before the next round: T = train_freq * C / G env steps.
    if cfg.tau != 1.0 or cfg.target_update_interval % cfg.gradient_steps != 0:
        raise NoSB3Equivalent(
            "algo.target_update_interval: SB3's DQN updates its target between rounds of gradient steps "
            "only; use tau 1 and a multiple of gradient_steps"
        )
    return {
        "learning_rate": cfg.learning_rate,
        "buffer_size": cfg.buffer_size,
        "learning_starts": cfg.learning_starts,
        "batch_size": cfg.batch_size,
        "tau": cfg.tau,
        "gamma": cfg.gamma,
        "train_freq": cfg.train_freq,
        "gradient_steps": cfg.gradient_steps,
        "target_update_interval": cfg.train_freq * cfg.target_update_interval // cfg.gradient_steps,
        "exploration_fraction": cfg.exploration_fraction,
        "exploration_initial_eps": cfg.exploration_initial_eps,
        "exploration_final_eps": cfg.exploration_final_eps,
        "max_grad_norm": cfg.max_grad_norm,  # SB3 always clips; craftlab's 0 (off) has no twin
        "policy_kwargs": sb3_network(config),
    }


def sb3_sac_kwargs(config: RunConfig) -> dict[str, Any]:
    """SB3 ``SAC`` arguments for craftlab's SAC config, one to one."""
    cfg = config.algo
    assert isinstance(cfg, SACConfig)
    if cfg.n_step != 1 or cfg.prioritized_replay:
        raise NoSB3Equivalent("algo.n_step / algo.prioritized_replay: SB3's SAC has neither; set 1 / false")
    if cfg.max_grad_norm > 0:
        raise NoSB3Equivalent("algo.max_grad_norm: SB3's SAC does not clip gradients; set 0")
    return {
        "learning_rate": cfg.learning_rate,
        "buffer_size": cfg.buffer_size,
        "learning_starts": cfg.learning_starts,
        "batch_size": cfg.batch_size,
        "tau": cfg.tau,
        "gamma": cfg.gamma,
        "train_freq": cfg.train_freq,
        "gradient_steps": cfg.gradient_steps,
        "target_update_interval": cfg.target_update_interval,  # both count gradient steps
        # learned temperature starting at init_alpha ("auto_<init>"), or a fixed one
        "ent_coef": f"auto_{cfg.init_alpha}" if cfg.autotune else cfg.init_alpha,
        "target_entropy": "auto" if cfg.target_entropy is None else cfg.target_entropy,  # auto: -|A|
        "policy_kwargs": sb3_network(config),
    }


@dataclass
class Benchmark:
    """One algorithm's comparison: craftlab's config and SB3's class and arguments."""

    title: str
    config: str
    """craftlab's config, relative to the repository"""
    eval_every: int
    """default env steps between evaluations"""
    sb3_class: type[BaseAlgorithm]
    sb3_kwargs: Callable[[RunConfig], dict[str, Any]]


BENCHMARKS = {
    "dqn": Benchmark("DQN", "configs/levine/dqn_cartpole.yaml", 10_000, DQN, sb3_dqn_kwargs),
    "sac": Benchmark("SAC", "configs/levine/sac_pendulum.yaml", 5_000, SAC, sb3_sac_kwargs),
}


# ------------------------------------------------------- one training run


@dataclass
class RunRecord:
    """One trainer, one seed: greedy returns at the checkpoints and the training time."""

    algo: str
    contender: str
    seed: int
    env_steps: int = 0
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    """``{"step", "mean_return", "returns"}`` per evaluation"""
    wall_s: float = 0.0
    """wall-clock seconds of training (building the agent included), evaluations excluded"""
    cpu_s: float = 0.0
    """process CPU seconds of the same"""
    eval_wall_s: float = 0.0
    load_average: list[float] = field(default_factory=list)
    """1-minute load average before and after the run"""

    @property
    def steps_per_s(self) -> float:
        return self.env_steps / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def cpu_steps_per_s(self) -> float:
        return self.env_steps / self.cpu_s if self.cpu_s > 0 else float("nan")


class Stopwatch:
    """Wall-clock and CPU time since ``start``, less the time spent in ``excluded()`` blocks."""

    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.excluded_wall = self.excluded_cpu = 0.0

    def exclude(self, fn: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn()
        finally:
            self.excluded_wall += time.perf_counter() - wall
            self.excluded_cpu += time.process_time() - cpu

    def stop(self, record: RunRecord) -> None:
        record.wall_s = time.perf_counter() - self.wall0 - self.excluded_wall
        record.cpu_s = time.process_time() - self.cpu0 - self.excluded_cpu
        record.eval_wall_s = self.excluded_wall


def greedy_returns(policy: Policy, envs: EnvFactory, episodes: int, seed: int) -> list[float]:
    """Returns of ``episodes`` greedy episodes in a fresh env, episode k reset with ``seed + k``."""
    env = envs.make()
    returns = []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            total, done = 0.0, False
            while not done:
                action = unbatch_action(policy(batch_observation(obs)))
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = bool(terminated or truncated)
            returns.append(total)
    finally:
        env.close()
    return returns


def checkpoint_steps(steps: int, every: int) -> list[int]:
    """Every ``every`` env steps up to ``steps``, and ``steps`` itself."""
    return sorted({*range(every, steps + 1, every), steps})


def run_config(bench: Benchmark, seed: int, steps: int | None) -> RunConfig:
    """The benchmark's craftlab config for ``seed`` and ``steps`` (None: the config's budget)."""
    overrides = [
        f"train.seed={seed}",
        *([f"train.total_timesteps={steps}"] if steps is not None else []),
        "train.device=cpu",
        "train.torch_threads=1",
        "train.progress_bar=false",
        "train.num_envs=1",
    ]
    return load_run_config(ROOT / bench.config, overrides)


def train_craftlab(bench: Benchmark, record: RunRecord, args: argparse.Namespace) -> None:
    config = run_config(bench, record.seed, args.steps)
    clock = Stopwatch()
    agent = build_agent(config)
    run = RunContext(total_timesteps=args.steps, eval_interval=args.eval_every)

    def evaluate(agent_: Any, step: int) -> None:
        def policy(obs: np.ndarray) -> np.ndarray:
            return agent_.act(obs, deterministic=True)[0]

        returns = clock.exclude(lambda: greedy_returns(policy, agent_.envs, args.eval_episodes, args.eval_seed))
        record.checkpoints.append({"step": step, "mean_return": float(np.mean(returns)), "returns": returns})

    run.evaluate, run.agent = evaluate, agent
    try:
        agent.learn(args.steps, run)
    finally:
        agent.close()
    if not record.checkpoints or record.checkpoints[-1]["step"] != agent.num_timesteps:
        evaluate(agent, agent.num_timesteps)  # the last step, when not a multiple of eval_every
    clock.stop(record)
    record.env_steps = agent.num_timesteps


class EvaluateAtCheckpoints(BaseCallback):
    """Evaluates the model every ``every`` env steps (excluded from the clock) and stops
    training at ``total`` env steps exactly (SB3 would finish its ``train_freq`` round)."""

    def __init__(self, every: int, total: int, evaluate: Callable[[int], None]):
        super().__init__()
        self.every, self.total, self.evaluate_at = every, total, evaluate
        self.next_eval = every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_eval or self.num_timesteps >= self.total:
            self.evaluate_at(self.num_timesteps)
            self.next_eval = (self.num_timesteps // self.every + 1) * self.every
        return self.num_timesteps < self.total


def train_sb3(bench: Benchmark, record: RunRecord, args: argparse.Namespace) -> None:
    config = run_config(bench, record.seed, args.steps)
    clock = Stopwatch()
    envs = EnvFactory(config.env, num_envs=1, seed=record.seed, vector="sync")
    vec_env = DummyVecEnv([envs.make])
    model = bench.sb3_class(
        "MlpPolicy",
        vec_env,
        seed=record.seed,
        device="cpu",
        verbose=0,
        **bench.sb3_kwargs(config),
    )

    def policy(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    def evaluate(step: int) -> None:
        returns = clock.exclude(lambda: greedy_returns(policy, envs, args.eval_episodes, args.eval_seed))
        record.checkpoints.append({"step": step, "mean_return": float(np.mean(returns)), "returns": returns})

    model.learn(args.steps, callback=EvaluateAtCheckpoints(args.eval_every, args.steps, evaluate))
    vec_env.close()
    clock.stop(record)
    record.env_steps = int(model.num_timesteps)


TRAINERS = {"craftlab": train_craftlab, "sb3": train_sb3}


def warm_up(bench: Benchmark, config: RunConfig, args: argparse.Namespace) -> None:
    """An untimed short run of each contender (to one round of gradient steps past the
    warm-up): whoever runs first in the process would otherwise pay the one-time costs
    (torch's first kernels and allocations, lazy imports): up to 1.8x a 2000-step run's time."""
    steps = config.algo.learning_starts + config.algo.train_freq
    short = argparse.Namespace(**{**vars(args), "steps": steps, "eval_every": steps, "eval_episodes": 1})
    for contender in args.contenders:
        TRAINERS[contender](bench, RunRecord(bench.title, contender, seed=0), short)


# ------------------------------------------------------------------- report


class Console:
    """Prints, and keeps the text for ``--out``'s .txt file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{np.mean(values):8.1f} ± {np.std(values):6.1f}"


def report(bench: Benchmark, args: argparse.Namespace, records: list[RunRecord], say: Console) -> None:
    seeds = ", ".join(str(s) for s in args.seeds)
    say(
        f"\n{bench.title}, {bench.config}, {args.steps} env steps, seeds {seeds}: greedy return "
        f"({args.eval_episodes} episodes, eval seeds {args.eval_seed}..{args.eval_seed + args.eval_episodes - 1}), "
        "mean ± std over seeds"
    )
    by = {c: [r for r in records if r.contender == c] for c in CONTENDERS}
    say(f"  {'step':>7}  {'craftlab':>17}  {'SB3':>17}")
    for step in checkpoint_steps(args.steps, args.eval_every):
        cells = []
        for contender in CONTENDERS:
            values = [c["mean_return"] for r in by[contender] for c in r.checkpoints if c["step"] == step]
            cells.append(mean_std(values))
        say(f"  {step:>7}  {cells[0]:>17}  {cells[1]:>17}")

    say(f"\n  training (evaluations excluded)  {'craftlab':>17}  {'SB3':>17}  craftlab/SB3")
    rows: list[tuple[str, Callable[[RunRecord], float], str]] = [
        ("wall s per run", lambda r: r.wall_s, "{:8.1f} ± {:6.1f}"),
        ("env steps/s (wall-clock)", lambda r: r.steps_per_s, "{:8.0f} ± {:6.0f}"),
        ("env steps/s (CPU time)", lambda r: r.cpu_steps_per_s, "{:8.0f} ± {:6.0f}"),
    ]
    for label, value, fmt in rows:
        means, cells = [], []
        for contender in CONTENDERS:
            values = [value(r) for r in by[contender]]
            means.append(float(np.mean(values)) if values else float("nan"))
            cells.append(fmt.format(np.mean(values), np.std(values)) if values else "-")
        ratio = f"{means[0] / means[1]:.2f}x" if all(np.isfinite(means)) and means[1] > 0 else "-"
        say(f"  {label:<31}  {cells[0]:>17}  {cells[1]:>17}  {ratio:>12}")


def write_out(
    path: Path, args: argparse.Namespace, settings: dict[str, Any], records: list[RunRecord], say: Console
) -> None:
    """The results as JSON at ``path``, the console text beside it (``.txt``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "settings": {
            "seeds": args.seeds,
            "eval_episodes": args.eval_episodes,
            "eval_seed": args.eval_seed,
            "algos": settings,
        },
        "runs": [{**asdict(r), "steps_per_s": r.steps_per_s, "cpu_steps_per_s": r.cpu_steps_per_s} for r in records],
    }
    path.write_text(json.dumps(data, indent=2))
    path.with_suffix(".txt").write_text("\n".join(say.lines) + "\n")


def report_saved(path: Path) -> int:
    """The tables of a saved ``--out`` file, over the runs it holds (those of a stopped
    benchmark too: a seed missing on one side is left out of both)."""
    if not path.is_file():
        print(f"error: --report {path}: no such file; give a JSON file that --out wrote", file=sys.stderr)
        return 2
    data = json.loads(path.read_text())
    names = {f.name for f in fields(RunRecord)}
    records = [RunRecord(**{k: v for k, v in run.items() if k in names}) for run in data["runs"]]
    say = Console()
    say(f"{data['command']}  ({data['date']}, {data['machine']['cpus']} CPU cores)")
    for algo, setting in data["settings"]["algos"].items():
        runs = [r for r in records if r.algo == algo]
        seeds = sorted({r.seed for r in runs})
        complete = [s for s in seeds if {r.contender for r in runs if r.seed == s} == set(CONTENDERS)]
        args = argparse.Namespace(
            steps=setting["steps"],
            eval_every=setting["eval_every"],
            seeds=complete,
            eval_episodes=data["settings"]["eval_episodes"],
            eval_seed=data["settings"]["eval_seed"],
        )
        report(BENCHMARKS[algo], args, [r for r in runs if r.seed in complete], say)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--algo", choices=["dqn", "sac", "both"], default="both")
    p.add_argument("--steps", type=int, help="env steps per run (default: the config's, DQN 50k, SAC 20k)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--eval-every", type=int, help="env steps between evaluations (default: DQN 10k, SAC 5k)")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--eval-seed", type=int, default=10_000, help="episode k of every evaluation resets with this + k")
    p.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    p.add_argument("--out", type=Path, help="write the results here (JSON) and the console text beside it (.txt)")
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE.json",
        help="print the tables of a saved --out file (finished runs) and exit",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    for key in ("steps", "eval_every", "eval_episodes"):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.out is not None and args.out.suffix != ".json":
        p.error(f"--out {args.out}: give a .json file name (the console text goes beside it as .txt)")
    if args.report is not None:
        return report_saved(args.report)
    torch.set_num_threads(1)
    args.algos = ["dqn", "sac"] if args.algo == "both" else [args.algo]
    steps_arg, every_arg = args.steps, args.eval_every
    say = Console()
    say(
        f"craftlab vs Stable-Baselines3 {stable_baselines3.__version__}, torch {torch.__version__}, "
        f"1 torch thread, CPU, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    records: list[RunRecord] = []
    settings: dict[str, Any] = {}
    for algo in args.algos:
        bench = BENCHMARKS[algo]
        config = run_config(bench, 0, steps_arg)
        args.steps = steps_arg or config.train.total_timesteps
        args.eval_every = every_arg or min(bench.eval_every, args.steps)
        try:
            sb3_kwargs = bench.sb3_kwargs(config)
        except NoSB3Equivalent as exc:
            print(f"error: {bench.config}: {exc}", file=sys.stderr)
            return 2
        settings[algo] = {
            "config": bench.config,
            "steps": args.steps,
            "eval_every": args.eval_every,
            "sb3_kwargs": json.loads(json.dumps(sb3_kwargs, default=str)),
        }
        say(f"\n{bench.title}: SB3 {bench.sb3_class.__name__}('MlpPolicy', {sb3_kwargs})")
        warm_up(bench, config, args)
        algo_records = []
        for seed in args.seeds:
            for contender in args.contenders:
                record = RunRecord(algo, contender, seed, load_average=[os.getloadavg()[0]])
                TRAINERS[contender](bench, record, args)
                record.load_average.append(os.getloadavg()[0])
                returns = "  ".join(f"{c['step']}: {c['mean_return']:.1f}" for c in record.checkpoints)
                say(
                    f"  [{algo} {contender:8s} seed {seed}] {returns} | {record.wall_s:.1f} s wall, "
                    f"{record.steps_per_s:.0f} steps/s ({record.cpu_steps_per_s:.0f} per CPU s), load "
                    f"{record.load_average[0]:.1f}->{record.load_average[1]:.1f}"
                )
                records.append(record)
                algo_records.append(record)
                if args.out is not None:
                    write_out(args.out, args, settings, records, say)
        report(bench, args, algo_records, say)
    if args.out is not None:
        write_out(args.out, args, settings, records, say)
        say(f"\nwritten: {args.out} and {args.out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
