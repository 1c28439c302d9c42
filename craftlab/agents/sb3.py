"""Stable-Baselines3 and sb3-contrib agents behind craftlab's Agent interface.

YAML::

    algo:
      name: sb3_ppo            # sb3_ppo, sb3_a2c, sb3_dqn, sb3_qrdqn, sb3_recurrent_ppo
      policy: auto             # MlpPolicy / CnnPolicy / ...; auto picks by observation space
      kwargs:                  # passed to the SB3 class as they are (checked against its signature)
        n_steps: 2048
        learning_rate: 3.0e-4

What craftlab adds around SB3: the same run folder, tags (SB3's ``train/x`` is
logged as ``losses/x``; episodes, SPS, achievements by craftlab's logger),
atomic checkpoints, resume, and ``weights_only`` loading. Checkpoints hold the
policy and optimiser weights and the step counter; the replay buffer of DQN
and QR-DQN is not saved (a resumed off-policy run refills it).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from craftlab.agents.base import Agent, AgentConfig, rng_state, set_rng_state
from craftlab.agents.networks import is_image_space
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext

# craftlab handles these itself; in ``kwargs`` they would conflict
_RESERVED = {"env", "policy", "seed", "device", "verbose", "tensorboard_log", "_init_setup_model"}


@dataclass
class SB3Config(AgentConfig):
    """A Stable-Baselines3 algorithm."""

    policy: str = "auto"
    """SB3 policy name ('MlpPolicy', 'CnnPolicy', 'MultiInputPolicy', ...); 'auto' picks by observation space"""
    kwargs: dict = field(default_factory=dict)
    """keyword arguments of the SB3 class (learning_rate, n_steps, buffer_size, policy_kwargs, ...)"""

    log_interval: int = 1
    """write SB3's training losses every this many updates (on-policy) or finished episodes (off-policy)"""

    sb3_class: ClassVar[str] = ""
    """``"module:Class"`` of the SB3 algorithm"""
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = ()
    """the action spaces the SB3 algorithm supports; empty: any"""
    rollout_in_host_memory: ClassVar[bool] = True
    """SB3's rollout buffer is numpy: it takes host memory whatever the device (see rollout_memory_bytes)"""

    def validate(self) -> None:
        cls = load_sb3_class(self.sb3_class)
        policies = list(getattr(cls, "policy_aliases", {}))
        if self.policy != "auto" and self.policy not in policies:
            raise ConfigError(
                f"config key 'algo.policy': {cls.__name__} has no policy {self.policy!r}; "
                f"{did_you_mean(self.policy, ['auto', *policies])}"
            )
        params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
        for key in self.kwargs:
            if key in _RESERVED:
                raise ConfigError(
                    f"config key 'algo.kwargs.{key}' is set by craftlab; use {_reserved_hint(key)} instead"
                )
            if key not in params:
                raise ConfigError(
                    f"config key 'algo.kwargs.{key}' is not an argument of {cls.__name__}; "
                    f"{did_you_mean(key, [p for p in params if p not in _RESERVED])}"
                )

    def rollout_steps(self) -> tuple[str, int] | None:
        """``("algo.kwargs.n_steps", steps per env between updates)`` of an on-policy
        SB3 algorithm (its default when ``kwargs`` does not set it); None off-policy."""
        cls = load_sb3_class(self.sb3_class)
        if not issubclass(cls, OnPolicyAlgorithm):
            return None
        default = inspect.signature(cls.__init__).parameters["n_steps"].default
        return "algo.kwargs.n_steps", int(self.kwargs.get("n_steps", default))

    def rollout_memory_bytes(self, observation_space: gym.Space, action_space: gym.Space, num_envs: int) -> int:
        """Bytes of SB3's on-policy rollout buffer (numpy, in host memory): float32
        observations and actions plus six float32 scalars per step, for
        ``n_steps x num_envs`` steps; 0 off-policy."""
        rollout = self.rollout_steps()
        if rollout is None:
            return 0
        spaces = (
            observation_space.spaces.values() if isinstance(observation_space, gym.spaces.Dict) else [observation_space]
        )
        obs_floats = sum(int(np.prod(space.shape or (1,))) for space in spaces)
        action_floats = int(np.prod(action_space.shape or (1,)))
        return rollout[1] * num_envs * 4 * (obs_floats + action_floats + 6)


