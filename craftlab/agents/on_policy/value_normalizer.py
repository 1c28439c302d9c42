"""Value target normalisation (``norm_value``): the value head predicts
``(V - mu) / sigma`` where mu, sigma are exponential moving averages of the
returns' mean and standard deviation (bias-corrected, decay ``norm_value_beta``);
the rest of the code sees values in return units (:class:`ActorCritic` converts).
"""

from __future__ import annotations

import torch
from torch import nn


class ValueNormalizer(nn.Module):
    """Bias-corrected exponential moving averages of the returns' first two moments:

    m1 <- beta m1 + (1 - beta) mean(R),  m2 <- beta m2 + (1 - beta) mean(R^2)
    mu = m1 / (1 - beta^k),  sigma = sqrt(max(m2 / (1 - beta^k) - mu^2, std_floor^2))   (k updates)

    Before the first update it is the identity (mu = 0, sigma = 1). The Crafter
    recipe's ``NormalizeEwma`` is this with ``std_floor`` 0.1, updated with every
    minibatch's returns (``norm_value_update``).
    """

    def __init__(self, beta: float, std_floor: float = 0.01):
        super().__init__()
        self.beta = beta
        self.std_floor = std_floor
        self.register_buffer("m1", torch.zeros(()))
        self.register_buffer("m2", torch.zeros(()))
        self.register_buffer("debias", torch.zeros(()))
        """1 - beta^k"""

    @torch.no_grad()
    def update(self, returns: torch.Tensor) -> None:
        """Fold a batch of returns (any shape) into the averages."""
        b = self.beta
        self.m1.mul_(b).add_((1 - b) * returns.mean())
        self.m2.mul_(b).add_((1 - b) * (returns**2).mean())
        self.debias.mul_(b).add_(1 - b)

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) as 0-d tensors (no host sync)."""
        seen = self.debias > 0
        d = self.debias.clamp(min=1e-8)
        mu = self.m1 / d
        sigma = (self.m2 / d - mu**2).clamp(min=self.std_floor**2).sqrt()
        return torch.where(seen, mu, torch.zeros_like(mu)), torch.where(seen, sigma, torch.ones_like(sigma))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mu, sigma = self.stats()
        return (x - mu) / sigma

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        mu, sigma = self.stats()
        return x * sigma + mu
