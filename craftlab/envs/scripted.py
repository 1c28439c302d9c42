"""Scripted policies: hand-written experts that need no training, for recording
datasets (``train.py record --policy scripted:NAME``) and as DAgger's queryable
expert (``algo.expert: scripted:NAME``).

A scripted policy maps a batch of observations to a batch of actions, like an
agent's ``act``. It names the env ids it is written for, so using it elsewhere
is refused with one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from craftlab.core.errors import UserError

SCRIPTED_PREFIX = "scripted:"


@dataclass(frozen=True)
class ScriptedPolicy:
    """``policy(obs[B, ...]) -> actions[B, ...]`` for the envs in ``env_ids``."""

    name: str
    env_ids: tuple[str, ...]
    act: Callable[[Any], np.ndarray]
    description: str

    def __call__(self, obs: Any) -> np.ndarray:
        return self.act(obs)


def _cartpole_balance(obs: np.ndarray) -> np.ndarray:
    """Push the cart toward where the pole falls: right iff theta + 0.5 theta_dot > 0
    (a PD controller on the pole angle; 500, the maximum, on CartPole-v1)."""
    obs = np.asarray(obs, np.float64)
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def _pendulum_energy(obs: np.ndarray) -> np.ndarray:
    """Energy-pumping swing-up, then a PD controller near the top (Pendulum-v1; mean -138
    over 20 episodes).
    obs = (cos theta, sin theta, theta_dot), theta = 0 upright; the dynamics are
    theta'' = 15 sin theta + 3 u, so E = theta'^2 / 2 + 15 cos theta is 15 upright."""
    obs = np.asarray(obs, np.float64)
    cos, sin, vel = obs[:, 0], obs[:, 1], obs[:, 2]
    theta = np.arctan2(sin, cos)
    energy = 0.5 * vel**2 + 15.0 * cos
    pump = np.where(energy < 15.0, 2.0 * np.sign(vel + 1e-9), 0.0)  # dE/dt = 3 u theta'
    balance = -10.0 * theta - 2.0 * vel  # theta'' = -15 theta - 6 theta' (linearised)
    return np.clip(np.where(cos > 0.9, balance, pump), -2.0, 2.0).astype(np.float32)[:, None]


SCRIPTED_POLICIES: dict[str, ScriptedPolicy] = {
    p.name: p
    for p in (
        ScriptedPolicy(
            "cartpole_balance", ("CartPole-v1", "CartPole-v0"), _cartpole_balance, _cartpole_balance.__doc__ or ""
        ),
        ScriptedPolicy("pendulum_swingup", ("Pendulum-v1",), _pendulum_energy, _pendulum_energy.__doc__ or ""),
    )
}


def scripted_policy(spec: str, env_id: str) -> ScriptedPolicy:
    """``"scripted:NAME"`` (or ``"NAME"``) -> the policy, checked against ``env_id``."""
    name = spec.removeprefix(SCRIPTED_PREFIX)
    if name not in SCRIPTED_POLICIES:
        raise UserError(f"unknown scripted policy '{name}'; choose one of: {', '.join(sorted(SCRIPTED_POLICIES))}")
    policy = SCRIPTED_POLICIES[name]
    if env_id not in policy.env_ids:
        raise UserError(
            f"scripted policy '{name}' is written for {', '.join(policy.env_ids)}, not '{env_id}'; "
            "use a trained run as the policy instead"
        )
    return policy
