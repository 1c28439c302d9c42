"""PPO with random network distillation (Burda, Edwards, Storkey, Klimov 2018,
"Exploration by Random Network Distillation"), from scratch. CS285 homework 5.

An exploration bonus for novel observations: a fixed, randomly initialised
*target* network f and a *predictor* f_hat trained to imitate it on the states
the agent visits. Where the agent has often been, f_hat predicts f well; new
states give a large error::

    x        = clip((s - mu_s) / sigma_s, -5, 5)        observation normalisation (running)
    r^i_t    = || f_hat(x_{t+1}) - f(x_{t+1}) ||^2       intrinsic reward (mean over outputs)
    r^i_t   <- r^i_t / sigma(R^i)                        divided by the running std of the
                                                         discounted intrinsic return
    A_t      = c_E * A^E_t + c_I * A^I_t                  two GAE advantages, two value heads:
      A^E: episodic, gamma     (extrinsic reward, dones cut the chain)
      A^I: non-episodic, gamma_I (intrinsic reward, dones ignored: novelty does not
           stop at death, so the agent is not afraid of exploring risky states)
    L = L^PPO(A) + c_v (L^VF_E + L^VF_I) + rnd_coef * E[ || f_hat(x) - f(x) ||^2 ]

PPO itself (clipped objective, extrinsic value loss, entropy) is ``agents/ppo.py``;
this file adds the two networks, the intrinsic value head and the advantage
mixing. The predictor is trained on the observations of the rollout (``obs_t``),
the reward is measured on ``obs_{t+1}``; both are the same distribution of
visited states. The extrinsic value head alone gets ``norm_value``.

Before training, ``rnd_warmup_steps`` random-action steps of every env (in envs
of their own, not counted in the budget, their episodes not logged) initialise
the observation statistics mu_s, sigma_s, as Burda et al. do: otherwise the
first rollouts' novelty is measured against statistics of almost nothing. The
running discounted intrinsic return of each env is checkpointed with the
statistics, so a resumed run continues the same reward scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from craftlab.agents.networks import NetworkConfig, is_image_space, layer_init, to_chw
from craftlab.agents.on_policy import ActorCritic, LSTMState, RolloutBuffer, RolloutBufferSamples, gae
from craftlab.agents.ppo import PPO, PPOConfig
from craftlab.agents.run_context import RunContext
from craftlab.core.config import require


@dataclass
class PPORNDConfig(PPOConfig):
    """PPO + RND settings (defaults: Burda et al. 2018 where they apply)."""

    ext_coef: float = 2.0
    """c_E: weight of the extrinsic advantage"""
    int_coef: float = 1.0
    """c_I: weight of the intrinsic advantage"""
    int_gamma: float = 0.99
    """gamma_I: discount of the (non-episodic) intrinsic return"""
    rnd_output: int = 64
    """size of the target / predictor embedding"""
    rnd_hidden: list[int] = field(default_factory=lambda: [64, 64])
    """vector observations: hidden widths of the target and predictor MLPs (images: a Nature CNN)"""
    rnd_coef: float = 1.0
    """weight of the predictor's distillation loss"""
    rnd_update_proportion: float = 1.0
    """fraction of each minibatch the predictor trains on (Burda: 0.25 with 128 envs)"""
    rnd_obs_clip: float = 5.0
    """clip normalised observations to [-clip, clip] before the RND networks"""
    rnd_warmup_steps: int = 1024
    """random-action steps per env that initialise the observation statistics before
    training (Burda et al.; CleanRL: 50 x 128 per env); not counted in the budget, its
    episodes not logged; skipped when the statistics come from a checkpoint. 0: none"""

    def validate(self) -> None:
        super().validate()
        require(0.0 <= self.int_gamma <= 1.0, "int_gamma", "must be in [0, 1]")
        require(self.rnd_output >= 1, "rnd_output", "must be >= 1")
        require(0.0 < self.rnd_update_proportion <= 1.0, "rnd_update_proportion", "must be in (0, 1]")
        require(self.rnd_warmup_steps >= 0, "rnd_warmup_steps", "must be >= 0 (0: no warm-up)")


