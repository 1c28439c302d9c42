"""Target networks (Mnih et al. 2015): slowly moving copies of online networks
that the bootstrapped targets are computed with, so a gradient step does not
move its own target.

Two schedules, one function (``tau`` and ``interval`` in the agent's config):

- hard updates (DQN): ``theta_target <- theta`` every C gradient steps
  (``tau = 1``, ``target_update_interval = C``);
- Polyak averaging (DDPG, TD3, SAC): ``theta_target <- tau theta + (1 - tau) theta_target``
  after every gradient step (``tau`` ~ 0.005, ``target_update_interval = 1``).
"""

from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn


def make_target(online: nn.Module) -> nn.Module:
    """A frozen copy of ``online`` (no gradients; eval mode)."""
    target = copy.deepcopy(online)
    target.requires_grad_(False)
    return target.eval()


@torch.no_grad()
def polyak_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    """``theta_target <- tau * theta_online + (1 - tau) * theta_target`` for every
    parameter (``tau = 1`` copies exactly); buffers (e.g. normalisation statistics)
    are copied."""
    for p_target, p_online in zip(target.parameters(), online.parameters(), strict=True):
        if tau >= 1.0:
            p_target.copy_(p_online)
        else:
            p_target.lerp_(p_online, tau)
    for b_target, b_online in zip(target.buffers(), online.buffers(), strict=True):
        b_target.copy_(b_online)


def update_targets(
    pairs: Iterable[tuple[nn.Module, nn.Module]], tau: float, interval: int, num_gradient_steps: int
) -> bool:
    """After gradient step number ``num_gradient_steps`` (counted from 1): Polyak-update
    each ``(online, target)`` pair if the step is a multiple of ``interval``.
    Returns whether it did."""
    if num_gradient_steps % interval != 0:
        return False
    for online, target in pairs:
        polyak_update(online, target, tau)
    return True
