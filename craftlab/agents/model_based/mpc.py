"""Model predictive control with a learned dynamics model (CS285 lecture 11, hw4
"model-based RL"; Nagabandi et al. 2018, Algorithm 1; Chua et al. 2018's CEM), from
scratch::

    D = {}
    act uniformly at random for random_steps env steps, adding (s, a, r, s') to D
    every train_interval env steps after that (and once right at its end):
        fit the ensemble f_1..f_E to D                         (dynamics.py)
    every env step once the model exists:
        plan a_{t:t+H} = argmax J(a_{t:t+H}) under the model   (planning.py: random
                          shooting or CEM, returns averaged over the E members)
        execute a_t only, add (s_t, a_t, r_t, s_{t+1}) to D, and replan at t+1

With ``cem_warm_start`` the next step's CEM starts from this plan shifted by one
step (its last action 0); a new episode starts cold. The same holds when
playing (``act``): the agent's recurrent ``state`` is the shifted plan.

Cost per action: ``sequences_per_action x planning_horizon x ensemble_size``
one-step model evaluations (``MPCConfig.model_evaluations_per_action``, logged as
``charts/model_evaluations_per_action``): random shooting with
``num_sequences = N K`` and CEM with ``cem_iterations = K`` of ``num_sequences = N``
cost the same.

Box (continuous) actions and vector observations only. The model sees no episode
ends (Pendulum has none); the data lives in the off-policy replay buffer
(``agents/off_policy/``), in checkpoints when ``train.save_replay_buffer`` is true.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.base import Agent, AgentConfig, rng_state, set_rng_state
from craftlab.agents.model_based.dynamics import DynamicsConfig, DynamicsEnsemble, replay_transitions
from craftlab.agents.model_based.planning import (
    cross_entropy_method,
    model_evaluations_per_action,
    predicted_returns,
    random_shooting,
)
from craftlab.agents.off_policy import ReplayBuffer
from craftlab.agents.run_context import RunContext
from craftlab.agents.sac import BoxActions
from craftlab.core.config import ConfigError, require

log = logging.getLogger("craftlab")


@dataclass
class MPCConfig(AgentConfig):
    """MPC's settings (defaults: CS285 hw4's, with PETS' CEM; configs/levine/mpc_*.yaml
    set them per task)."""

    planner: Literal["random_shooting", "cem"] = "cem"
    """'random_shooting' (best of num_sequences random sequences) or 'cem' (cross-entropy
    method: cem_iterations refits of a Gaussian to the cem_elites best of num_sequences)"""
    planning_horizon: int = 10
    """H: actions per candidate sequence (steps the model predicts ahead)"""
    num_sequences: int = 1000
    """N: candidate sequences scored per planner iteration (random shooting has one iteration)"""
    cem_iterations: int = 4
    """K: CEM's iterations (the sequences scored per action are N K)"""
    cem_elites: int = 50
    """M: best sequences each CEM iteration refits to (elite fraction M / N)"""
    cem_alpha: float = 1.0
    """CEM's step: mu <- alpha mean(elites) + (1 - alpha) mu, same for sigma (1: refit outright, as hw4)"""
    cem_init_std: float = 0.5
    """CEM's initial sigma in [-1, 1] action units (PETS: (high - low) / 4 = 0.5)"""
    cem_warm_start: bool = True
    """start each step's CEM from the previous plan shifted by one step (PETS); false: from
    scratch (hw4), the first iteration uniformly random"""
    random_steps: int = 1000
    """env steps of uniformly random actions before the first model fit and the first plan"""
    train_interval: int = 1000
    """refit the model every this many env steps after the first fit"""
    buffer_size: int = 1_000_000
    """data kept for the model, in transitions (oldest dropped first)"""
    model: DynamicsConfig = field(default_factory=DynamicsConfig)
    """the ensemble of dynamics models (agents/model_based/dynamics.py)"""

    @property
    def sequences_per_action(self) -> int:
        """Candidate sequences scored per action: N (random shooting) or N K (CEM)."""
        return self.num_sequences * (self.cem_iterations if self.planner == "cem" else 1)

    @property
    def model_evaluations_per_action(self) -> int:
        """One-step predictions of one ensemble member per action: sequences x H x E."""
        return model_evaluations_per_action(self.sequences_per_action, self.planning_horizon, self.model.ensemble_size)

    def validate(self) -> None:
        require(self.planning_horizon >= 1, "planning_horizon", "must be >= 1")
        require(self.num_sequences >= 1, "num_sequences", "must be >= 1")
        require(self.cem_iterations >= 1, "cem_iterations", "must be >= 1")
        require(
            self.planner != "cem" or 2 <= self.cem_elites <= self.num_sequences,
            "cem_elites",
            f"must be between 2 and num_sequences ({self.num_sequences}): CEM refits a mean and a std to them",
        )
        require(0.0 < self.cem_alpha <= 1.0, "cem_alpha", "must be in (0, 1]")
        require(self.cem_init_std > 0, "cem_init_std", "must be > 0")
        require(self.random_steps >= 1, "random_steps", "must be >= 1 (the first model needs data)")
        require(self.train_interval >= 1, "train_interval", "must be >= 1")
        require(self.buffer_size > self.random_steps, "buffer_size", "must be above random_steps")


