"""The on-policy actor-critic network: pi(a|s) and V(s) over an observation
encoder (:mod:`craftlab.agents.networks`) and an optional LSTM core.

Recurrent policies (``network.lstm > 0``) carry an :data:`LSTMState` between
steps; it is reset to zeros before a step whose ``episode_start`` is 1. The
update re-runs the LSTM over whole env sequences (:meth:`RolloutBuffer.minibatches`
with ``by_env``), as in CleanRL's ``ppo_atari_lstm``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from craftlab.agents.networks import NetworkConfig, build_encoder, layer_init
from craftlab.agents.on_policy.value_normalizer import ValueNormalizer

LSTMState = tuple[torch.Tensor, torch.Tensor]
"""(h, c), each ``float32[1, B, hidden]``"""


class ActorCritic(nn.Module):
    """Policy pi(a|s) and value V(s) over an encoder (and an optional LSTM core).

    Discrete actions: a categorical over logits. Box actions: a diagonal Gaussian
    with a state-independent learned log standard deviation.

    Batches: feed-forward calls take ``obs[B, ...]``. Recurrent calls also take
    ``state`` (:data:`LSTMState` for ``S`` sequences) and ``episode_start[B]`` with
    ``B = L * S`` observations in time-major order (step 0 of every sequence,
    then step 1, ...); a rollout step is ``L = 1``.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        network: NetworkConfig,
        shared: bool,
        norm_value_beta: float = 0.0,
        norm_value_std_floor: float = 0.01,
    ):
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
        self.value_normalizer = ValueNormalizer(norm_value_beta, norm_value_std_floor) if norm_value_beta > 0 else None

    # ------------------------------------------------------------ building blocks

    @property
    def recurrent(self) -> bool:
        """An LSTM core: updates re-run it over whole env sequences."""
        return self.lstm is not None

    @property
    def stateful(self) -> bool:
        """Carries a state between steps (an LSTM's; Achievement Distillation's memory)."""
        return self.lstm is not None

    def index_state(self, state: LSTMState, idx: np.ndarray | torch.Tensor) -> LSTMState:
        """The state of the sequences ``idx`` (LSTM: ``h[:, idx], c[:, idx]``)."""
        return state[0][:, idx], state[1][:, idx]

    def initial_state(self, batch: int) -> LSTMState | None:
        """Zero LSTM state for ``batch`` sequences (None for a feed-forward policy)."""
        if self.lstm is None:
            return None
        device = self.value_head.weight.device
        zeros = torch.zeros(1, batch, self.lstm.hidden_size, device=device)
        return zeros, zeros.clone()

    def encode(
        self, obs: torch.Tensor, state: LSTMState | None = None, episode_start: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState | None]:
        """Observations ``[B, ...]`` -> (actor features ``[B, F]``, critic features ``[B, F]``, next state)."""
        actor = self.actor_encoder(obs)
        if self.lstm is None:
            critic = actor if self.shared else self.critic_encoder(obs)
            return actor, critic, None
        if state is None:
            raise ValueError("a recurrent policy needs its LSTM state (initial_state)")
        out, state = self._lstm_core(actor, state, episode_start)
        return out, out, state

    def _lstm_core(
        self, x: torch.Tensor, state: LSTMState, episode_start: torch.Tensor | None
    ) -> tuple[torch.Tensor, LSTMState]:
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
            out, (h, c) = self.lstm(x[t : t + 1], (h * keep[t], c * keep[t]))
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

    def _log_prob_entropy(
        self, dist: torch.distributions.Distribution, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_prob, entropy = dist.log_prob(action), dist.entropy()
        if not self.discrete:  # independent action dimensions: sum over them
            log_prob, entropy = log_prob.sum(-1), entropy.sum(-1)
        return log_prob, entropy

    # ------------------------------------------------------------------- calls

    def value(
        self, obs: torch.Tensor, state: LSTMState | None = None, episode_start: torch.Tensor | None = None
    ) -> torch.Tensor:
        """V(s): ``float32[B]``."""
        if self.lstm is None:
            return self.value_from_features(self.critic_encoder(obs))
        return self.value_from_features(self.encode(obs, state, episode_start)[1])

    def step(
        self, obs: torch.Tensor, state: LSTMState | None = None, episode_start: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, LSTMState | None]:
        """One rollout step: sample a ~ pi(.|s). Returns ``(action, log_prob[B], value[B], next_state)``
        (``action`` is ``[B]`` for Discrete, ``[B, act_dim]`` for Box)."""
        actor, critic, state = self.encode(obs, state, episode_start)
        dist = self.distribution(actor)
        action = dist.sample()
        log_prob, _ = self._log_prob_entropy(dist, action)
        return action, log_prob, self.value_from_features(critic), state

    def evaluate_actions(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        state: LSTMState | None = None,
        episode_start: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
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

    def act(
        self,
        obs: torch.Tensor,
        deterministic: bool,
        state: LSTMState | None = None,
        episode_start: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, LSTMState | None]:
        """Actions for acting (evaluation): the mode when ``deterministic``. Returns ``(action, next_state)``."""
        actor, _, state = self.encode(obs, state, episode_start)
        dist = self.distribution(actor)
        if deterministic:
            return (dist.probs.argmax(-1) if self.discrete else dist.mean), state
        return dist.sample(), state
