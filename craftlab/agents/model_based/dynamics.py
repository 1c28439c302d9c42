"""A learned model of an environment: an ensemble of E MLPs, each predicting the
state change and the reward of one step (CS285 hw4's deterministic-delta ensemble;
Nagabandi et al. 2018 for the delta, Chua et al. 2018 for the bootstrapped ensemble).

Member ``e`` is a deterministic function of the normalised (state, action)::

    x      = ([s_t, a_t] - mu_x) / sigma_x                     (input normalisation)
    f_e(x) = [delta_hat, r_hat]                                (normalised outputs)
    s_{t+1} = s_t + mu_d + sigma_d * delta_hat                 (delta: s_{t+1} - s_t)
    r_t     =       mu_r + sigma_r * r_hat

with the means and standard deviations measured on the data at every fit.
Training (:meth:`DynamicsEnsemble.fit`) minimises each member's mean squared error
on the normalised targets, member ``e`` drawing its minibatches from its own
bootstrap of the data (``n`` transitions drawn with replacement from the ``n``
stored), so the members disagree where the data is thin::

    L = sum_e E_{(s, a, r, s') ~ bootstrap_e} || f_e(x) - [(s' - s - mu_d) / sigma_d, (r - mu_r) / sigma_r] ||^2

Deviation from PETS (Chua et al. 2018): the members are deterministic (hw4), not
Gaussian, so the only uncertainty is the members' disagreement. The model predicts
no episode ends: planners and rollouts treat every predicted state as non-terminal.

All E members run in one batched matrix product per layer (:class:`EnsembleLinear`):
inputs ``[E, B, ...]`` give outputs ``[E, B, ...]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from craftlab.agents.off_policy import ReplayBuffer
from craftlab.core.config import require


@dataclass
class DynamicsConfig:
    """The ensemble of dynamics models (``algo.model``)."""

    ensemble_size: int = 5
    """E: members, each an MLP trained on its own bootstrap of the data"""
    hidden_sizes: list[int] = field(default_factory=lambda: [200, 200])
    """width of each member's hidden layers"""
    activation: Literal["silu", "relu", "tanh"] = "silu"
    """hidden-layer activation ('silu' is PETS' and MBPO's swish)"""
    learning_rate: float = 1e-3
    """Adam step size of the model"""
    weight_decay: float = 0.0
    """Adam's L2 penalty on the model's weights"""
    batch_size: int = 256
    """transitions per member per gradient step"""
    train_steps: int = 500
    """gradient steps of each fit (every member takes each step, on its own minibatch)"""

    def validate(self) -> None:
        require(self.ensemble_size >= 1, "ensemble_size", "must be >= 1")
        require(
            len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
            "hidden_sizes",
            "must be a non-empty list of positive widths",
        )
        require(self.learning_rate > 0, "learning_rate", "must be > 0")
        require(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.train_steps >= 1, "train_steps", "must be >= 1")


class Transitions(NamedTuple):
    """``n`` one-step transitions, float32 tensors on one device."""

    observations: torch.Tensor
    """s_t: ``[n, obs_dim]``"""
    actions: torch.Tensor
    """a_t in the env's units: ``[n, act_dim]``"""
    rewards: torch.Tensor
    """r_t: ``[n]``"""
    next_observations: torch.Tensor
    """s_{t+1} (the true last observation where an episode ended): ``[n, obs_dim]``"""


def replay_transitions(buffer: ReplayBuffer, device: torch.device | str = "cpu") -> Transitions:
    """Every transition stored in an off-policy replay buffer (one-step: a transition's
    next observation is the buffer's next frame, the true final one after an episode end)."""
    slots, envs = np.nonzero(buffer.valid)
    next_slots = (slots + 1) % buffer.slots

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32, device=device)

    n = len(slots)
    return Transitions(
        observations=tensor(buffer.frames[slots, envs].reshape(n, -1)),
        actions=tensor(buffer.actions[slots, envs].reshape(n, -1)),
        rewards=tensor(buffer.rewards[slots, envs]),
        next_observations=tensor(buffer.frames[next_slots, envs].reshape(n, -1)),
    )


