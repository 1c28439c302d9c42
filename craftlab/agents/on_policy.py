"""What every on-policy actor-critic shares: the policy network, the rollout
buffer, rollout collection from vectorised envs, GAE, and the training loop.
An algorithm file (``ppo.py``, ``a2c.py``, ``vpg.py``, ...) only writes its loss:
:meth:`OnPolicyAgent.update` (and, when it estimates advantages its own way,
:meth:`OnPolicyAgent.compute_advantages`).

One iteration of :meth:`OnPolicyAgent.learn`::

    collect num_steps x num_envs transitions with the current policy pi_theta_old
    compute_advantages: A_t with GAE(gamma, lambda) and returns R_t = A_t + V(s_t)
    update(buffer)               <- the algorithm (PPO's clipped objective, A2C's ...)
    run.on_step(num_timesteps)   <- progress, checkpoints, evaluation, stop?

Terminated vs truncated (Pardo et al. 2018): at a *terminated* step the value
of what follows is 0; at a *truncated* one (time limit) the episode was cut, so
the reward is bootstrapped with gamma * V(final observation) before the
advantage chain is cut there too (as SB3 does).

Recurrent policies (``network.lstm > 0``): the LSTM state at the start of each
rollout is kept in the buffer with ``episode_starts`` (1 where ``obs[t]`` is an
episode's first observation, where the state is reset to zeros). The update
re-runs the LSTM over whole env sequences, so minibatches are sets of envs
(:meth:`RolloutBuffer.minibatches`), as in CleanRL's ``ppo_atari_lstm``.

Value target normalisation (``norm_value``): the value head predicts
``(V - mu) / sigma`` where mu, sigma are exponential moving averages of the
returns' mean and standard deviation (bias-corrected, decay ``norm_value_beta``);
the rest of the code sees values in return units.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal, Union

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from craftlab.agents.base import AGENT_FILE, Agent, AgentConfig, rng_state, set_rng_state
from craftlab.agents.networks import NetworkConfig, build_encoder, is_image_space, layer_init
from craftlab.core.config import ConfigError, require

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext

LSTMState = tuple[torch.Tensor, torch.Tensor]
"""(h, c), each ``float32[1, B, hidden]``"""


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
    """one encoder for policy and value ('auto': shared for images, separate for vectors;
    always shared with an LSTM)"""
    norm_value: bool = False
    """value target normalisation: the value head learns (R - mu) / sigma with mu, sigma
    moving averages of the returns (the 15.6 Crafter PPO recipe)"""
    norm_value_beta: float = 0.99
    """decay of the moving averages of norm_value (per update)"""
    init_from: Union[str, None] = None
    """start from the policy weights of another run: a run folder (its latest
    checkpoint), a checkpoint folder, or an agent.pt file, e.g. a BC run's for
    fine-tuning; parameters whose names and shapes match are copied, the rest
    (e.g. a value head BC never had) keep their fresh initialisation"""

    def validate(self) -> None:
        require(self.num_steps >= 1, "num_steps", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")
        require(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")
        require(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", "must be in [0, 1]")
        require(0.0 < self.norm_value_beta < 1.0, "norm_value_beta", "must be in (0, 1)")


class ValueNormalizer(nn.Module):
    """Bias-corrected exponential moving averages of the returns' first two moments:

    m1 <- beta m1 + (1 - beta) mean(R),  m2 <- beta m2 + (1 - beta) mean(R^2)
    mu = m1 / (1 - beta^k),  sigma = sqrt(m2 / (1 - beta^k) - mu^2)     (k updates)

    Before the first update it is the identity (mu = 0, sigma = 1).
    """

    def __init__(self, beta: float):
        super().__init__()
        self.beta = beta
        self.register_buffer("m1", torch.zeros(()))
        self.register_buffer("m2", torch.zeros(()))
        self.register_buffer("debias", torch.zeros(()))
        """1 - beta^k"""

    @torch.no_grad()
    def update(self, returns: torch.Tensor) -> None:
        """Fold a batch of returns (any shape) into the averages."""
        b = self.beta
        self.m1.mul_(b).add_((1 - b) * returns.mean())
        self.m2.mul_(b).add_((1 - b) * (returns ** 2).mean())
        self.debias.mul_(b).add_(1 - b)

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) as 0-d tensors (no host sync)."""
        seen = self.debias > 0
        d = self.debias.clamp(min=1e-8)
        mu = self.m1 / d
        sigma = (self.m2 / d - mu ** 2).clamp(min=1e-4).sqrt()
        return torch.where(seen, mu, torch.zeros_like(mu)), torch.where(seen, sigma, torch.ones_like(sigma))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mu, sigma = self.stats()
        return (x - mu) / sigma

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        mu, sigma = self.stats()
        return x * sigma + mu


