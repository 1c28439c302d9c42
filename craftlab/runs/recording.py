"""Recording a policy into a dataset (``python train.py record``): whole episodes of
a trained agent, a random policy or a scripted expert, written by
:class:`~craftlab.datasets.recorded.DatasetWriter` (compressed chunks and a manifest).

The environments are the run's own (:func:`recording_env_config`: a run folder's
``config.yaml`` or a config YAML's ``env:`` section), built by
:class:`~craftlab.envs.factory.EnvFactory` with the same wrappers as in
training, so a dataset holds exactly what the agent saw and did.

Seeds: episode ``k`` of a recording is reset with ``seed + k`` (as ``eval`` does),
whichever env plays it, and the manifest lists each stored episode's seed
(``episode_seeds``), so replaying the recorded actions from that seed gives back
the recorded observations and rewards exactly. The random policy's actions come
from the action space seeded with ``seed``; a stochastic agent's from torch's
generator seeded with ``seed``.

``num_envs`` envs play side by side in this process: the policy acts on all of
them in one batch, and an env whose episode ended starts the next episode
still to play, or waits (its actions ignored) once all are handed out. Episodes
are stored in the order they end (``episode_seeds`` says which was which).

Nothing half-made is left behind: an exception or Ctrl-C deletes the dataset
folder (DatasetWriter) and the parent folders this recording created.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import gymnasium as gym
import numpy as np
import torch

from craftlab.core.config import EnvConfig, build_dataclass, fix_yaml_floats, load_yaml, to_dict
from craftlab.core.errors import UserError
from craftlab.core.run_dir import CONFIG_FILE, RunDir
from craftlab.datasets.batch import Obs
from craftlab.datasets.recorded import DatasetManifest, DatasetWriter
from craftlab.envs.factory import EnvFactory
from craftlab.envs.registry import check_env_config
from craftlab.envs.scripted import SCRIPTED_POLICIES, SCRIPTED_PREFIX, ScriptedPolicy, scripted_policy
from craftlab.runs.run_config import load_run_config

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent

RANDOM_POLICY = "random"


# ---------------------------------------------------------------- what acts


class RecordingPolicy(ABC):
    """What acts during a recording: a batch of observations -> a batch of actions."""

    description: str
    """what acted, in words, for the manifest (``random``, ``scripted:NAME``, a run and step)"""

    @abstractmethod
    def act(self, obs: Obs, episode_start: np.ndarray) -> np.ndarray:
        """Actions ``[B, *action_shape]`` for observations ``[B, *obs_shape]``;
        ``episode_start`` ``bool[B]`` marks an episode's first observation."""

    def observe(self, infos: list[dict[str, Any]]) -> None:  # noqa: B027 (optional hook)
        """After each step: every env's latest ``info`` (a stateful agent's memory)."""


class RandomPolicy(RecordingPolicy):
    """Uniform actions from the action space, seeded."""

    def __init__(self, action_space: gym.Space, seed: int):
        self.action_space = action_space
        self.action_space.seed(seed)
        self.description = RANDOM_POLICY

    def act(self, obs: Obs, episode_start: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(self.action_space.sample()) for _ in range(len(episode_start))])


class ScriptedRecordingPolicy(RecordingPolicy):
    """A hand-written expert (:mod:`craftlab.envs.scripted`)."""

    def __init__(self, policy: ScriptedPolicy):
        self.policy = policy
        self.description = SCRIPTED_PREFIX + policy.name

    def act(self, obs: Obs, episode_start: np.ndarray) -> np.ndarray:
        return np.asarray(self.policy(obs))


class AgentPolicy(RecordingPolicy):
    """A trained agent's ``act``, greedy or sampled, with its recurrent state (if any)."""

    def __init__(self, agent: "Agent", description: str, deterministic: bool = True):
        self.agent = agent
        self.deterministic = deterministic
        self.description = description
        self.state: Any = None

    def act(self, obs: Obs, episode_start: np.ndarray) -> np.ndarray:
        actions, self.state = self.agent.act(
            obs, state=self.state, episode_start=episode_start, deterministic=self.deterministic
        )
        return np.asarray(actions)

    def observe(self, infos: list[dict[str, Any]]) -> None:
        if self.state is not None:
            self.state = self.agent.observe(self.state, stack_infos(infos))


