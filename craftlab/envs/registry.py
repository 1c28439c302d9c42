"""Names -> environments and wrappers, so YAML can pick them.

``env.id`` is looked up here first, then in Gymnasium's registry. Entry points
are ``"module:callable"`` strings imported on first use, so optional
dependencies (MineRL, pygame) are only needed by the environments that use them.
Other modules add their environments with :func:`register_env` /
:func:`register_wrapper` at the bottom of this file (one place to look).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym

from craftlab.core.config import ConfigError, EnvConfig, did_you_mean
from craftlab.core.metrics import AchievementMetrics, EpisodeMetrics


@dataclass(frozen=True)
class Entry:
    entry_point: str
    """``"package.module:callable"`` returning a ``gym.Env`` (or wrapping one)"""
    description: str
    default_kwargs: tuple = ()
    """(key, value) pairs passed before the config's kwargs"""
    metrics: str | None = None
    """``"package.module:factory"`` of the env's :class:`~craftlab.core.metrics.EpisodeMetrics`
    plug-in (None: achievement success rates without a score)"""


ENVS: dict[str, Entry] = {}
WRAPPERS: dict[str, Entry] = {}


def register_env(
    env_id: str, entry_point: str, description: str, metrics: str | None = None, **default_kwargs: Any
) -> None:
    ENVS[env_id] = Entry(entry_point, description, tuple(sorted(default_kwargs.items())), metrics)


def episode_metrics(env_id: str) -> EpisodeMetrics:
    """A fresh metric plug-in for ``env_id``'s training episodes (see :mod:`craftlab.core.metrics`)."""
    entry = ENVS.get(env_id)
    if entry is not None and entry.metrics is not None:
        return load_entry_point(entry.metrics)()
    return AchievementMetrics()


def register_wrapper(name: str, entry_point: str, description: str) -> None:
    WRAPPERS[name] = Entry(entry_point, description)


def load_entry_point(entry_point: str) -> Callable[..., Any]:
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def _gym_ids() -> list[str]:
    return list(gym.registry.keys())


