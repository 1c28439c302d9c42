"""Stock crafter vs craftlab's FastCrafter: steps per second on a random policy, resets included.

Run by hand::

    python benchmarks/crafter_env.py                  # 20,000 steps each, seed 0
    python benchmarks/crafter_env.py --steps 50000 --seed 3

Both engines play the same random action sequence (uniform over the 17
actions) and are reset whenever an episode ends; the time of every ``step``
and ``reset`` call is counted. The two engines run side by side in blocks of
``--block`` steps, alternating, so that a change in machine load during the run
affects both alike. The report gives, per engine, steps per second including
resets, the mean time of a reset and of a step (rendering included), the
episodes played, and the ratio fast / stock.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


class _Runner:
    """One engine playing random actions; accumulates the time spent in step and reset."""

    def __init__(self, env, seed: int):
        self.env = env
        self.actions = np.random.RandomState(seed)
        self.step_time = self.reset_time = 0.0
        self.steps = self.resets = 0
        self.needs_reset = True

    def run(self, n: int) -> None:
        env, clock = self.env, time.perf_counter
        actions = self.actions.randint(0, 17, n).tolist()
        for action in actions:
            if self.needs_reset:
                t0 = clock()
                env.reset()
                self.reset_time += clock() - t0
                self.resets += 1
                self.needs_reset = False
            t0 = clock()
            _, _, done, _ = env.step(action)
            self.step_time += clock() - t0
            self.steps += 1
            self.needs_reset = done

    @property
    def total(self) -> float:
        return self.step_time + self.reset_time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps per engine (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="world and action seed (default 0)")
    parser.add_argument("--block", type=int, default=1_000, help="steps per alternating block (default 1000)")
    args = parser.parse_args(argv)

    import crafter

    from craftlab.envs.crafter_fast import FastCrafter

    # Warm up outside the timing: numba compiles (or loads its cache) on first use.
    warm = FastCrafter(seed=args.seed)
    warm.reset()
    for a in range(200):
        warm.step(a % 17)

    runners = {
        "stock crafter": _Runner(crafter.Env(seed=args.seed), args.seed),
        "FastCrafter": _Runner(FastCrafter(seed=args.seed), args.seed),
    }
    done = 0
    while done < args.steps:
        n = min(args.block, args.steps - done)
        for runner in runners.values():
            runner.run(n)
        done += n

    print(f"random policy, {args.steps} steps per engine, seed {args.seed}, resets included")
    print(f"{'engine':<14} {'steps/s':>9} {'episodes':>9} {'mean len':>9} {'reset ms':>9} {'step ms':>8}")
    for name, r in runners.items():
        print(
            f"{name:<14} {r.steps / r.total:9.0f} {r.resets:9d} {r.steps / max(r.resets, 1):9.1f} "
            f"{1000 * r.reset_time / max(r.resets, 1):9.2f} {1000 * r.step_time / r.steps:8.3f}"
        )
    stock, fast = runners["stock crafter"], runners["FastCrafter"]
    print(
        f"speed-up (steps/s, resets included): {stock.total / fast.total:.2f}x  "
        f"(reset {stock.reset_time / stock.resets / (fast.reset_time / fast.resets):.1f}x, "
        f"step {stock.step_time / stock.steps / (fast.step_time / fast.steps):.1f}x)"
    )


if __name__ == "__main__":
    main()