class EnsembleLinear(nn.Module):
    """E independent affine maps in one batched product: ``x[E, B, in] -> [E, B, out]``."""

    def __init__(self, ensemble_size: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default initialisation, per member
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class Normalizer(nn.Module):
    """Per-feature mean and standard deviation of some data (buffers: checkpointed)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))

    def fit(self, x: torch.Tensor) -> None:
        """Statistics of ``x[n, size]``; a feature that never varies keeps std 1."""
        std = x.std(dim=0) if len(x) > 1 else torch.ones_like(self.std)
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        return self.mean + self.std * y


ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh}


class DynamicsEnsemble(nn.Module):
    """E deterministic models ``(s_t, a_t) -> (s_{t+1} - s_t, r_t)`` on normalised data."""

    def __init__(self, obs_dim: int, act_dim: int, config: DynamicsConfig):
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.ensemble_size = E = config.ensemble_size
        self.input_norm = Normalizer(obs_dim + act_dim)
        """mu_x, sigma_x of [s_t, a_t]"""
        self.delta_norm = Normalizer(obs_dim)
        """mu_d, sigma_d of s_{t+1} - s_t"""
        self.reward_norm = Normalizer(1)
        """mu_r, sigma_r of r_t"""
        layers: list[nn.Module] = []
        size = obs_dim + act_dim
        for hidden in config.hidden_sizes:
            layers += [EnsembleLinear(E, size, hidden), ACTIVATIONS[config.activation]()]
            size = hidden
        layers.append(EnsembleLinear(E, size, obs_dim + 1))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Normalised predictions ``[delta_hat, r_hat]``: ``float32[E, B, obs_dim + 1]``.
        ``obs`` and ``actions`` are ``[E, B, dim]`` (one batch per member) or ``[B, dim]``
        (the same batch for every member)."""
        x = self.input_norm.normalize(torch.cat([obs, actions], dim=-1))
        if x.dim() == 2:
            x = x.expand(self.ensemble_size, *x.shape)
        return self.net(x)

    @torch.no_grad()
    def predict(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's next state and reward, in the env's units:
        ``(float32[E, B, obs_dim], float32[E, B])`` for inputs as in :meth:`forward`."""
        out = self(obs, actions)
        delta = self.delta_norm.denormalize(out[..., :-1])
        rewards = self.reward_norm.denormalize(out[..., -1:]).squeeze(-1)
        return obs + delta, rewards

    def targets(self, data: Transitions) -> torch.Tensor:
        """The normalised regression targets ``[(s' - s - mu_d) / sigma_d, (r - mu_r) / sigma_r]``:
        ``float32[n, obs_dim + 1]``."""
        delta = self.delta_norm.normalize(data.next_observations - data.observations)
        rewards = self.reward_norm.normalize(data.rewards.unsqueeze(-1))
        return torch.cat([delta, rewards], dim=-1)

    def fit(
        self,
        data: Transitions,
        optimizer: torch.optim.Optimizer,
        steps: int,
        batch_size: int,
        rng: np.random.Generator,
    ) -> dict[str, float]:
        """Refit the normalisation to ``data`` and train every member for ``steps``
        gradient steps on minibatches of its own bootstrap. Returns diagnostics
        (the last step's mean squared error per normalised output, averaged over members)."""
        n, E = len(data.rewards), self.ensemble_size
        self.input_norm.fit(torch.cat([data.observations, data.actions], dim=-1))
        self.delta_norm.fit(data.next_observations - data.observations)
        self.reward_norm.fit(data.rewards.unsqueeze(-1))
        targets = self.targets(data)
        device = data.rewards.device
        bootstrap = torch.as_tensor(rng.integers(0, n, size=(E, n)), device=device)  # member e's data set
        loss = torch.zeros(())
        for _ in range(steps):
            positions = torch.as_tensor(rng.integers(0, n, size=(E, batch_size)), device=device)
            idx = bootstrap.gather(1, positions)  # [E, B]: a minibatch of each member's bootstrap
            pred = self(data.observations[idx], data.actions[idx])
            loss = ((pred - targets[idx]) ** 2).mean(dim=(1, 2)).sum()  # sum over members of each one's MSE
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return {"model_loss": loss.item() / E}

    @torch.no_grad()
    def prediction_errors(self, data: Transitions) -> torch.Tensor:
        """Each member's mean squared error on ``data``'s normalised targets: ``float32[E]``
        (held-out data: the model's generalisation error)."""
        return ((self(data.observations, data.actions) - self.targets(data)) ** 2).mean(dim=(1, 2))