def _check_kwargs(fn: Callable[..., Any], kwargs: dict[str, Any], key: str, skip: int = 0) -> None:
    """Unknown keyword arguments of ``fn`` -> ConfigError naming the closest ones."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())[skip:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for k in kwargs:
        if k not in names:
            raise ConfigError(f"config key '{key}.{k}' does not exist; {did_you_mean(k, names)}")


def check_env_config(config: EnvConfig) -> None:
    """Fail early, with a clear message, on an unknown env id, wrapper or kwarg."""
    if config.id in ENVS:
        entry = ENVS[config.id]
        target = load_entry_point(entry.entry_point)
        _check_kwargs(
            target.__init__ if inspect.isclass(target) else target,
            config.kwargs,
            "env.kwargs",
            skip=1 if inspect.isclass(target) else 0,
        )
    elif config.id not in gym.registry:
        raise ConfigError(
            f"config key 'env.id': unknown environment '{config.id}'; "
            f"{did_you_mean(config.id, list(ENVS) + _gym_ids())}"
        )
    for i, wrapper in enumerate(config.wrappers):
        if wrapper.name not in WRAPPERS:
            raise ConfigError(
                f"config key 'env.wrappers[{i}].name': unknown wrapper '{wrapper.name}'; "
                f"{did_you_mean(wrapper.name, WRAPPERS)}"
            )
        target = load_entry_point(WRAPPERS[wrapper.name].entry_point)
        _check_kwargs(
            target.__init__ if inspect.isclass(target) else target,
            wrapper.kwargs,
            f"env.wrappers[{i}].kwargs",
            skip=2 if inspect.isclass(target) else 1,
        )


def make_base_env(config: EnvConfig, render_mode: str | None = None) -> gym.Env:
    """The environment named by ``config.id`` with its kwargs, without wrappers."""
    kwargs = dict(config.kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if config.id in ENVS:
        entry = ENVS[config.id]
        return load_entry_point(entry.entry_point)(**{**dict(entry.default_kwargs), **kwargs})
    return gym.make(config.id, **kwargs)


def apply_wrappers(env: gym.Env, config: EnvConfig) -> gym.Env:
    for wrapper in config.wrappers:
        env = load_entry_point(WRAPPERS[wrapper.name].entry_point)(env, **wrapper.kwargs)
    return env


# ----------------------------------------------------------------- registrations

register_env(
    "crafter",
    "craftlab.envs.crafter:CrafterEnv",
    "Crafter, 2D Minecraft (64x64 RGB, 17 actions, 22 achievements)",
    metrics="craftlab.envs.crafter:crafter_metrics",
)
register_env(
    "crafter-noreward",
    "craftlab.envs.crafter:CrafterEnv",
    "Crafter without reward (achievements only)",
    metrics="craftlab.envs.crafter:crafter_metrics",
    reward=False,
)

register_wrapper("frame_stack", "gymnasium.wrappers:FrameStackObservation", "stack the last k observations")
register_wrapper("grayscale", "gymnasium.wrappers:GrayscaleObservation", "RGB -> grayscale image")
register_wrapper("resize", "gymnasium.wrappers:ResizeObservation", "resize image observations")
register_wrapper("flatten", "gymnasium.wrappers:FlattenObservation", "flatten observations to a vector")
register_wrapper("clip_action", "gymnasium.wrappers:ClipAction", "clip continuous actions to the space")
register_wrapper(
    "normalize_observation", "gymnasium.wrappers:NormalizeObservation", "running mean/std observation normalisation"
)
register_wrapper("transform_reward_sign", "craftlab.envs.common_wrappers:SignReward", "reward -> sign(reward)")
register_wrapper(
    "one_hot", "craftlab.envs.common_wrappers:OneHotObservation", "Discrete observation -> one-hot float vector"
)

# --- MineRL (envs/minerl/; every MineRL id, its 'minerl-standin/<id>' twin, the minerl_* wrappers)
from craftlab.envs.minerl.ids import register_minerl  # noqa: E402  (import-cheap: no minerl, no numpy)

register_minerl(register_env, register_wrapper)

# --- Silver's course: small environments with a known model (envs/tabular/) ---------
register_env(
    "tabular/random_walk",
    "craftlab.envs.tabular.random_walk:RandomWalkEnv",
    "n-state random walk, 19 states by default (S&B Example 7.1); model in env.unwrapped.P",
)
register_env(
    "tabular/windy_gridworld",
    "craftlab.envs.tabular.windy_gridworld:WindyGridworldEnv",
    "windy gridworld 7x10 (S&B Example 6.5); model in env.unwrapped.P",
)
register_env(
    "tabular/bandit",
    "craftlab.envs.tabular.bandit:BanditTestbedEnv",
    "k-armed testbed, one problem per episode of 1000 pulls (S&B Section 2.3)",
)
register_env(
    "tabular/crafting_world",
    "craftlab.envs.tabular.crafting_world:CraftingWorldEnv",
    "tiny crafting world: wood -> table -> pickaxe -> stone; model in env.unwrapped.P",
)
register_env(
    "tabular/chain_walk",
    "craftlab.envs.tabular.chain_walk:ChainWalkEnv",
    "chain walk, 50 states by default (Lagoudakis & Parr 2003, LSPI); model in env.unwrapped.P",
)

# --- probe environments (envs/probes.py; exact answers for debugging deep RL agents) ---
register_env("probe/constant_reward", "craftlab.envs.probes:ConstantReward", "probe: 1 step, reward +1; V = 1")
register_env(
    "probe/observation_reward", "craftlab.envs.probes:ObservationReward", "probe: 1 step, reward = obs (+-1); V(o) = o"
)
register_env(
    "probe/two_step", "craftlab.envs.probes:TwoStep", "probe: 2 steps, reward +1 at the end; V(s0) = gamma, V(s1) = 1"
)
register_env(
    "probe/action_reward", "craftlab.envs.probes:ActionReward", "probe: 1 step, reward +1 for action 1, -1 for 0"
)
register_env(
    "probe/observation_action_reward",
    "craftlab.envs.probes:ObservationActionReward",
    "probe: 1 step, obs +-1, reward +1 for the matching action (continuous=True: Box action)",
)
register_env(
    "probe/image_observation_action_reward",
    "craftlab.envs.probes:ImageObservationActionReward",
    "probe: the observation-action probe with uint8 image observations (CNN encoders)",
)
register_env(
    "probe/memory", "craftlab.envs.probes:Memory", "probe: act on a cue seen `delay` steps earlier (needs an LSTM)"
)
register_env(
    "probe/sparse_corridor",
    "craftlab.envs.probes:SparseCorridor",
    "probe: sparse reward at the far end of a corridor, random walk almost never gets there (RND)",
)
register_env(
    "probe/maximization_bias",
    "craftlab.envs.probes:MaximizationBias",
    "probe: S&B Example 6.7, A -> B with N(-0.1, 1) rewards; Q(A, left) = -0.1 gamma (max-based targets overestimate)",
)

# --- a voxel world with MineRL's interface (envs/voxel/; 'voxel/<MineRL id>', no Minecraft) ---
from craftlab.envs.voxel.ids import register_voxel  # noqa: E402  (import-cheap: no numpy, no numba)

register_voxel(register_env)