class EpsilonNoisyPolicy(RecordingPolicy):
    """``policy``'s action, replaced by a uniform random one with probability ``epsilon``
    per env step (a mediocre behaviour policy for offline RL datasets: ``--epsilon``)."""

    def __init__(self, policy: RecordingPolicy, action_space: gym.Space, epsilon: float, seed: int):
        self.policy, self.epsilon = policy, epsilon
        self.random = RandomPolicy(action_space, seed + 1)
        self.rng = np.random.default_rng(seed)
        self.description = f"{policy.description}, epsilon {epsilon:g} random"

    def act(self, obs: Obs, episode_start: np.ndarray) -> np.ndarray:
        actions = np.array(self.policy.act(obs, episode_start))
        noisy = self.rng.random(len(episode_start)) < self.epsilon
        if noisy.any():
            actions[noisy] = self.random.act(obs, episode_start)[noisy]
        return actions

    def observe(self, infos: list[dict[str, Any]]) -> None:
        self.policy.observe(infos)


def named_policy(spec: str, env_config: EnvConfig, seed: int) -> RecordingPolicy:
    """``--policy``: ``random`` (the env's action space, seeded with ``seed``) or
    ``scripted:NAME`` (checked against ``env_config.id``)."""
    if spec == RANDOM_POLICY:
        return RandomPolicy(EnvFactory(env_config).action_space, seed)
    if spec.startswith(SCRIPTED_PREFIX):
        return ScriptedRecordingPolicy(scripted_policy(spec, env_config.id))
    scripted = ", ".join(SCRIPTED_PREFIX + name for name in sorted(SCRIPTED_POLICIES))
    raise UserError(
        f"unknown --policy '{spec}'; use '{RANDOM_POLICY}' or one of: {scripted} "
        "(or leave --policy out to record a run folder's agent)"
    )