class MPC(Agent):
    """MPC on a learned dynamics ensemble, replanning every step (random shooting or CEM)."""

    name = "mpc"
    Config = MPCConfig
    config: MPCConfig

    def __init__(self, config: MPCConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        if not isinstance(self.action_space, gym.spaces.Box):
            raise ConfigError(
                f"config key 'env.id': mpc plans over Box (continuous) actions, this env has {self.action_space}; "
                "use a continuous-action env (Pendulum-v1) or a discrete-action agent (dqn, sac_discrete)"
            )
        obs_space = self.observation_space
        if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
            raise ConfigError(
                f"config key 'env.id': mpc's model needs vector (1-D Box) observations, this env has {obs_space}; "
                "use an env with vector observations (Pendulum-v1)"
            )
        self.actions = BoxActions(self.action_space, self.device)
        self.model = DynamicsEnsemble(int(obs_space.shape[0]), self.actions.dim, config.model).to(self.device)
        self.model_optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.model.learning_rate, weight_decay=config.model.weight_decay
        )
        self.np_rng = np.random.default_rng(seed)
        """random actions, bootstraps and minibatches (checkpointed)"""
        self.generator = torch.Generator(self.device).manual_seed(seed)
        """the planners' samples while training (checkpointed)"""
        self.act_generator = torch.Generator(self.device).manual_seed(seed + 1)
        """the planners' samples in :meth:`act`: playing does not change a training run"""
        self.num_model_fits = 0
        self.next_fit = config.random_steps
        """the env step at which the model is refit next"""
        self.buffer: ReplayBuffer | None = None
        self.save_data = False
        """include the data in :meth:`state_dict` (``run.save_replay_buffer``)"""
        self._vec_env: gym.vector.VectorEnv | None = None
        self._obs: np.ndarray | None = None
        self._plans: torch.Tensor | None = None
        """the training envs' shifted plans ``[num_envs, H, act_dim]`` (CEM warm starts)"""
        self._warm = np.zeros(envs.num_envs, dtype=bool)
        """which training envs have a plan to warm-start from (false after an episode end)"""

    # ------------------------------------------------------------------ planning

    def to_env(self, unit: torch.Tensor) -> torch.Tensor:
        """Unit actions ``[..., act_dim]`` in [-1, 1] -> the env's units (tensor)."""
        a = self.actions
        return a.low + (unit.clamp(-1.0, 1.0) + 1.0) * 0.5 * (a.high - a.low)

    @torch.no_grad()
    def plan(
        self, obs: torch.Tensor, generator: torch.Generator, warm_start: torch.Tensor | None, warm: torch.Tensor | None
    ) -> torch.Tensor:
        """The planner's sequence for each of ``obs[B, obs_dim]``: unit actions ``[B, H, act_dim]``."""
        cfg = self.config
        obs = obs.float().reshape(len(obs), -1)

        def evaluate(candidates: torch.Tensor) -> torch.Tensor:
            return predicted_returns(self.model, obs, candidates, self.to_env)

        B, H, A = len(obs), cfg.planning_horizon, self.actions.dim
        if cfg.planner == "random_shooting":
            return random_shooting(evaluate, B, H, A, cfg.num_sequences, generator)
        if not cfg.cem_warm_start:
            warm_start = warm = None
        return cross_entropy_method(
            evaluate,
            B,
            H,
            A,
            cfg.num_sequences,
            cfg.cem_iterations,
            cfg.cem_elites,
            cfg.cem_alpha,
            cfg.cem_init_std,
            generator,
            warm_start,
            warm,
        )

    @staticmethod
    def shift(plans: torch.Tensor) -> torch.Tensor:
        """The next step's warm start: ``a_{t+1:t+H}`` and a 0 action at the end."""
        return torch.cat([plans[:, 1:], torch.zeros_like(plans[:, :1])], dim=1)

    # ------------------------------------------------------------------ the loop

    def make_buffer(self) -> ReplayBuffer:
        return ReplayBuffer(
            self.config.buffer_size, self.envs.num_envs, self.observation_space, self.action_space, rng=self.np_rng
        )

    def fit_model(self, run: RunContext) -> None:
        """Refit the ensemble to every stored transition (``model.train_steps`` steps)."""
        assert self.buffer is not None
        cfg = self.config.model
        data = replay_transitions(self.buffer, self.device)
        stats = self.model.fit(data, self.model_optimizer, cfg.train_steps, cfg.batch_size, self.np_rng)
        self.num_model_fits += 1
        self.next_fit = self.num_timesteps + self.config.train_interval
        run.log(
            self.num_timesteps,
            {
                "losses/model_loss": stats["model_loss"],
                "charts/model_fits": float(self.num_model_fits),
                "charts/model_data": float(len(data.rewards)),
                "charts/model_evaluations_per_action": float(self.config.model_evaluations_per_action),
            },
        )

    def learn(self, total_timesteps: int, run: RunContext | None = None) -> None:
        run = run or RunContext(total_timesteps)
        self.save_data = run.save_replay_buffer
        if self.buffer is None:
            self.buffer = self.make_buffer()
        if self._vec_env is None:
            self._vec_env = self.envs.make_vector()
            self._obs, _ = self._vec_env.reset(seed=self.envs.env_seeds(self._vec_env.num_envs))
            self.buffer.restart_episodes()  # the buffer's running episodes (if any) end here
            self._warm[:] = False
        envs, buffer = self._vec_env, self.buffer
        n = envs.num_envs

        while self.num_timesteps < total_timesteps:
            # 1. act: uniformly at random until the first model exists, then plan with it
            obs = self._obs
            assert obs is not None
            if self.num_model_fits == 0:
                unit = torch.as_tensor(self.np_rng.uniform(-1.0, 1.0, size=(n, self.actions.dim)), dtype=torch.float32)
                actions = self.actions.to_env(unit.to(self.device))
            else:
                warm = torch.as_tensor(self._warm, device=self.device)
                plans = self.plan(torch.as_tensor(obs, device=self.device), self.generator, self._plans, warm)
                actions = self.actions.to_env(plans[:, 0])  # execute the first action only
                self._plans = self.shift(plans)
            next_obs, rewards, terminated, truncated, infos = envs.step(actions)
            self.num_timesteps += n
            buffer.add(obs, actions, rewards, next_obs, terminated, truncated, infos.get("final_obs"))
            self._warm = ~(np.asarray(terminated) | np.asarray(truncated))  # a new episode plans from scratch
            if "final_info" in infos:
                run.record_episodes(self.num_timesteps, infos)
            self._obs = next_obs

            # 2. refit the model to all data: after the random steps, then every train_interval steps
            if self.num_timesteps >= self.next_fit:
                self.fit_model(run)
            if not run.on_step(self.num_timesteps):
                break

    # ------------------------------------------------------------------ interface

    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        """Plan for each observation ``obs[B, obs_dim]`` and return the first actions. ``state``
        is the shifted plans of the previous call (CEM's warm start), reset where
        ``episode_start``. Planning is a random search whatever ``deterministic`` says; it draws
        from its own generator (:attr:`act_generator`). Before the first fit: random actions."""
        obs_t = torch.as_tensor(np.asarray(obs), device=self.device)
        B = len(obs_t)
        if self.num_model_fits == 0:
            unit = 2.0 * torch.rand(B, self.actions.dim, generator=self.act_generator, device=self.device) - 1.0
            return self.actions.to_env(unit), None
        warm = torch.ones(B, dtype=torch.bool, device=self.device)
        if episode_start is not None:
            warm &= ~torch.as_tensor(np.asarray(episode_start, dtype=bool), device=self.device)
        if state is None:
            warm[:] = False
        plans = self.plan(obs_t, self.act_generator, state, warm)
        return self.actions.to_env(plans[:, 0]), self.shift(plans)

    def state_dict(self) -> dict[str, Any]:
        """Model, optimiser, counters, RNGs; the data when ``save_data`` (shares memory with
        the live buffer: save before training on)."""
        state: dict[str, Any] = {
            "model": self.model.state_dict(),
            "model_optimizer": self.model_optimizer.state_dict(),
            "num_timesteps": self.num_timesteps,
            "num_model_fits": self.num_model_fits,
            "next_fit": self.next_fit,
            "rng": rng_state(self.np_rng),
            "generator": self.generator.get_state(),
            "act_generator": self.act_generator.get_state(),
        }
        if self.save_data and self.buffer is not None:
            state["data"] = self.buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.model_optimizer.load_state_dict(state["model_optimizer"])
        self.num_timesteps = int(state["num_timesteps"])
        self.num_model_fits = int(state["num_model_fits"])
        self.next_fit = int(state["next_fit"])
        set_rng_state(state["rng"], self.np_rng)
        self.generator.set_state(state["generator"].cpu())
        self.act_generator.set_state(state["act_generator"].cpu())
        if "data" in state:
            if self.buffer is None:
                self.buffer = self.make_buffer()
            self.buffer.load_state_dict(state["data"])
            self.buffer.restart_episodes()  # the envs will not continue those episodes
        else:
            self.buffer = None
            if self.num_timesteps > 0:
                log.warning(
                    "mpc: the checkpoint at step %d has no data (train.save_replay_buffer is false); "
                    "the model is kept, and its next fit uses only the data collected from now on",
                    self.num_timesteps,
                )

    def close(self) -> None:
        if self._vec_env is not None:
            self._vec_env.close()
            self._vec_env = None