class ActorCritic(nn.Module):
    """Policy pi(a|s) and value V(s) over an encoder (and an optional LSTM core).

    Discrete actions: a categorical over logits. Box actions: a diagonal Gaussian
    with a state-independent learned log standard deviation.

    Batches: feed-forward calls take ``obs[B, ...]``. Recurrent calls also take
    ``state`` (:data:`LSTMState` for ``S`` sequences) and ``episode_start[B]`` with
    ``B = L * S`` observations in time-major order (step 0 of every sequence,
    then step 1, ...); a rollout step is ``L = 1``.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, network: NetworkConfig,
                 shared: bool, norm_value_beta: float = 0.0):
        super().__init__()
        recurrent = network.lstm > 0
        self.shared = shared or recurrent
        self.actor_encoder = build_encoder(observation_space, network)
        self.critic_encoder = self.actor_encoder if self.shared else build_encoder(observation_space, network)
        features = self.actor_encoder.out_features
        self.lstm: nn.LSTM | None = None
        if recurrent:
            self.lstm = nn.LSTM(features, network.lstm)
            for name, param in self.lstm.named_parameters():
                if "weight" in name:
                    nn.init.orthogonal_(param, 1.0)
                else:
                    nn.init.constant_(param, 0.0)
            features = network.lstm
        self.features = features
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            self.policy_head = layer_init(nn.Linear(features, int(action_space.n)), gain=network.policy_init_gain)
        elif isinstance(action_space, gym.spaces.Box):
            n = int(np.prod(action_space.shape))
            self.policy_head = layer_init(nn.Linear(features, n), gain=network.policy_init_gain)
            self.log_std = nn.Parameter(torch.zeros(n))
        else:
            raise ValueError(f"on-policy agents support Discrete and Box actions, got {action_space}")
        self.value_head = layer_init(nn.Linear(features, 1), gain=network.value_init_gain)
        self.value_normalizer = ValueNormalizer(norm_value_beta) if norm_value_beta > 0 else None

    # ------------------------------------------------------------ building blocks

    @property
    def recurrent(self) -> bool:
        return self.lstm is not None

    def initial_state(self, batch: int) -> LSTMState | None:
        """Zero LSTM state for ``batch`` sequences (None for a feed-forward policy)."""
        if self.lstm is None:
            return None
        device = self.value_head.weight.device
        zeros = torch.zeros(1, batch, self.lstm.hidden_size, device=device)
        return zeros, zeros.clone()

    def encode(self, obs: torch.Tensor, state: LSTMState | None = None,
               episode_start: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, LSTMState | None]:
        """Observations ``[B, ...]`` -> (actor features ``[B, F]``, critic features ``[B, F]``, next state)."""
        actor = self.actor_encoder(obs)
        if self.lstm is None:
            critic = actor if self.shared else self.critic_encoder(obs)
            return actor, critic, None
        if state is None:
            raise ValueError("a recurrent policy needs its LSTM state (initial_state)")
        out, state = self._lstm_core(actor, state, episode_start)
        return out, out, state

    def _lstm_core(self, x: torch.Tensor, state: LSTMState,
                   episode_start: torch.Tensor | None) -> tuple[torch.Tensor, LSTMState]:
        """``x[L * S, F]`` (time-major) through the LSTM, zeroing the state of a
        sequence before a step whose ``episode_start`` is 1. Returns ``[L * S, H]``."""
        assert self.lstm is not None
        h, c = state
        seqs = h.shape[1]
        x = x.reshape(-1, seqs, x.shape[-1])  # [L, S, F]
        if episode_start is None:
            episode_start = torch.zeros(x.shape[0] * seqs, device=x.device)
        keep = (1.0 - episode_start.float()).reshape(-1, 1, seqs, 1)  # [L, 1, S, 1]
        outs = []
        for t in range(x.shape[0]):
            out, (h, c) = self.lstm(x[t:t + 1], (h * keep[t], c * keep[t]))
            outs.append(out)
        return torch.cat(outs).reshape(-1, self.lstm.hidden_size), (h, c)

    def distribution(self, features: torch.Tensor) -> torch.distributions.Distribution:
        out = self.policy_head(features)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def value_from_features(self, critic_features: torch.Tensor) -> torch.Tensor:
        """V(s) in return units: ``float32[B]``."""
        value = self.value_head(critic_features).squeeze(-1)
        return value if self.value_normalizer is None else self.value_normalizer.denormalize(value)

    def normalize_value(self, value: torch.Tensor) -> torch.Tensor:
        """Return units -> the value head's units (identity without ``norm_value``)."""
        return value if self.value_normalizer is None else self.value_normalizer.normalize(value)

    def _log_prob_entropy(self, dist: torch.distributions.Distribution,
                          action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_prob, entropy = dist.log_prob(action), dist.entropy()
        if not self.discrete:  # independent action dimensions: sum over them
            log_prob, entropy = log_prob.sum(-1), entropy.sum(-1)
        return log_prob, entropy

    # ------------------------------------------------------------------- calls

    def value(self, obs: torch.Tensor, state: LSTMState | None = None,
              episode_start: torch.Tensor | None = None) -> torch.Tensor:
        """V(s): ``float32[B]``."""
        if self.lstm is None:
            return self.value_from_features(self.critic_encoder(obs))
        return self.value_from_features(self.encode(obs, state, episode_start)[1])

    def step(self, obs: torch.Tensor, state: LSTMState | None = None, episode_start: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, LSTMState | None]:
        """One rollout step: sample a ~ pi(.|s). Returns ``(action, log_prob[B], value[B], next_state)``
        (``action`` is ``[B]`` for Discrete, ``[B, act_dim]`` for Box)."""
        actor, critic, state = self.encode(obs, state, episode_start)
        dist = self.distribution(actor)
        action = dist.sample()
        log_prob, _ = self._log_prob_entropy(dist, action)
        return action, log_prob, self.value_from_features(critic), state

    def evaluate_actions(self, obs: torch.Tensor, action: torch.Tensor, state: LSTMState | None = None,
                         episode_start: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Score stored actions under the current parameters (for the losses):
        ``{"log_prob", "entropy", "value"}``, each ``float32[B]`` (value in return units).
        Subclasses with extra heads add their outputs (see ``agents/ppo_rnd.py``)."""
        actor, critic, _ = self.encode(obs, state, episode_start)
        dist = self.distribution(actor)
        log_prob, entropy = self._log_prob_entropy(dist, action)
        out = {"log_prob": log_prob, "entropy": entropy, "value": self.value_from_features(critic)}
        out.update(self.extra_outputs(critic))
        return out

    def extra_outputs(self, critic_features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs of extra heads on the critic features (none here)."""
        return {}

    def forward(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        """Feed-forward policies: sample (or score) actions. Returns
        ``(action, log_prob, entropy, value)``, each ``[B]`` (``action`` is ``[B, act_dim]``
        for Box actions; log-prob and entropy summed over dims)."""
        actor, critic, _ = self.encode(obs, self.initial_state(obs.shape[0]))
        dist = self.distribution(actor)
        if action is None:
            action = dist.sample()
        log_prob, entropy = self._log_prob_entropy(dist, action)
        return action, log_prob, entropy, self.value_from_features(critic)

    def act(self, obs: torch.Tensor, deterministic: bool, state: LSTMState | None = None,
            episode_start: torch.Tensor | None = None) -> tuple[torch.Tensor, LSTMState | None]:
        """Actions for acting (evaluation): the mode when ``deterministic``. Returns ``(action, next_state)``."""
        actor, _, state = self.encode(obs, state, episode_start)
        dist = self.distribution(actor)
        if deterministic:
            return (dist.probs.argmax(-1) if self.discrete else dist.mean), state
        return dist.sample(), state


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
        self.episode_starts = torch.zeros((T, N), device=device)
        """1 where ``obs[t]`` is the first observation of an episode"""
        self.values = torch.zeros((T, N), device=device)
        self.advantages = torch.zeros((T, N), device=device)
        self.returns = torch.zeros((T, N), device=device)
        self.initial_state: LSTMState | None = None
        """recurrent policies: the LSTM state before ``obs[0]``"""
        self.extra: dict[str, torch.Tensor] = {}
        """algorithm-specific ``[T, N]`` tensors (RND's intrinsic returns ...), minibatched too"""

    def compute_gae(self, last_value: torch.Tensor, gamma: float, gae_lambda: float) -> None:
        """Generalised advantage estimation (Schulman et al. 2016, eq. 16):

        delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
        A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}
        R_t     = A_t + V(s_t)          (the value target, a lambda-return)
        """
        self.advantages, self.returns = gae(self.rewards, self.values, self.dones, last_value, gamma, gae_lambda)

    def _fields(self) -> dict[str, torch.Tensor]:
        return {"obs": self.obs, "actions": self.actions, "log_probs": self.log_probs, "values": self.values,
                "advantages": self.advantages, "returns": self.returns, "episode_starts": self.episode_starts,
                **self.extra}

    def flat(self) -> dict[str, torch.Tensor]:
        """The rollout as ``[T * N, ...]`` tensors (time-major), for minibatching."""
        T, N = self.rewards.shape
        return {k: v.reshape(T * N, *v.shape[2:]) for k, v in self._fields().items()}

    def minibatches(self, num_minibatches: int, rng: np.random.Generator,
                    by_env: bool = False) -> Iterator[dict[str, Any]]:
        """One epoch of shuffled minibatches (dicts of ``flat()``'s keys).

        ``by_env`` (recurrent policies): each minibatch holds whole env sequences,
        ``[T * n, ...]`` time-major, plus ``"state"``, their LSTM state at ``t = 0``.
        Otherwise samples are shuffled individually."""
        T, N = self.rewards.shape
        if not by_env:
            data = self.flat()
            size = max(1, (T * N) // num_minibatches)
            order = torch.from_numpy(rng.permutation(T * N)).to(self.obs.device)
            for start in range(0, T * N, size):
                mb = order[start:start + size]
                yield {k: v[mb] for k, v in data.items()}
            return
        per = max(1, N // num_minibatches)
        envs = torch.from_numpy(rng.permutation(N)).to(self.obs.device)
        for start in range(0, N, per):
            idx = envs[start:start + per]
            out: dict[str, Any] = {k: v[:, idx].reshape(T * len(idx), *v.shape[2:])
                                   for k, v in self._fields().items()}
            if self.initial_state is not None:
                out["state"] = (self.initial_state[0][:, idx], self.initial_state[1][:, idx])
            yield out


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
        gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over ``[T, N]`` tensors (see :meth:`RolloutBuffer.compute_gae`).
    Returns ``(advantages, returns)``, each ``[T, N]``."""
    T = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(T)):
        not_done = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * not_done - values[t]
        next_advantage = delta + gamma * gae_lambda * not_done * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values


def explained_variance(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """1 - Var[y - y_hat] / Var[y]: the fraction of the returns' variance the value explains."""
    var_y = torch.var(y_true, unbiased=False)
    if var_y.item() == 0:
        return float("nan")
    return float(1 - torch.var(y_true - y_pred, unbiased=False) / var_y)


def load_pretrained(policy: nn.Module, source: str, device: torch.device) -> list[str]:
    """Copy the parameters of ``source`` (run folder, checkpoint folder or agent.pt)
    whose names and shapes match into ``policy``; returns their names.

    With a separate critic encoder and a source that has only an actor encoder
    (behaviour cloning), the critic encoder starts from the same weights.
    """
    from craftlab.core.checkpoint import Checkpointer

    path = Path(source)
    if (path / "checkpoints").is_dir():
        path = Checkpointer(path / "checkpoints").find().path
    if path.is_dir():
        path = path / AGENT_FILE
    if not path.is_file():
        raise ConfigError(f"config key 'algo.init_from': '{source}' is not a run folder, checkpoint folder "
                          "or agent.pt file")
    state = torch.load(path, map_location=device, weights_only=True)
    weights = state.get("policy", state) if isinstance(state, dict) else {}
    own = policy.state_dict()
    if not any(k.startswith("critic_encoder.") for k in weights) and any(k.startswith("critic_encoder.") for k in own):
        weights = {**weights, **{"critic_encoder." + k[len("actor_encoder."):]: v
                                 for k, v in weights.items() if k.startswith("actor_encoder.")}}
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ConfigError(f"config key 'algo.init_from': no parameter of '{path}' matches this policy's "
                          "names and shapes; use the same network settings as the run it came from")
    policy.load_state_dict(matched, strict=False)
    return sorted(matched)


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
        return ActorCritic(self.observation_space, self.action_space, self.config.network, shared, beta)

    def build_optimizer(self) -> torch.optim.Optimizer:
        """Adam over all of the policy's parameters (A2C may pick RMSprop)."""
        return torch.optim.Adam(self.policy.parameters(), lr=self.config.learning_rate, eps=self.config.adam_eps)

    # ------------------------------------------------------------------ hooks

    @property
    def bootstrap_truncated(self) -> bool:
        """Add gamma * V(final obs) to the reward of time-limit cuts (needs a learned V)."""
        return True

    @abstractmethod
    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        """One policy/value update from a full rollout (advantages already computed).
        Returns diagnostics, logged as ``losses/<key>``."""

    def compute_advantages(self, buffer: RolloutBuffer, last_obs: torch.Tensor, last_state: LSTMState | None,
                           last_start: torch.Tensor) -> None:
        """Fill ``buffer.advantages`` and ``buffer.returns`` after a rollout (default: GAE,
        bootstrapped with V(s_T) of the observation after the rollout)."""
        last_value = self.policy.value(last_obs, last_state, last_start)
        buffer.compute_gae(last_value, self.config.gamma, self.config.gae_lambda)

    # -------------------------------------------------------------- the loop

    def _obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        from craftlab.agents.run_context import RunContext

        run = run or RunContext(total_timesteps)
        cfg = self.config
        if self._vec_env is None:
            self._vec_env = self.envs.make_vector()
            obs, _ = self._vec_env.reset(seed=self.envs.seed)
            self._next_obs = self._obs_tensor(obs)
            self._state = self.policy.initial_state(self._vec_env.num_envs)
            self._episode_start = torch.ones(self._vec_env.num_envs, device=self.device)
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
            if self.policy.value_normalizer is not None:  # mu, sigma <- EMA of this rollout's returns
                self.policy.value_normalizer.update(buffer.returns)
            self.policy.train()
            stats = self.update(buffer)
            self.num_updates += 1
            stats["learning_rate"] = self.optimizer.param_groups[0]["lr"]
            run.log(self.num_timesteps, {f"losses/{k}": v for k, v in stats.items()})
            if not run.on_step(self.num_timesteps):
                break

    @torch.inference_mode()
    def collect_rollout(self, envs: gym.vector.VectorEnv, buffer: RolloutBuffer, run: "RunContext") -> None:
        """Fill ``buffer`` with ``num_steps`` steps of every env, then :meth:`compute_advantages`."""
        cfg = self.config
        self.policy.eval()
        obs, state, start = self._next_obs, self._state, self._episode_start
        buffer.initial_state = None if state is None else (state[0].clone(), state[1].clone())
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
                    sub = None if next_state is None else (next_state[0][:, idx], next_state[1][:, idx])
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
            obs, state, start = self._obs_tensor(next_obs), next_state, done
        self._next_obs, self._state, self._episode_start = obs, state, start
        self.compute_advantages(buffer, obs, state, start)

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
        obs_t = self._obs_tensor(np.asarray(obs))
        if self.policy.recurrent:
            if state is None:
                state = self.policy.initial_state(obs_t.shape[0])
            start = None if episode_start is None else torch.as_tensor(
                np.asarray(episode_start), dtype=torch.float32, device=self.device)
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