class RunningMeanStd(nn.Module):
    """Running mean and variance over batches (Chan et al.'s parallel update), as buffers."""

    def __init__(self, shape: tuple[int, ...] = ()):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(1e-4))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold ``x[B, *shape]`` into the statistics."""
        x = x.float()
        batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)


def _rnd_net(space: gym.Space, hidden: list[int], out: int) -> nn.Module:
    """Embedding network for RND: Nature-CNN-like (LeakyReLU) for ``float[B, C, H, W]``
    normalised images, an MLP for vectors. Output ``[B, out]``."""
    if is_image_space(space):
        c, h, w = to_chw(space.shape)
        convs = nn.Sequential(
            layer_init(nn.Conv2d(c, 32, 8, stride=4)),
            nn.LeakyReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)),
            nn.LeakyReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)),
            nn.LeakyReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n = convs(torch.zeros(1, c, h, w)).shape[1]
        return nn.Sequential(convs, layer_init(nn.Linear(n, out), gain=1.0))
    layers: list[nn.Module] = [nn.Flatten()]
    width = int(np.prod(space.shape))
    for size in hidden:
        layers += [layer_init(nn.Linear(width, size)), nn.LeakyReLU()]
        width = size
    layers.append(layer_init(nn.Linear(width, out), gain=1.0))
    return nn.Sequential(*layers)


class RNDActorCritic(ActorCritic):
    """:class:`ActorCritic` + an intrinsic value head + RND target and predictor."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        network: NetworkConfig,
        shared: bool,
        norm_value_beta: float,
        config: PPORNDConfig,
    ):
        super().__init__(observation_space, action_space, network, shared, norm_value_beta, config.norm_value_std_floor)
        self.int_value_head = layer_init(nn.Linear(self.features, 1), gain=network.value_init_gain)
        self.image = is_image_space(observation_space)
        self.obs_clip = config.rnd_obs_clip
        self.rnd_target = _rnd_net(observation_space, config.rnd_hidden, config.rnd_output)
        self.rnd_predictor = _rnd_net(observation_space, config.rnd_hidden, config.rnd_output)
        for p in self.rnd_target.parameters():  # f stays random
            p.requires_grad_(False)
        self.obs_rms = RunningMeanStd(tuple(observation_space.shape))
        self.int_return_rms = RunningMeanStd(())

    def extra_outputs(self, critic_features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"int_value": self.int_value_head(critic_features).squeeze(-1)}

    def int_value(
        self, obs: torch.Tensor, state: LSTMState | None = None, episode_start: torch.Tensor | None = None
    ) -> torch.Tensor:
        """V_I(s): ``float32[B]``."""
        return self.int_value_head(self.encode(obs, state, episode_start)[1]).squeeze(-1)

    def rnd_input(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs[B, ...]`` -> normalised, clipped floats (images to ``[B, C, H, W]``)."""
        x = ((obs.float() - self.obs_rms.mean) / (self.obs_rms.var + 1e-8).sqrt()).clamp(-self.obs_clip, self.obs_clip)
        return x.permute(0, 3, 1, 2) if self.image else x

    def rnd_error(self, obs: torch.Tensor) -> torch.Tensor:
        """|| f_hat(x) - f(x) ||^2 averaged over the embedding: ``float32[B]``."""
        x = self.rnd_input(obs)
        with torch.no_grad():
            target = self.rnd_target(x)
        return ((self.rnd_predictor(x) - target) ** 2).mean(-1)


class PPORND(PPO):
    """PPO + RND exploration bonus."""

    name = "ppo_rnd"
    Config = PPORNDConfig
    config: PPORNDConfig
    policy: RNDActorCritic

    def __init__(self, config: PPORNDConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self._int_return: torch.Tensor | None = None
        """running discounted intrinsic return per env (for the reward's scale)"""
        self._rnd_stats: dict[str, float] = {}

    def build_policy(self, shared: bool) -> RNDActorCritic:
        beta = self.config.norm_value_beta if self.config.norm_value else 0.0
        return RNDActorCritic(self.observation_space, self.action_space, self.config.network, shared, beta, self.config)

    def learn(self, total_timesteps: int, run: RunContext | None = None) -> None:
        if self.config.rnd_warmup_steps > 0 and float(self.policy.obs_rms.count) < 1.0:
            self.warm_up_observation_statistics(self.config.rnd_warmup_steps)
        super().learn(total_timesteps, run)

    @torch.no_grad()
    def warm_up_observation_statistics(self, steps_per_env: int) -> None:
        """mu_s, sigma_s from ``steps_per_env`` uniformly random actions in every env, in
        envs of their own (seeds ``env_seeds(stream=1)``), folded in ``num_steps`` at a time."""
        envs = self.envs.make_vector()
        n = envs.num_envs
        try:
            envs.reset(seed=self.envs.env_seeds(n, stream=1))
            chunk: list[torch.Tensor] = []
            for t in range(steps_per_env):
                obs, *_ = envs.step(self._random_actions(n))
                chunk.append(self._obs_tensor(obs))
                if len(chunk) == self.config.num_steps or t == steps_per_env - 1:
                    self.policy.obs_rms.update(torch.cat(chunk))
                    chunk = []
        finally:
            envs.close()

    def _random_actions(self, n: int) -> np.ndarray:
        space = self.action_space
        if isinstance(space, gym.spaces.Discrete):
            return self.np_rng.integers(int(space.n), size=n) + int(space.start)
        if isinstance(space, gym.spaces.Box):
            return self.np_rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(space.dtype)
        raise ValueError(f"ppo_rnd: no random warm-up actions for {space}; set algo.rnd_warmup_steps=0")

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["int_return"] = self._int_return  # None before the first rollout
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        saved = state.get("int_return")  # absent in checkpoints from before issue 12
        self._int_return = None if saved is None else saved.to(self.device)

    @torch.no_grad()
    def compute_advantages(
        self, buffer: RolloutBuffer, last_obs: torch.Tensor, last_state: LSTMState | None, last_start: torch.Tensor
    ) -> None:
        cfg, policy = self.config, self.policy
        super().compute_advantages(buffer, last_obs, last_state, last_start)  # A^E, R^E (episodic GAE)
        advantages_ext = buffer.advantages
        T, N = buffer.rewards.shape

        # r^i_t = novelty of s_{t+1}; statistics of x updated with this rollout first
        next_obs = torch.cat([buffer.obs[1:], last_obs[None]]).reshape(T * N, *buffer.obs.shape[2:])
        policy.obs_rms.update(next_obs)
        r_int = policy.rnd_error(next_obs).reshape(T, N)

        # scale: divide by the running std of the discounted intrinsic return (per env, non-episodic)
        if self._int_return is None:
            self._int_return = torch.zeros(N, device=self.device)
        discounted = torch.empty_like(r_int)
        for t in range(T):
            self._int_return = self._int_return * cfg.int_gamma + r_int[t]
            discounted[t] = self._int_return
        policy.int_return_rms.update(discounted.reshape(-1))
        r_int = r_int / (policy.int_return_rms.var.sqrt() + 1e-8)

        # A^I, R^I: GAE with no episode ends (non-episodic intrinsic return)
        flat_obs = buffer.obs.reshape(T * N, *buffer.obs.shape[2:])
        v_int = policy.int_value(flat_obs, buffer.initial_state, buffer.episode_starts.reshape(-1)).reshape(T, N)
        last_v_int = policy.int_value(last_obs, last_state, last_start)
        adv_int, ret_int = gae(r_int, v_int, torch.zeros_like(buffer.dones), last_v_int, cfg.int_gamma, cfg.gae_lambda)
        buffer.extra["int_returns"] = ret_int
        buffer.advantages = cfg.ext_coef * advantages_ext + cfg.int_coef * adv_int
        self._rnd_stats = {"intrinsic_reward": float(r_int.mean()), "intrinsic_value": float(v_int.mean())}

    def loss(self, batch: RolloutBufferSamples):
        cfg = self.config
        loss, stats, out = super().loss(batch)  # L^PPO with the mixed advantages, L^VF_E, entropy
        int_value_loss = self.value_loss_scale * ((out["int_value"] - batch.extra["int_returns"]) ** 2).mean()  # L^VF_I
        error = self.policy.rnd_error(batch.observations)
        if cfg.rnd_update_proportion < 1.0:  # train the predictor on a random part of the batch
            mask = (torch.rand(len(error), device=error.device) < cfg.rnd_update_proportion).float()
            rnd_loss = (error * mask).sum() / mask.sum().clamp(min=1.0)
        else:
            rnd_loss = error.mean()
        loss = loss + cfg.vf_coef * int_value_loss + cfg.rnd_coef * rnd_loss
        stats.update(int_value_loss=int_value_loss.detach(), rnd_loss=rnd_loss.detach())
        return loss, stats, out

    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        out = super().update(buffer)
        out.update(self._rnd_stats)
        return out
