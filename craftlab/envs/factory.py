"""Building the environments of a run, single or vectorised.

:class:`EnvFactory` is what an agent receives: it knows the env config, how
many parallel copies to run and their seeds, and builds them the same way for
training, evaluation and watching. Each env is::

    base env (env.id, env.kwargs) -> TimeLimit (env.max_episode_steps)
      -> EpisodeStatistics (raw returns, lengths, achievements) -> env.wrappers

so the episode return logged is the environment's own, before any reward
shaping a wrapper may apply.

Seeds: env ``i`` of a run with seed ``s`` gets ``env_seeds(n)[i]``, drawn from
``numpy.random.SeedSequence(s).spawn(n)``, so runs with different seeds never
share an env's stream (with ``s + i``, runs 0 and 1 shared 7 of 8 envs).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from craftlab.core.config import EnvConfig
from craftlab.envs.episode_stats import EpisodeStatistics
from craftlab.envs.registry import apply_wrappers, make_base_env

# Environments whose step is cheap enough that subprocesses cost more than they save.
_CHEAP_ENV_PREFIXES = (
    "CartPole",
    "Pendulum",
    "MountainCar",
    "Acrobot",
    "FrozenLake",
    "CliffWalking",
    "Taxi",
    "Blackjack",
    "tabular/",
    "probe/",
)


def make_env(config: EnvConfig, render_mode: str | None = None) -> gym.Env:
    """One environment with craftlab's standard wrappers (see module doc)."""
    env = make_base_env(config, render_mode=render_mode)
    if config.max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=config.max_episode_steps)
    env = EpisodeStatistics(env)
    return apply_wrappers(env, config)


def _make_seeded(config: EnvConfig, seed: int, render_mode: str | None = None) -> gym.Env:
    env = make_env(config, render_mode=render_mode)
    env.action_space.seed(seed)
    return env


@dataclass
class EnvFactory:
    """The environments of one run. Env ``i`` is seeded with ``env_seeds()[i]``
    (independent streams per run seed, see the module doc)."""

    config: EnvConfig
    num_envs: int = 1
    seed: int = 0
    vector: str = "auto"
    """'sync', 'async' (subprocesses, shared memory) or 'auto'"""
    _spaces: tuple[gym.Space, gym.Space] | None = field(default=None, repr=False)

    def env_seeds(self, num_envs: int | None = None, stream: int = 0) -> list[int]:
        """One seed per env: ``SeedSequence(seed).spawn(num_envs)`` (default: the run's
        ``num_envs``), each child's first 32-bit word. Env ``i``'s seed is the same
        whatever the number of envs, and no two run seeds share one (up to 32-bit
        collisions, ~n^2 / 2^33). ``stream`` > 0 gives further independent sets
        (e.g. PPO-RND's warm-up envs) that never meet the training envs' seeds."""
        n = num_envs or self.num_envs
        root = (
            np.random.SeedSequence(self.seed)
            if stream == 0
            else np.random.SeedSequence(self.seed, spawn_key=(2**31 + stream,))
        )
        return [int(child.generate_state(1)[0]) for child in root.spawn(n)]

    def make(self, index: int = 0, render_mode: str | None = None) -> gym.Env:
        """A single env (``reset(seed=...)`` it yourself; ``env_seeds(index + 1)[index]``
        seeds its action space)."""
        return _make_seeded(self.config, self.env_seeds(index + 1)[index], render_mode)

    def make_vector(
        self,
        num_envs: int | None = None,
        autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP,
        vector: str | None = None,
    ) -> gym.vector.VectorEnv:
        """``num_envs`` parallel envs (default: the run's). In same-step autoreset
        mode (default) a finished env is reset within the same ``step`` call and
        its last observation is in ``info["final_obs"]``, as in SB3. Reset it with
        ``reset(seed=self.env_seeds(num_envs))``."""
        n = num_envs or self.num_envs
        kind = self.vector_kind(n, vector)
        fns = [functools.partial(_make_seeded, self.config, seed) for seed in self.env_seeds(n)]
        if kind == "async":
            return gym.vector.AsyncVectorEnv(
                fns,
                shared_memory=True,
                autoreset_mode=autoreset_mode,
                context="forkserver" if _has_forkserver() else None,
            )
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=autoreset_mode)

    def vector_kind(self, num_envs: int, vector: str | None = None) -> str:
        """'sync' or 'async' for ``num_envs`` envs. 'auto' runs envs in subprocesses
        only where that pays: several envs, an env that is not cheap to step, and
        more than 2 CPU cores (on 2 cores the env workers and the learner fight
        for them: craftlab PPO on Crafter ran ~700 steps/s sync vs ~300 async)."""
        kind = vector or self.vector
        if kind != "auto":
            return kind
        cheap = self.config.id.startswith(_CHEAP_ENV_PREFIXES)
        return "async" if (num_envs > 1 and not cheap and (os.cpu_count() or 1) > 2) else "sync"

    def _probe(self) -> tuple[gym.Space, gym.Space]:
        if self._spaces is None:
            env = make_env(self.config)
            self._spaces = (env.observation_space, env.action_space)
            env.close()
        return self._spaces

    @property
    def observation_space(self) -> gym.Space:
        return self._probe()[0]

    @property
    def action_space(self) -> gym.Space:
        return self._probe()[1]

    @property
    def id(self) -> str:
        return self.config.id


def _has_forkserver() -> bool:
    import multiprocessing as mp

    return "forkserver" in mp.get_all_start_methods()