def _reserved_hint(key: str) -> str:
    return {"seed": "train.seed", "device": "train.device", "env": "env.id", "policy": "algo.policy"}.get(
        key, "the craftlab setting"
    )


def load_sb3_class(entry: str) -> type:
    module, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module), attr)


class SB3Agent(Agent):
    """Wraps one SB3 algorithm instance (``self.model``)."""

    config: SB3Config

    def __init__(self, config: SB3Config, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        cls = load_sb3_class(config.sb3_class)
        if config.action_spaces and not isinstance(self.action_space, config.action_spaces):
            kinds = " or ".join(kind.__name__ for kind in config.action_spaces)
            raise ConfigError(
                f"algorithm '{self.name}' needs a {kinds} action space, but env '{envs.id}' has "
                f"{self.action_space}; pick an algorithm for it (e.g. sb3_ppo, sb3_a2c or ppo) "
                "or an env with discrete actions"
            )
        self.vec_env = self._make_vec_env()
        policy = config.policy
        if policy == "auto":
            space = self.observation_space
            policy = (
                "CnnPolicy"
                if is_image_space(space)
                else ("MultiInputPolicy" if isinstance(space, gym.spaces.Dict) else "MlpPolicy")
            )
            if "Recurrent" in cls.__name__:
                policy = policy.replace("Policy", "LstmPolicy")
        self.model = cls(policy, self.vec_env, seed=seed, device=self.device, verbose=0, **config.kwargs)
        # SB3 seeded env i with seed + i (VecEnv.seed); use craftlab's independent streams instead
        self.vec_env._seeds = list(self.envs.env_seeds(self.vec_env.num_envs))
        self._writer = _TagWriter()
        self.model.set_logger(Logger(folder=None, output_formats=[self._writer]))
        self.np_rng = np.random.default_rng(seed)

    def _make_vec_env(self):
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

        n = self.envs.num_envs
        fns = [_EnvFn(self.envs, i) for i in range(n)]
        kind = self.envs.vector_kind(n)
        return SubprocVecEnv(fns, start_method="forkserver") if kind == "async" else DummyVecEnv(fns)

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:

        run = run or RunContext(total_timesteps)
        self._writer.run = run
        remaining = total_timesteps - self.num_timesteps
        if remaining <= 0:
            return
        self.model.num_timesteps = self.num_timesteps
        self.model.learn(
            remaining,
            callback=_RunCallback(self, run),
            reset_num_timesteps=self.num_timesteps == 0,
            log_interval=self.config.log_interval,
            progress_bar=False,
        )
        self.num_timesteps = int(self.model.num_timesteps)

    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        action, state = self.model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        return action, state

    def state_dict(self) -> dict[str, Any]:
        return {
            "parameters": self.model.get_parameters(),  # {"policy": ..., "policy.optimizer": ...}
            "num_timesteps": self.num_timesteps,
            "n_updates": int(getattr(self.model, "_n_updates", 0)),
            "rng": rng_state(self.np_rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.set_parameters(state["parameters"], exact_match=True, device=self.device)
        self.num_timesteps = int(state["num_timesteps"])
        self.model.num_timesteps = self.num_timesteps
        if hasattr(self.model, "_n_updates"):
            self.model._n_updates = int(state["n_updates"])
        set_rng_state(state["rng"], self.np_rng)

    def close(self) -> None:
        self.vec_env.close()


class _EnvFn:
    """Picklable env constructor for SB3's SubprocVecEnv."""

    def __init__(self, envs, index: int):
        self.envs, self.index = envs, index

    def __call__(self):
        return self.envs.make(self.index)


class _RunCallback(BaseCallback):
    """Forwards SB3's steps to craftlab's RunContext: episodes, progress, checkpoints, stop."""

    def __init__(self, agent: SB3Agent, run: "RunContext"):
        super().__init__()
        self.agent, self.run = agent, run
        self._updates = 0  # on-policy: updates since learn() started
        self._logged_episode = 0  # off-policy: SB3's episode count at the last written losses

    def _on_step(self) -> bool:
        self.agent.num_timesteps = int(self.model.num_timesteps)
        self.run.record_episodes(self.agent.num_timesteps, self.locals.get("infos", []))
        self.run.on_step(self.agent.num_timesteps)
        # Stop only when asked to (Ctrl-C, an early stop): at the budget SB3 stops by itself,
        # after its update on the last rollout (stopping here would skip that update).
        return not self.run.interrupted

    def _on_rollout_start(self) -> None:
        self._write_losses()

    def _on_training_end(self) -> None:
        self._write_losses()

    def _write_losses(self) -> None:
        """Write the last update's ``train/`` values now, at the step of that update.

        SB3 itself dumps them only after the *next* rollout (or episode), so a checkpoint
        taken during that rollout would not have them on disk and a run killed then
        would lose the point; the last update of ``learn`` is never dumped at all.
        Written here, every update's point precedes the next checkpoint. The cadence
        is ``log_interval``: updates (on-policy) or finished episodes (off-policy)."""
        logger = self.model.logger
        pending = {key: value for key, value in logger.name_to_value.items() if key.startswith("train/")}
        if not pending:
            return
        if isinstance(self.model, OnPolicyAlgorithm):
            self._updates += 1
            due = self._updates % self.agent.config.log_interval == 0
        else:
            episodes = int(getattr(self.model, "_episode_num", 0))
            due = episodes - self._logged_episode >= self.agent.config.log_interval
            if due:
                self._logged_episode = episodes
        if due:
            self.agent._writer.write(pending, {}, int(self.model.num_timesteps))
        for key in pending:  # SB3's own dump must not write them again
            logger.name_to_value.pop(key, None)
            logger.name_to_count.pop(key, None)
            logger.name_to_excluded.pop(key, None)


class _TagWriter(KVWriter):
    """An SB3 logger output that maps SB3's keys onto craftlab's tags:
    ``train/<x>`` -> ``losses/<x>``; rollout/ and time/ keys are dropped
    (craftlab logs episodes and SPS itself)."""

    def __init__(self) -> None:
        self.run: RunContext | None = None

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        if self.run is None:
            return
        scalars = {}
        for key, value in key_values.items():
            if key.startswith("train/") and isinstance(value, (int, float, np.floating, np.integer)):
                scalars["losses/" + key[len("train/") :]] = float(value)
        self.run.log(step, scalars)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------- the agents


@dataclass
class SB3PPOConfig(SB3Config):
    sb3_class: ClassVar[str] = "stable_baselines3:PPO"


@dataclass
class SB3A2CConfig(SB3Config):
    sb3_class: ClassVar[str] = "stable_baselines3:A2C"


@dataclass
class SB3DQNConfig(SB3Config):
    sb3_class: ClassVar[str] = "stable_baselines3:DQN"
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete,)


@dataclass
class SB3QRDQNConfig(SB3Config):
    sb3_class: ClassVar[str] = "sb3_contrib:QRDQN"
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete,)


@dataclass
class SB3RecurrentPPOConfig(SB3Config):
    sb3_class: ClassVar[str] = "sb3_contrib:RecurrentPPO"


class SB3PPO(SB3Agent):
    name = "sb3_ppo"
    Config = SB3PPOConfig


class SB3A2C(SB3Agent):
    name = "sb3_a2c"
    Config = SB3A2CConfig


class SB3DQN(SB3Agent):
    name = "sb3_dqn"
    Config = SB3DQNConfig


class SB3QRDQN(SB3Agent):
    name = "sb3_qrdqn"
    Config = SB3QRDQNConfig


class SB3RecurrentPPO(SB3Agent):
    name = "sb3_recurrent_ppo"
    Config = SB3RecurrentPPOConfig
