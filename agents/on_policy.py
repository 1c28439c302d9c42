"""What every on-policy actor-critic shares: the policy network, the rollout
buffer, rollout collection from vectorised envs, GAE, and the training loop.
An algorithm file (``ppo.py``, ...) only writes its loss: :meth:`OnPolicyAgent.update`.

One iteration of :meth:`OnPolicyAgent.learn`::

    collect num_steps x num_envs transitions with the current policy pi_theta_old
    compute advantages A_t with GAE(gamma, lambda) and returns R_t = A_t + V(s_t)
    update(buffer)               <- the algorithm (PPO's clipped objective, A2C's ...)
    run.on_step(num_timesteps)   <- progress, checkpoints, evaluation, stop?

Terminated vs truncated (Pardo et al. 2018): at a *terminated* step the value
of what follows is 0; at a *truncated* one (time limit) the episode was cut, so
the reward is bootstrapped with gamma * V(final observation) before the
advantage chain is cut there too (as SB3 does).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from agents.base import Agent, AgentConfig, rng_state, set_rng_state
from agents.networks import NetworkConfig, build_encoder, is_image_space, layer_init
from craftlab.config import require

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.run import RunContext


@dataclass
class OnPolicyConfig(AgentConfig):
    """Settings of every on-policy actor-critic."""

    num_steps: int = 128
    """rollout length: steps per env between updates (batch = num_steps x num_envs)"""
    learning_rate: float = 2.5e-4
    """Adam step size"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    adam_eps: float = 1e-5
    """Adam epsilon"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """lambda of generalised advantage estimation (1 = Monte Carlo, 0 = TD(0))"""
    ent_coef: float = 0.01
    """weight of the entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this (0 disables)"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the observation encoder (agents.networks)"""
    shared_encoder: Literal["auto", "yes", "no"] = "auto"
    """one encoder for policy and value ('auto': shared for images, separate for vectors)"""

    def validate(self) -> None:
        require(self.num_steps >= 1, "num_steps", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")
        require(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")
        require(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", "must be in [0, 1]")


class ActorCritic(nn.Module):
    """Policy pi(a|s) and value V(s) over an encoder.

    Discrete actions: a categorical over logits. Box actions: a diagonal Gaussian
    with a state-independent learned log standard deviation.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, network: NetworkConfig,
                 shared: bool):
        super().__init__()
        self.actor_encoder = build_encoder(observation_space, network)
        self.critic_encoder = self.actor_encoder if shared else build_encoder(observation_space, network)
        features = self.actor_encoder.out_features
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            self.policy_head = layer_init(nn.Linear(features, int(action_space.n)), gain=0.01)
        elif isinstance(action_space, gym.spaces.Box):
            n = int(np.prod(action_space.shape))
            self.policy_head = layer_init(nn.Linear(features, n), gain=0.01)
            self.log_std = nn.Parameter(torch.zeros(n))
        else:
            raise ValueError(f"on-policy agents support Discrete and Box actions, got {action_space}")
        self.value_head = layer_init(nn.Linear(features, 1), gain=1.0)

    def distribution(self, features: torch.Tensor) -> torch.distributions.Distribution:
        out = self.policy_head(features)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s): ``float32[B]``."""
        return self.value_head(self.critic_encoder(obs)).squeeze(-1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        """Sample (or score) actions. Returns ``(action, log_prob, entropy, value)``, each ``[B]``
        (``action`` is ``[B, act_dim]`` for Box actions; log-prob and entropy summed over dims)."""
        features = self.actor_encoder(obs)
        dist = self.distribution(features)
        if action is None:
            action = dist.sample()
        log_prob, entropy = dist.log_prob(action), dist.entropy()
        if not self.discrete:
            log_prob, entropy = log_prob.sum(-1), entropy.sum(-1)
        value = self.value_head(features if self.critic_encoder is self.actor_encoder
                                else self.critic_encoder(obs)).squeeze(-1)
        return action, log_prob, entropy, value

    def act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        dist = self.distribution(self.actor_encoder(obs))
        if deterministic:
            return dist.probs.argmax(-1) if self.discrete else dist.mean
        return dist.sample()


class RolloutBuffer:
    """Preallocated on-device storage for one rollout: tensors ``[T, N, ...]``
    (T = num_steps, N = num_envs). Observations keep the env's dtype (uint8
    images stay bytes: 4x less memory and copying)."""

    def __init__(self, num_steps: int, num_envs: int, observation_space: gym.Space, action_space: gym.Space,
                 device: torch.device):
        T, N = num_steps, num_envs
        obs_dtype = torch.uint8 if is_image_space(observation_space) else torch.float32
        self.obs = torch.zeros((T, N, *observation_space.shape), dtype=obs_dtype, device=device)
        act_shape = () if isinstance(action_space, gym.spaces.Discrete) else tuple(action_space.shape)
        act_dtype = torch.long if isinstance(action_space, gym.spaces.Discrete) else torch.float32
        self.actions = torch.zeros((T, N, *act_shape), dtype=act_dtype, device=device)
        self.log_probs = torch.zeros((T, N), device=device)
        self.rewards = torch.zeros((T, N), device=device)
        self.dones = torch.zeros((T, N), device=device)
        """1 where the episode ended (terminated or truncated) at this step"""
        self.values = torch.zeros((T, N), device=device)
        self.advantages = torch.zeros((T, N), device=device)
        self.returns = torch.zeros((T, N), device=device)

    def compute_gae(self, last_value: torch.Tensor, gamma: float, gae_lambda: float) -> None:
        """Generalised advantage estimation (Schulman et al. 2016, eq. 16):

        delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
        A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}
        R_t     = A_t + V(s_t)          (the value target, a lambda-return)
        """
        T = self.rewards.shape[0]
        next_advantage = torch.zeros_like(last_value)
        next_value = last_value
        for t in reversed(range(T)):
            not_done = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_value * not_done - self.values[t]
            next_advantage = delta + gamma * gae_lambda * not_done * next_advantage
            self.advantages[t] = next_advantage
            next_value = self.values[t]
        self.returns = self.advantages + self.values

    def flat(self) -> dict[str, torch.Tensor]:
        """The rollout as ``[T * N, ...]`` tensors, for minibatching."""
        T, N = self.rewards.shape
        return {
            "obs": self.obs.reshape(T * N, *self.obs.shape[2:]),
            "actions": self.actions.reshape(T * N, *self.actions.shape[2:]),
            "log_probs": self.log_probs.reshape(-1),
            "values": self.values.reshape(-1),
            "advantages": self.advantages.reshape(-1),
            "returns": self.returns.reshape(-1),
        }


class OnPolicyAgent(Agent):
    """Rollout collection and the training loop; subclasses implement :meth:`update`."""

    config: OnPolicyConfig

    def __init__(self, config: OnPolicyConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        shared = {"auto": is_image_space(self.observation_space), "yes": True, "no": False}[config.shared_encoder]
        self.policy = self.build_policy(shared).to(self.device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate, eps=config.adam_eps)
        self.num_updates = 0
        self.np_rng = np.random.default_rng(seed)
        self._vec_env: gym.vector.VectorEnv | None = None
        self._next_obs: torch.Tensor | None = None

    def build_policy(self, shared: bool) -> nn.Module:
        """The network; subclasses with extra heads (RND, recurrent) override this."""
        return ActorCritic(self.observation_space, self.action_space, self.config.network, shared)

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        """One policy/value update from a full rollout (GAE already computed).
        Returns diagnostics, logged as ``losses/<key>``."""

    # -------------------------------------------------------------- the loop

    def _obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        from craftlab.run import RunContext

        run = run or RunContext(total_timesteps)
        cfg = self.config
        if self._vec_env is None:
            self._vec_env = self.envs.make_vector()
            obs, _ = self._vec_env.reset(seed=self.envs.seed)
            self._next_obs = self._obs_tensor(obs)
        envs = self._vec_env
        buffer = RolloutBuffer(cfg.num_steps, envs.num_envs, self.observation_space, self.action_space, self.device)
        batch = cfg.num_steps * envs.num_envs
        total_updates = max(1, -(-total_timesteps // batch))

        while self.num_timesteps < total_timesteps:
            if cfg.anneal_lr:  # linear decay to 0 at the end of the budget
                frac = 1.0 - min(self.num_updates, total_updates - 1) / total_updates
                for group in self.optimizer.param_groups:
                    group["lr"] = frac * cfg.learning_rate
            self.collect_rollout(envs, buffer, run)
            self.policy.train()
            stats = self.update(buffer)
            self.num_updates += 1
            stats["learning_rate"] = self.optimizer.param_groups[0]["lr"]
            run.log(self.num_timesteps, {f"losses/{k}": v for k, v in stats.items()})
            if not run.on_step(self.num_timesteps):
                break

    @torch.inference_mode()
    def collect_rollout(self, envs: gym.vector.VectorEnv, buffer: RolloutBuffer, run: "RunContext") -> None:
        """Fill ``buffer`` with ``num_steps`` steps of every env, then compute GAE."""
        cfg = self.config
        self.policy.eval()
        obs = self._next_obs
        for t in range(cfg.num_steps):
            action, log_prob, _, value = self.policy(obs)
            next_obs, reward, terminated, truncated, info = envs.step(self._env_action(action))
            self.num_timesteps += envs.num_envs
            reward_t = torch.as_tensor(reward, dtype=torch.float32, device=self.device)
            if truncated.any():  # bootstrap cut episodes: r += gamma * V(s_final)
                idx = np.flatnonzero(truncated & ~terminated)
                if len(idx):
                    final = np.stack([info["final_obs"][i] for i in idx])
                    reward_t[idx] += cfg.gamma * self.policy.value(self._obs_tensor(final))
            buffer.obs[t] = obs
            buffer.actions[t] = action
            buffer.log_probs[t] = log_prob
            buffer.values[t] = value
            buffer.rewards[t] = reward_t
            buffer.dones[t] = torch.as_tensor(terminated | truncated, dtype=torch.float32, device=self.device)
            if "final_info" in info:
                run.record_episodes(self.num_timesteps, info)
            obs = self._obs_tensor(next_obs)
        self._next_obs = obs
        buffer.compute_gae(self.policy.value(obs), cfg.gamma, cfg.gae_lambda)

    def _env_action(self, action: torch.Tensor) -> np.ndarray:
        out = action.cpu().numpy()
        if isinstance(self.action_space, gym.spaces.Box):
            out = np.clip(out, self.action_space.low, self.action_space.high)
        return out

    # ------------------------------------------------------------- interface

    @torch.inference_mode()
    def act(self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None,
            deterministic: bool = True) -> tuple[np.ndarray, Any]:
        self.policy.eval()
        action = self.policy.act(self._obs_tensor(np.asarray(obs)), deterministic)
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
