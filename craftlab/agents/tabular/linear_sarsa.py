"""Episodic semi-gradient SARSA with linear function approximation over tile
coding (Silver's Lecture 6; S&B Section 10.1, Mountain Car, Fig 10.1 / 10.2).

The action value is linear in the binary features x(s) of the tile coder,
one weight vector per action:

    q(s, a, w) = w_a . x(s) = sum of w[a, i] over the n_tilings active tiles i

and the semi-gradient SARSA update (grad_w q(S, A, w) = x(S) for action A) is

    delta = R + gamma q(S', A', w) - q(S, A, w)      (delta = R - q(S, A, w) if S' is terminal)
    w_A  <- w_A + alpha / n_tilings * delta * x(S)

so ``alpha`` is the step size of the whole feature vector: with 8 tilings
S&B's alpha = 0.5/8 per tile is ``alpha: 0.5`` here. With ``initial_value: 0``
and rewards of -1 per step every untried action looks better than a tried one
(optimistic initial values), which explores on its own: S&B use epsilon = 0.

Gymnasium's MountainCar-v0 cuts episodes at 200 steps (truncated, not
terminal: the update still bootstraps from q(S', A')), so a return of -200
means the goal was not reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.tabular.base import EpisodicAgent, TabularConfig, argmax_random
from craftlab.agents.tabular.display import save_cost_to_go
from craftlab.agents.tabular.tile_coding import TileCoder
from craftlab.core.config import require

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory


@dataclass
class LinearSarsaConfig(TabularConfig):
    """Settings of semi-gradient SARSA with tile coding."""

    alpha: float = 0.5
    """step size of the feature vector; each active tile's weight moves by alpha / n_tilings * delta"""
    epsilon: float = 0.0
    """exploration rate (S&B use 0: the optimistic initial values explore)"""
    n_tilings: int = 8
    """number of offset tilings (S&B: 8)"""
    tiles: int = 8
    """tiles per dimension of each tiling over [low, high] (S&B: 8 x 8; one more is added for the offsets)"""
    initial_value: float = 0.0
    """initial q(s, a) of every state and action (0 is optimistic when every reward is -1)"""
    low: list[float] = field(default_factory=list)
    """lower bounds of the tiled box, one per observation dimension; [] takes the observation space's"""
    high: list[float] = field(default_factory=list)
    """upper bounds of the tiled box; [] takes the observation space's"""

    def validate(self) -> None:
        super().validate()
        require(0.0 < self.alpha <= 1.0, "alpha", "must be in (0, 1]")
        require(0.0 <= self.epsilon <= 1.0, "epsilon", "must be in [0, 1]")
        require(self.n_tilings >= 1, "n_tilings", "must be >= 1")
        require(self.tiles >= 1, "tiles", "must be >= 1")
        require(len(self.low) == len(self.high), "high", "must have as many entries as low")


class LinearSarsa(EpisodicAgent):
    """Semi-gradient SARSA, q(s, a) = w_a . x(s) with tile-coded x(s) (Box observations, Discrete actions)."""

    name = "linear_sarsa"
    Config = LinearSarsaConfig
    config: LinearSarsaConfig

    def __init__(
        self, config: LinearSarsaConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0
    ):
        super().__init__(config, envs, device, seed)
        space = self.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise TypeError(f"linear_sarsa needs a 1-D Box observation space, got {space}")
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise TypeError(f"linear_sarsa needs a Discrete action space, got {self.action_space}")
        low = np.array(config.low, dtype=np.float64) if config.low else space.low.astype(np.float64)
        high = np.array(config.high, dtype=np.float64) if config.high else space.high.astype(np.float64)
        if low.shape != space.shape:
            raise ValueError(f"algo.low/high need {space.shape[0]} entries (one per observation dimension)")
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"{envs.id}'s observation space is unbounded; set algo.low and algo.high")
        self.tiling = TileCoder(low, high, config.n_tilings, config.tiles)
        self.n_actions = int(self.action_space.n)
        # q(s, a) sums n_tilings weights, so each starts at initial_value / n_tilings
        self.w = np.full((self.n_actions, self.tiling.n_features), config.initial_value / config.n_tilings)
        """weights ``float64[n_actions, n_features]``: q(s, a) = w[a] . x(s)"""

    # ------------------------------------------------------------ the policy

    def q(self, tiles: np.ndarray) -> np.ndarray:
        """q(s, ., w) for all actions, ``float64[n_actions]``, from s's active tiles."""
        return self.w[:, tiles].sum(axis=1)

    def epsilon_greedy(self, tiles: np.ndarray) -> int:
        """A ~ epsilon-greedy(q)(s) (greedy ties broken at random)."""
        if self.config.epsilon > 0 and self.rng.random() < self.config.epsilon:
            return int(self.rng.integers(self.n_actions))
        return argmax_random(self.q(tiles), self.rng)

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, self.tiling.dims)
        if deterministic:
            actions = [argmax_random(self.q(self.tiling.active(o)), self.rng) for o in obs]
        else:
            actions = [self.epsilon_greedy(self.tiling.active(o)) for o in obs]
        return np.array(actions, dtype=np.int64), state

    # ------------------------------------------------------------ learning

    def run_episode(self) -> dict[str, float]:
        gamma = self.config.gamma
        step_size = self.config.alpha / self.config.n_tilings  # alpha per tile
        tiles = self.tiling.active(self.reset_env())  # x(S): its active tiles
        a = self.epsilon_greedy(tiles)
        done, abs_td = False, 0.0
        while not done:
            obs, r, terminated, truncated = self.step_env(a)
            q_sa = self.w[a, tiles].sum()
            if terminated:
                delta = r - q_sa  # terminal: q(S', .) = 0
            else:
                tiles2 = self.tiling.active(obs)
                a2 = self.epsilon_greedy(tiles2)
                delta = r + gamma * self.w[a2, tiles2].sum() - q_sa  # R + gamma q(S', A') - q(S, A)
            self.w[a, tiles] += step_size * delta  # w_A <- w_A + alpha delta x(S)
            abs_td += abs(delta)
            done = terminated or truncated
            if not done:
                tiles, a = tiles2, a2
        return {"losses/td_error": abs_td, "charts/epsilon": self.config.epsilon}

    def tables(self) -> dict[str, np.ndarray]:
        return {"w": self.w}

    # ------------------------------------------------------------ display

    def on_learn_end(self, run: "RunContext | None") -> None:
        run_dir = getattr(run, "run_dir", None) if run is not None else None
        if run_dir is None or self.tiling.dims != 2:
            return

        title = f"{self.name} on {self.envs.id}: cost-to-go -max_a q(s, a) after {self.episodes} episodes"
        save_cost_to_go(
            lambda x: -self.q(self.tiling.active(x)).max(),
            self.tiling.low,
            self.tiling.high,
            run_dir,
            title=title,
            labels=_axis_labels(self.envs.id),
        )


def _axis_labels(env_id: str) -> tuple[str, str]:
    if env_id.startswith("MountainCar"):
        return "position", "velocity"
    return "observation[0]", "observation[1]"