def stack_infos(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Single envs' infos -> one vector-env info: each key all envs have, stacked
    (nested dicts key by key), as ``Agent.observe`` reads them."""
    out: dict[str, Any] = {}
    for key in set.intersection(*(set(info) for info in infos)) if infos else set():
        values = [info[key] for info in infos]
        if all(isinstance(v, dict) for v in values):
            out[key] = stack_infos(values)
        else:
            try:
                out[key] = np.asarray(values)
            except ValueError:  # ragged values: not something an agent reads per env
                continue
    return out


# ---------------------------------------------------------------- where it acts


def recording_env_config(source: str | Path) -> EnvConfig:
    """The env to record in: a run folder's (``config.yaml``) or a config YAML's ``env:`` section."""
    path = Path(source)
    if RunDir(path).is_run():
        return load_run_config(path / CONFIG_FILE).env
    if path.is_dir():
        raise UserError(f"'{path}' is not a run folder (it has no {CONFIG_FILE}); pass runs/<name> or a config YAML")
    if not path.exists():
        raise UserError(f"'{path}' does not exist; pass a run folder (runs/<name>) or a config YAML")
    data = fix_yaml_floats(load_yaml(path))
    env = build_dataclass(EnvConfig, data.get("env") or {}, prefix="env.")
    check_env_config(env)
    return env


# ---------------------------------------------------------------- recording


@dataclass
class _EpisodeInProgress:
    """One env's episode so far (``T + 1`` observations after ``T`` steps)."""

    seed: int
    observations: list[Obs]
    actions: list[np.ndarray]
    rewards: list[float]
    terminations: list[bool]
    truncations: list[bool]


def record(
    env_config: EnvConfig,
    policy: RecordingPolicy,
    out: str | Path,
    episodes: int,
    seed: int = 0,
    num_envs: int = 1,
    chunk_transitions: int = 10_000,
    on_episode: Callable[[int, float, int], None] | None = None,
) -> DatasetManifest:
    """Play ``episodes`` whole episodes of ``policy`` and write them to the new folder ``out``.

    Episode ``k`` is reset with ``seed + k`` (see the module doc). ``on_episode(done,
    return, length)`` is called as each episode is stored. Returns the manifest.
    """
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise UserError(f"--out '{out}' already exists; choose a new folder (a dataset is never overwritten)")
    if episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {episodes}")
    if num_envs < 1:
        raise UserError(f"--num-envs must be >= 1, got {num_envs}")
    if chunk_transitions < 1:
        raise UserError(f"--chunk-transitions must be >= 1, got {chunk_transitions}")
    torch.manual_seed(seed)  # a stochastic agent's samples
    factory = EnvFactory(env_config, num_envs=min(num_envs, episodes), seed=seed)
    envs: list[gym.Env] = []
    created = [p for p in [out, *out.parents] if not p.exists()]  # removed again if the recording fails
    try:
        envs.extend(factory.make(i) for i in range(factory.num_envs))
        with DatasetWriter(
            out,
            to_dict(env_config),
            envs[0].observation_space,
            envs[0].action_space,
            policy.description,
            chunk_transitions,
        ) as writer:
            _play(envs, policy, writer, episodes, seed, on_episode)
            return writer.close()
    except BaseException:
        for folder in created:  # the dataset folder itself is gone already (DatasetWriter)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        for env in envs:
            env.close()


def _play(
    envs: list[gym.Env],
    policy: RecordingPolicy,
    writer: DatasetWriter,
    episodes: int,
    seed: int,
    on_episode: Callable[[int, float, int], None] | None,
) -> None:
    """The rollout: every env steps its episode; a finished one is stored and the env
    starts the next episode to play (episode k: ``reset(seed=seed + k)``)."""
    action_space = envs[0].action_space
    n = len(envs)
    playing: list[_EpisodeInProgress | None] = [None] * n
    latest_obs: list[Obs] = [None] * n
    latest_info: list[dict[str, Any]] = [{} for _ in range(n)]
    episode_start = np.zeros(n, dtype=bool)
    started = stored = 0

    def start(i: int) -> None:
        nonlocal started
        obs, info = envs[i].reset(seed=seed + started)
        playing[i] = _EpisodeInProgress(seed + started, [_copy(obs)], [], [], [], [])
        latest_obs[i], latest_info[i] = obs, dict(info)
        episode_start[i] = True
        started += 1

    for i in range(n):
        start(i)
    while stored < episodes:
        actions = policy.act(_stack(latest_obs), episode_start.copy())
        episode_start[:] = False
        for i, episode in enumerate(playing):
            if episode is None:  # waiting: every episode is handed out
                continue
            action = _env_action(actions[i], action_space)
            obs, reward, terminated, truncated, info = envs[i].step(action)
            episode.observations.append(_copy(obs))
            episode.actions.append(np.asarray(action))
            episode.rewards.append(float(reward))
            episode.terminations.append(bool(terminated))
            episode.truncations.append(bool(truncated))
            latest_obs[i], latest_info[i] = obs, dict(info)
            if not (terminated or truncated):
                continue
            writer.add_episode(
                _stack(episode.observations),
                np.stack(episode.actions),
                np.asarray(episode.rewards, np.float32),
                np.asarray(episode.terminations),
                np.asarray(episode.truncations),
                seed=episode.seed,
            )
            stored += 1
            if on_episode is not None:
                on_episode(stored, math.fsum(episode.rewards), len(episode.rewards))
            playing[i] = None
            if started < episodes:
                start(i)
        policy.observe(latest_info)


def _env_action(action: np.ndarray, space: gym.Space) -> Any:
    """One env's action from the batch, in the action space's dtype (what is stepped is what is stored)."""
    value = np.asarray(action, dtype=space.dtype) if space.dtype is not None else np.asarray(action)
    return value.item() if isinstance(space, gym.spaces.Discrete) else value


def _copy(obs: Obs) -> Obs:
    """An observation of its own (a wrapper may reuse its buffer on the next step)."""
    if isinstance(obs, dict):
        return {k: np.array(v, copy=True) for k, v in obs.items()}
    return np.array(obs, copy=True)


def _stack(items: list[Obs]) -> Obs:
    if isinstance(items[0], dict):
        return {k: np.stack([np.asarray(it[k]) for it in items]) for k in items[0]}
    return np.stack([np.asarray(it) for it in items])
