"""The on-policy training loop: :class:`OnPolicyAgent` collects rollouts from
vectorised envs and hands them to its algorithm's :meth:`OnPolicyAgent.update`.

One iteration of :meth:`OnPolicyAgent.learn`::

    collect num_steps x num_envs transitions with the current policy pi_theta_old
    compute_advantages: A_t with GAE(gamma, lambda) and returns R_t = A_t + V(s_t)
    update(buffer)               <- the algorithm (PPO's clipped objective, A2C's ...)
    run.on_step(num_timesteps)   <- progress, checkpoints, evaluation, stop?

Terminated vs truncated (Pardo et al. 2018): at a *terminated* step the value
of what follows is 0; at a *truncated* one (time limit) the episode was cut, so
the reward is bootstrapped with gamma * V(final observation) before the
advantage chain is cut there too (as SB3 does).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.base import Agent, rng_state, set_rng_state
from craftlab.agents.networks import is_image_space
from craftlab.agents.on_policy.buffers import RolloutBuffer, RolloutBufferSamples
from craftlab.agents.on_policy.config import OnPolicyConfig
from craftlab.agents.on_policy.policies import ActorCritic, LSTMState
from craftlab.agents.on_policy.pretrained import load_pretrained
from craftlab.agents.run_context import RunContext


class OnPolicyAgent(Agent):
    """Rollout collection and the training loop; subclasses implement :meth:`update`."""

    config: OnPolicyConfig

    def __init__(self, config: OnPolicyConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        shared = {"auto": is_image_space(self.observation_space), "yes": True, "no": False}[config.shared_encoder]
        self.policy = self.build_policy(shared).to(self.device)
        if config.init_from:
            load_pretrained(self.policy, config.init_from, self.device)
        self.optimizer = self.build_optimizer()
        self.num_updates = 0
        self.np_rng = np.random.default_rng(seed)
        self._vec_env: gym.vector.VectorEnv | None = None
        self._next_obs: torch.Tensor | None = None
        self._state: LSTMState | None = None
        self._episode_start: torch.Tensor | None = None

    def build_policy(self, shared: bool) -> ActorCritic:
        """The network; subclasses with extra heads (RND) override this."""
        beta = self.config.norm_value_beta if self.config.norm_value else 0.0
        return ActorCritic(
            self.observation_space,
            self.action_space,
            self.config.network,
            shared,
            beta,
            self.config.norm_value_std_floor,
        )

    def build_optimizer(self) -> torch.optim.Optimizer:
        """Adam over all of the policy's parameters (A2C may pick RMSprop)."""
        return torch.optim.Adam(self.policy.parameters(), lr=self.config.learning_rate, eps=self.config.adam_eps)

    # ------------------------------------------------------------------ hooks

    @property
    def bootstrap_truncated(self) -> bool:
        """Add gamma * V(final obs) to the reward of time-limit cuts (needs a learned V)."""
        return True

    def make_rollout_buffer(self, num_envs: int) -> RolloutBuffer:
        """The rollout's storage (algorithms with per-step tensors of their own add them to ``extra``)."""
        return RolloutBuffer(self.config.num_steps, num_envs, self.observation_space, self.action_space, self.device)

    def after_env_step(
        self,
        buffer: RolloutBuffer,
        t: int,
        obs: torch.Tensor,
        next_obs: torch.Tensor,
        next_state: Any,
        info: dict[str, Any],
        done: np.ndarray,
    ) -> Any:
        """Called after step ``t`` of a rollout (``obs`` -> ``next_obs``; ``done[i]``: env i's
        episode ended and ``next_obs[i]`` is a new episode's first observation). Returns the
        policy state for the next step; algorithms with a memory of their own update it here
        (Achievement Distillation). Default: ``next_state`` unchanged."""
        return next_state

    def policy_state(self, batch: RolloutBufferSamples) -> tuple[Any, torch.Tensor | None]:
        """``(state, episode_starts)`` to score a minibatch with (LSTM: the sequences' initial
        state; Achievement Distillation: each sample's stored memory)."""
        return batch.lstm_states, batch.episode_starts

    @abstractmethod
    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        """One policy/value update from a full rollout (advantages already computed).
        Returns diagnostics, logged as ``losses/<key>``."""

    def compute_advantages(
        self, buffer: RolloutBuffer, last_obs: torch.Tensor, last_state: LSTMState | None, last_start: torch.Tensor
    ) -> None:
        """Fill ``buffer.advantages`` and ``buffer.returns`` after a rollout (default: GAE,
        bootstrapped with V(s_T) of the observation after the rollout)."""
        last_value = self.policy.value(last_obs, last_state, last_start)
        buffer.compute_gae(last_value, self.config.gamma, self.config.gae_lambda)

    # ------------------------------------------------------- value-loss helpers

    def observe_returns(self, returns: torch.Tensor) -> None:
        """Fold a minibatch's value targets into norm_value's averages (``norm_value_update:
        minibatch``, the recipe's order: update, then normalise this minibatch's targets).
        Call once per gradient step, before the value loss."""
        if self.policy.value_normalizer is not None and self.config.norm_value_update == "minibatch":
            self.policy.value_normalizer.update(returns)

    @property
    def value_loss_scale(self) -> float:
        """Factor on the mean squared value error: 1/2 (``value_loss: half_squared``) or 1 (``mse``)."""
        return 0.5 if self.config.value_loss == "half_squared" else 1.0

    # -------------------------------------------------------------- the loop

    def _obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def learn(self, total_timesteps: int, run: RunContext | None = None) -> None:
        run = run or RunContext(total_timesteps)
        cfg = self.config
        if self._vec_env is None:
            self._vec_env = self.envs.make_vector()
            obs, _ = self._vec_env.reset(seed=self.envs.env_seeds(self._vec_env.num_envs))
            self._next_obs = self._obs_tensor(obs)
            self._state = self.policy.initial_state(self._vec_env.num_envs)
            self._episode_start = torch.ones(self._vec_env.num_envs, device=self.device)
        envs = self._vec_env
        buffer = self.make_rollout_buffer(envs.num_envs)
        batch = cfg.num_steps * envs.num_envs
        total_updates = max(1, -(-total_timesteps // batch))

        while self.num_timesteps < total_timesteps:
            if cfg.anneal_lr:  # linear decay to 0 at the end of the budget
                frac = 1.0 - min(self.num_updates, total_updates - 1) / total_updates
                for group in self.optimizer.param_groups:
                    group["lr"] = frac * cfg.learning_rate
            self.collect_rollout(envs, buffer, run)
            if self.policy.value_normalizer is not None and cfg.norm_value_update == "rollout":
                self.policy.value_normalizer.update(buffer.returns)  # mu, sigma <- EMA of this rollout's returns
            self.policy.train()
            stats = self.update(buffer)
            self.num_updates += 1
            stats["learning_rate"] = self.optimizer.param_groups[0]["lr"]
            run.log(self.num_timesteps, {f"losses/{k}": v for k, v in stats.items()})
            if not run.on_step(self.num_timesteps):
                break

    @torch.inference_mode()
    def collect_rollout(self, envs: gym.vector.VectorEnv, buffer: RolloutBuffer, run: RunContext) -> None:
        """Fill ``buffer`` with ``num_steps`` steps of every env, then :meth:`compute_advantages`."""
        cfg = self.config
        self.policy.eval()
        obs, state, start = self._next_obs, self._state, self._episode_start
        buffer.initial_state = None if not self.policy.recurrent else (state[0].clone(), state[1].clone())
        bootstrap = self.bootstrap_truncated
        for t in range(cfg.num_steps):
            action, log_prob, value, next_state = self.policy.step(obs, state, start)
            next_obs, reward, terminated, truncated, info = envs.step(self._env_action(action))
            self.num_timesteps += envs.num_envs
            reward_t = torch.as_tensor(reward, dtype=torch.float32, device=self.device)
            if bootstrap and truncated.any():  # bootstrap cut episodes: r += gamma * V(s_final)
                idx = np.flatnonzero(truncated & ~terminated)
                if len(idx):
                    final = self._obs_tensor(np.stack([info["final_obs"][i] for i in idx]))
                    sub = None if next_state is None else self.policy.index_state(next_state, idx)
                    no_start = torch.zeros(len(idx), device=self.device)
                    reward_t[idx] += cfg.gamma * self.policy.value(final, sub, no_start)
            done = torch.as_tensor(terminated | truncated, dtype=torch.float32, device=self.device)
            buffer.obs[t] = obs
            buffer.actions[t] = action
            buffer.log_probs[t] = log_prob
            buffer.values[t] = value
            buffer.rewards[t] = reward_t
            buffer.dones[t] = done
            buffer.episode_starts[t] = start
            if "final_info" in info:
                run.record_episodes(self.num_timesteps, info)
            next_obs_t = self._obs_tensor(next_obs)
            next_state = self.after_env_step(buffer, t, obs, next_obs_t, next_state, info, terminated | truncated)
            obs, state, start = next_obs_t, next_state, done
        self._next_obs, self._state, self._episode_start = obs, state, start
        self.compute_advantages(buffer, obs, state, start)

    def _env_action(self, action: torch.Tensor) -> np.ndarray:
        out = action.cpu().numpy()
        if isinstance(self.action_space, gym.spaces.Box):
            out = np.clip(out, self.action_space.low, self.action_space.high)
        return out

    # ------------------------------------------------------------- interface

    @torch.inference_mode()
    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        self.policy.eval()
        obs_t = self._obs_tensor(np.asarray(obs))
        if self.policy.stateful:
            if state is None:
                state = self.policy.initial_state(obs_t.shape[0])
            start = (
                None
                if episode_start is None
                else torch.as_tensor(np.asarray(episode_start), dtype=torch.float32, device=self.device)
            )
            action, state = self.policy.act(obs_t, deterministic, state, start)
            return self._env_action(action), state
        action, _ = self.policy.act(obs_t, deterministic)
        return self._env_action(action), None

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "num_timesteps": self.num_timesteps,
            "num_updates": self.num_updates,
            "rng": rng_state(self.np_rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_timesteps = int(state["num_timesteps"])
        self.num_updates = int(state["num_updates"])
        set_rng_state(state["rng"], self.np_rng)

    def close(self) -> None:
        if self._vec_env is not None:
            self._vec_env.close()
            self._vec_env = None
