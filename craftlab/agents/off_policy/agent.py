"""The off-policy training loop: :class:`OffPolicyAgent` acts in vectorised envs,
stores every transition in a replay buffer, and trains on sampled batches.
An algorithm file (``agents/dqn.py``; SAC, TD3, ...) writes its networks, how it
explores, and one gradient step.

One iteration of :meth:`OffPolicyAgent.learn` (one step of every env)::

    a_t = random                       while num_timesteps < learning_starts
        = exploration_action(s_t)      afterwards   <- the algorithm (epsilon-greedy, noise, ...)
    s_{t+1}, r_t, terminated, truncated = envs.step(a_t)
    replay_buffer.add(s_t, a_t, r_t, s_{t+1}, ...)  (the true final obs where an episode ended)
    every train_freq steps after learning_starts, gradient_steps times:
        batch = replay_buffer.sample(batch_size)     (n-step, prioritised: beta annealed to 1)
        train_step(batch)                            <- the algorithm (DQN's TD loss, ...)
        every target_update_interval gradient steps:
            theta_target <- tau theta + (1 - tau) theta_target   for each target_pairs()
    run.on_step(num_timesteps)     <- progress, checkpoints, evaluation, stop?

A subclass implements (see ``agents/dqn.py`` for a complete one):

=======================  ======================================================
``networks()``           every module to checkpoint, targets included, by name
``optimizers()``         every optimiser, by name
``target_pairs()``       ``(online, target)`` pairs that the schedule updates
``exploration_action``   actions while collecting experience (after the warm-up)
``policy_action``        actions of the learned policy (``act``; greedy if deterministic)
``train_step(batch)``    one gradient step; returns diagnostics (``losses/<key>``);
                         with prioritised replay it calls :meth:`update_priorities`
=======================  ======================================================

and may add ``progress_scalars()`` (logged as ``charts/<key>``) and
``extra_state()`` / ``load_extra_state()`` (e.g. SAC's temperature).

Checkpoints hold networks, optimisers, step counters and RNG states, and the
replay buffer only when the run asks for it (``train.save_replay_buffer``:
gigabytes for image observations). A resume without it starts with an empty
buffer, says so in the log, and refills it for ``learning_starts`` steps before
training goes on.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.network_agent import NetworkAgent, mean_diagnostic
from craftlab.agents.off_policy.config import OffPolicyConfig
from craftlab.agents.off_policy.pretrained import load_pretrained_networks
from craftlab.agents.off_policy.replay_buffer import ReplayBuffer, ReplayBufferSamples
from craftlab.agents.off_policy.target_network import update_targets
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError

__all__ = ["OffPolicyAgent", "OffPolicyConfig"]

log = logging.getLogger("craftlab")


class OffPolicyAgent(NetworkAgent):
    """Replay buffer and training loop; subclasses implement the hooks listed in the module doc."""

    config: OffPolicyConfig

    def __init__(self, config: OffPolicyConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        slots = config.buffer_size // envs.num_envs
        if slots < config.n_step + 2:
            raise ConfigError(
                f"config key 'algo.buffer_size': {config.buffer_size} leaves {slots} slots per env "
                f"for {envs.num_envs} envs; it needs at least n_step + 2 = {config.n_step + 2} "
                "per env (raise buffer_size or lower train.num_envs)"
            )
        self.np_rng = np.random.default_rng(seed)
        """the agent's own RNG: random actions, exploration, replay sampling (checkpointed)"""
        self.num_gradient_steps = 0
        self.replay_buffer: ReplayBuffer | None = None
        """created on the first ``learn`` (or when a checkpoint brings one)"""
        self.save_replay_buffer = False
        """include the replay buffer in :meth:`state_dict` (set from ``run.save_replay_buffer``)"""
        self.total_timesteps = 0
        """the budget of the current ``learn`` call: schedules (epsilon, PER beta) run over it"""
        self._refill_until = 0
        self._vec_env: gym.vector.VectorEnv | None = None
        self._obs: np.ndarray | None = None
        self._stats: dict[str, list[float | torch.Tensor]] = {}
        self._next_log = 0
        self._pretrained = False
        """``algo.init_from`` has been applied (once, when a new run starts learning)"""

    # ------------------------------------------------------------------ hooks
    # (networks, optimizers, target_pairs, policy_action, progress_scalars,
    # extra_state: NetworkAgent)

    @abstractmethod
    def exploration_action(self, obs: torch.Tensor) -> np.ndarray:
        """Actions to take while collecting experience, for observations ``[N, ...]``
        (called under ``torch.inference_mode``). Returns ``[N]`` or ``[N, act_dim]``."""

    @abstractmethod
    def train_step(self, batch: ReplayBufferSamples) -> dict[str, float | torch.Tensor]:
        """One gradient step on a sampled batch. Returns diagnostics, floats or 0-d
        tensors (better on a GPU: no host sync per step), averaged over ``log_interval``
        and logged as ``losses/<key>``. With prioritised replay, call
        :meth:`update_priorities` with the batch's TD errors."""

    # ------------------------------------------------------------- helpers

    @property
    def training_fraction(self) -> float:
        """``num_timesteps / total_timesteps`` of the current ``learn`` call, in [0, 1]
        (1 before any ``learn``): schedules are functions of it."""
        if self.total_timesteps <= 0:
            return 1.0
        return min(1.0, self.num_timesteps / self.total_timesteps)

    @property
    def per_beta(self) -> float:
        """Importance-sampling exponent: per_beta0 -> 1 linearly over the run."""
        beta0 = self.config.per_beta0
        return beta0 + (1.0 - beta0) * self.training_fraction

    def update_priorities(self, batch: ReplayBufferSamples, td_errors: torch.Tensor) -> None:
        """Prioritised replay: p_i = |delta_i| + eps for the batch (no-op otherwise)."""
        if self.config.prioritized_replay and self.replay_buffer is not None:
            self.replay_buffer.update_priorities(batch.indices, td_errors)

    def random_actions(self, n: int) -> np.ndarray:
        """``n`` uniformly random actions (the warm-up), from the agent's RNG."""
        space = self.action_space
        if isinstance(space, gym.spaces.Discrete):
            return space.start + self.np_rng.integers(0, space.n, size=n)
        if isinstance(space, gym.spaces.Box):
            return self.np_rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(space.dtype)
        raise ValueError(f"off-policy agents support Discrete and Box actions, got {space}")

    def make_replay_buffer(self) -> ReplayBuffer:
        cfg = self.config
        buffer = ReplayBuffer(
            cfg.buffer_size,
            self.envs.num_envs,
            self.observation_space,
            self.action_space,
            gamma=cfg.gamma,
            n_step=cfg.n_step,
            prioritized=cfg.prioritized_replay,
            alpha=cfg.per_alpha,
            priority_eps=cfg.per_eps,
            rng=self.np_rng,
        )
        log.info(
            "replay buffer: %d observations (%d envs x %d), %.2f GB",
            buffer.slots * buffer.num_envs,
            buffer.num_envs,
            buffer.slots,
            buffer.nbytes / 1e9,
        )
        return buffer

    # -------------------------------------------------------------- the loop

    def learn(self, total_timesteps: int, run: RunContext | None = None) -> None:
        run = run or RunContext(total_timesteps)
        cfg = self.config
        self.total_timesteps = total_timesteps
        self.save_replay_buffer = run.save_replay_buffer
        if cfg.init_from and self.num_timesteps == 0 and not self._pretrained:  # a new run: algo.init_from
            copied = load_pretrained_networks(self.networks(), cfg.init_from, self.device)
            log.info("init_from %s: %d parameter tensors copied", cfg.init_from, len(copied))
            self._pretrained = True
        if self.replay_buffer is None:
            self.replay_buffer = self.make_replay_buffer()
        if self._vec_env is None:
            self._vec_env = self.envs.make_vector()
            self._obs, _ = self._vec_env.reset(seed=self.envs.env_seeds(self._vec_env.num_envs))
            self.replay_buffer.restart_episodes()  # the buffer's running episodes (if any) end here
        envs, buffer = self._vec_env, self.replay_buffer
        n = envs.num_envs
        self._next_log = (self.num_timesteps // cfg.log_interval + 1) * cfg.log_interval

        while self.num_timesteps < total_timesteps:
            # 1. act: uniformly at random during the warm-up, then the algorithm's exploration
            obs = self._obs
            assert obs is not None
            if self.num_timesteps < cfg.learning_starts:
                actions = self.random_actions(n)
            else:
                with torch.inference_mode():
                    actions = self.exploration_action(self.obs_tensor(obs))
            next_obs, rewards, terminated, truncated, infos = envs.step(actions)
            self.num_timesteps += n
            buffer.add(obs, actions, rewards, next_obs, terminated, truncated, infos.get("final_obs"))
            if "final_info" in infos:
                run.record_episodes(self.num_timesteps, infos)
            self._obs = next_obs

            # 2. learn from replayed experience
            warm = self.num_timesteps >= max(cfg.learning_starts, self._refill_until)
            if warm and (self.num_timesteps // n) % cfg.train_freq == 0:
                self.train(cfg.gradient_steps)

            if self.num_timesteps >= self._next_log:
                self._log(run)
            if not run.on_step(self.num_timesteps):
                break

    def train(self, gradient_steps: int) -> None:
        """``gradient_steps`` x (sample a batch, :meth:`train_step`, target schedule)."""
        cfg = self.config
        assert self.replay_buffer is not None
        for _ in range(gradient_steps):
            batch = self.replay_buffer.sample(cfg.batch_size, beta=self.per_beta, device=self.device)
            stats = self.train_step(batch)
            self.num_gradient_steps += 1
            update_targets(self.target_pairs(), cfg.tau, cfg.target_update_interval, self.num_gradient_steps)
            for key, value in stats.items():  # 0-d tensors stay on the device until logged
                self._stats.setdefault(key, []).append(value.detach() if isinstance(value, torch.Tensor) else value)

    def _log(self, run: RunContext) -> None:
        scalars = {f"losses/{k}": mean_diagnostic(v) for k, v in self._stats.items() if v}
        scalars.update({f"charts/{k}": v for k, v in self.progress_scalars().items()})
        if self.config.prioritized_replay:
            scalars["charts/per_beta"] = self.per_beta
        scalars["charts/gradient_steps"] = float(self.num_gradient_steps)
        run.log(self.num_timesteps, scalars)
        self._stats.clear()
        interval = self.config.log_interval
        self._next_log = (self.num_timesteps // interval + 1) * interval

    # ------------------------------------------------------------- interface

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, counters, RNG; the replay buffer when ``save_replay_buffer``
        (its tensors share memory with the live buffer: save before training on)."""
        state = self.networks_state()
        state["num_gradient_steps"] = self.num_gradient_steps
        if self.save_replay_buffer and self.replay_buffer is not None:
            state["replay_buffer"] = self.replay_buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_networks_state(state)
        self.num_gradient_steps = int(state["num_gradient_steps"])
        if "replay_buffer" in state:
            if self.replay_buffer is None:
                self.replay_buffer = self.make_replay_buffer()
            self.replay_buffer.load_state_dict(state["replay_buffer"])
            self.replay_buffer.restart_episodes()  # the envs will not continue those episodes
            self._refill_until = 0
        else:
            self.replay_buffer = None
            self._refill_until = self.num_timesteps + max(self.config.learning_starts, self.config.batch_size)
            if self.num_timesteps > 0:
                log.warning(
                    "replay buffer: the checkpoint at step %d has none (train.save_replay_buffer is false); "
                    "it starts empty and training resumes after %d steps refill it",
                    self.num_timesteps,
                    self._refill_until - self.num_timesteps,
                )

    def close(self) -> None:
        if self._vec_env is not None:
            self._vec_env.close()
            self._vec_env = None
