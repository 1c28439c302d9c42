"""Planning with a learned model: score action sequences by their predicted return,
and search for a good one by random shooting or the cross-entropy method (CS285
lecture 11 and hw4; Chua et al. 2018, section 4.3).

Actions are searched in ``[-1, 1]^act_dim`` (the env's Box scaled per dimension,
``agents/sac.py``'s :class:`BoxActions`); a candidate is a sequence
``a_{t:t+H}`` of ``H`` actions (``planning_horizon``), and its score is the sum of
predicted rewards along each ensemble member's own predicted trajectory, averaged
over the E members (:func:`predicted_returns`)::

    J(a_{t:t+H}) = 1/E sum_e sum_{k<H} r_hat_e(s_hat^e_{t+k}, a_{t+k}),
                   s_hat^e_t = s_t,  s_hat^e_{k+1} = f_e(s_hat^e_k, a_k)

**Random shooting** (:func:`random_shooting`) scores N uniformly random sequences and
returns the best. **CEM** (:func:`cross_entropy_method`) refits a Gaussian over
sequences to the best ones, K times::

    mu = 0, or the previous plan shifted by one step (warm start); sigma = init_std
    for k in 1..K:
        sample N sequences: uniform in [-1, 1]  (first iteration without a warm start, as hw4)
                            clip(mu + sigma * eps, -1, 1), eps ~ N(0, I)   (otherwise)
        elites = the M sequences with the highest J                  (M = cem_elites)
        mu    <- alpha mean(elites) + (1 - alpha) mu                 (alpha = cem_alpha)
        sigma <- alpha std(elites)  + (1 - alpha) sigma
    plan = mu

Cost: a planner scores S sequences per action (random shooting: N; CEM: N K), each
for H steps of all E members, i.e. ``S H E`` one-step model evaluations per action
(:func:`model_evaluations_per_action`). Random shooting with N K sequences and CEM
with K iterations of N cost the same.
"""

from __future__ import annotations

from typing import Callable

import torch

from craftlab.agents.model_based.dynamics import DynamicsEnsemble

Evaluate = Callable[[torch.Tensor], torch.Tensor]
"""scores candidates: unit actions ``[B, N, H, act_dim]`` -> predicted returns ``[B, N]``"""


def model_evaluations_per_action(sequences: int, horizon: int, ensemble_size: int) -> int:
    """One-step predictions of one ensemble member that choosing one action costs:
    ``sequences`` candidates (all CEM iterations together) x ``horizon`` steps x E members."""
    return sequences * horizon * ensemble_size


@torch.no_grad()
def predicted_returns(
    model: DynamicsEnsemble, obs: torch.Tensor, actions: torch.Tensor, to_env: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """J of each candidate (see the module doc): ``obs[B, obs_dim]`` and unit actions
    ``[B, N, H, act_dim]`` (``to_env`` maps them to the env's units) -> ``float32[B, N]``."""
    B, N, H, A = actions.shape
    E = model.ensemble_size
    states = obs.float().repeat_interleave(N, dim=0).expand(E, B * N, -1)  # every member starts at s_t
    env_actions = to_env(actions.reshape(B * N * H, A)).reshape(B * N, H, A)
    returns = torch.zeros(E, B * N, device=obs.device)
    for k in range(H):
        states, rewards = model.predict(states, env_actions[:, k].expand(E, B * N, A))
        returns += rewards
    return returns.mean(dim=0).reshape(B, N)


def uniform_sequences(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Uniformly random unit actions of ``shape`` (``[B, N, H, act_dim]``)."""
    return 2.0 * torch.rand(shape, generator=generator, device=generator.device) - 1.0


def random_shooting(
    evaluate: Evaluate, batch: int, horizon: int, act_dim: int, num_sequences: int, generator: torch.Generator
) -> torch.Tensor:
    """The best of ``num_sequences`` uniformly random sequences, for each of ``batch``
    states: ``[B, H, act_dim]`` in [-1, 1]."""
    candidates = uniform_sequences((batch, num_sequences, horizon, act_dim), generator)
    best = evaluate(candidates).argmax(dim=1)  # [B]
    return candidates[torch.arange(batch, device=candidates.device), best]


def cross_entropy_method(
    evaluate: Evaluate,
    batch: int,
    horizon: int,
    act_dim: int,
    num_sequences: int,
    iterations: int,
    elites: int,
    alpha: float,
    init_std: float,
    generator: torch.Generator,
    warm_start: torch.Tensor | None = None,
    warm: torch.Tensor | None = None,
) -> torch.Tensor:
    """CEM's final mean sequence for each of ``batch`` states: ``[B, H, act_dim]`` in [-1, 1].
    ``warm_start[B, H, act_dim]``: initial means, used where ``warm[B]`` (bool; default
    all) is true; the other states start from mean 0 and a uniform first iteration."""
    shape = (batch, num_sequences, horizon, act_dim)
    device = generator.device
    if warm_start is None:
        mean = torch.zeros(batch, horizon, act_dim, device=device)
        warm = torch.zeros(batch, dtype=torch.bool, device=device)
    else:
        warm = warm if warm is not None else torch.ones(batch, dtype=torch.bool, device=device)
        mean = torch.where(warm[:, None, None], warm_start, 0.0)
    std = torch.full_like(mean, init_std)
    for k in range(iterations):
        gaussian = mean.unsqueeze(1) + std.unsqueeze(1) * torch.randn(shape, generator=generator, device=device)
        candidates = gaussian.clamp(-1.0, 1.0)
        if k == 0:  # nothing to refine yet where there is no warm start: random shooting's candidates
            candidates = torch.where(warm[:, None, None, None], candidates, uniform_sequences(shape, generator))
        top = evaluate(candidates).topk(elites, dim=1).indices  # [B, M]
        elite = candidates.gather(1, top[:, :, None, None].expand(-1, -1, horizon, act_dim))  # [B, M, H, A]
        mean = alpha * elite.mean(dim=1) + (1.0 - alpha) * mean
        std = alpha * elite.std(dim=1, unbiased=False) + (1.0 - alpha) * std
    return mean
