"""What every tabular (and linear) agent of Silver's course shares.

* :class:`EpisodicAgent` -- one environment, the episode loop, the step
  counter, reporting to the run, checkpoints of numpy tables.
* :class:`TabularAgent` -- adds the state index: a ``Discrete`` observation is
  its own index; a ``Tuple`` of ``Discrete`` (Blackjack) is flattened to one.
* :class:`ControlAgent` -- an action-value table ``Q[s, a]`` and the
  epsilon-greedy policy derived from it (Lecture 5).
* :class:`PredictionAgent` -- a state-value table ``V[s]`` learned for a
  fixed policy ``pi`` whose true values dynamic programming computes from the
  model, so ``charts/rms_error`` can be logged (Lecture 4).

An algorithm module subclasses one of these and writes :meth:`run_episode`,
the body of Sutton & Barto's "Loop for each episode" box, reading top to
bottom like the pseudo-code. Symbols follow the book: ``alpha`` step size,
``gamma`` discount, ``epsilon`` exploration, ``G`` a return, ``delta`` a TD error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.base import Agent, AgentConfig, rng_state, set_rng_state
from craftlab.agents.tabular import planning
from craftlab.agents.tabular.display import save_values
from craftlab.agents.tabular.planning import TabularModel
from craftlab.core.config import ConfigError, require

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory


@dataclass
class TabularConfig(AgentConfig):
    """Settings every agent of Silver's course has."""

    gamma: float = 1.0
    """discount factor gamma in [0, 1] (1 for episodic tasks, as S&B's examples)"""

    def validate(self) -> None:
        require(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")


@dataclass
class ControlConfig(TabularConfig):
    """Settings of a model-free control agent with an epsilon-greedy policy."""

    alpha: float = 0.1
    """step size alpha of the updates, in (0, 1]"""
    epsilon: float = 0.1
    """exploration rate: probability of a uniformly random action"""
    epsilon_decay_episodes: int = 0
    """0 keeps epsilon constant; k > 0 decays it as epsilon / (1 + episode / k), which
    goes to 0 like 1/episode (GLIE: greedy in the limit, infinite exploration)"""
    initial_value: float = 0.0
    """initial Q(s, a) of every pair (optimistic values > 0 drive early exploration)"""

    def validate(self) -> None:
        super().validate()
        require(0.0 < self.alpha <= 1.0, "alpha", "must be in (0, 1]")
        require(0.0 <= self.epsilon <= 1.0, "epsilon", "must be in [0, 1]")
        require(self.epsilon_decay_episodes >= 0, "epsilon_decay_episodes", "must be >= 0")


@dataclass
class PredictionConfig(TabularConfig):
    """Settings of a prediction agent (it learns V of a fixed policy)."""

    alpha: float = 0.1
    """step size alpha of the updates, in (0, 1]"""
    policy: Literal["uniform", "optimal"] = "uniform"
    """policy to evaluate: 'uniform' picks actions uniformly at random (the random walk);
    'optimal' is the greedy policy of value iteration on the env's model"""
    initial_value: float = 0.0
    """initial V(s) of every state"""

    def validate(self) -> None:
        super().validate()
        require(0.0 < self.alpha <= 1.0, "alpha", "must be in (0, 1]")


# ============================================================== episode loop


class EpisodicAgent(Agent):
    """One environment, stepped an episode at a time by :meth:`run_episode`.

    ``num_timesteps`` counts environment steps. ``learn`` finishes the episode
    in progress when the budget runs out, so it may overshoot by part of an
    episode. Subclasses list their numpy arrays in :meth:`tables` and get
    ``state_dict``/``load_state_dict`` for free.
    """

    Config = TabularConfig

    def __init__(self, config: TabularConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.env: gym.Env = envs.make(0)
        self.rng = np.random.default_rng(seed)
        """the agent's own random numbers (exploration, tie-breaking)"""
        self.episodes = 0
        """episodes finished so far"""
        self._run: "RunContext | None" = None
        self._env_seeded = False

    # ------------------------------------------------------------- the loop

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        self._run = run
        try:
            while self.num_timesteps < total_timesteps:
                stats = self.run_episode()
                self.episodes += 1
                if run is not None:
                    if stats:
                        run.log(self.num_timesteps, stats)
                    if not run.on_step(self.num_timesteps):
                        break
            self.on_learn_end(run)
        finally:
            self._run = None

    def run_episode(self) -> dict[str, float]:
        """Play (and learn from) one episode; return scalars to log, by TensorBoard tag."""
        raise NotImplementedError

    def on_learn_end(self, run: "RunContext | None") -> None:
        """Called once when ``learn`` stops (the tabular agents draw their tables here)."""

    def reset_env(self) -> Any:
        """Start an episode; the first reset seeds the env with the run's seed."""
        if not self._env_seeded:
            obs, _ = self.env.reset(seed=self.seed)
            self._env_seeded = True
        else:
            obs, _ = self.env.reset()
        return obs

    def step_env(self, action: int) -> tuple[Any, float, bool, bool]:
        """One environment step: ``(next_obs, reward, terminated, truncated)``.
        Counts the step and reports a finished episode to the run."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.num_timesteps += 1
        if "episode" in info and self._run is not None:
            self._run.record_episode(self.num_timesteps, info["episode"])
        return obs, float(reward), bool(terminated), bool(truncated)

    # ------------------------------------------------------------ checkpoints

    def tables(self) -> dict[str, np.ndarray]:
        """The numpy arrays that are this agent's learned state, by name."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {
            "tables": {k: torch.from_numpy(np.array(v)) for k, v in self.tables().items()},
            "num_timesteps": self.num_timesteps,
            "episodes": self.episodes,
            "rng": rng_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, array in self.tables().items():
            array[...] = state["tables"][name].numpy()  # in place: the attributes stay the same arrays
        self.num_timesteps = int(state["num_timesteps"])
        self.episodes = int(state["episodes"])
        set_rng_state(state["rng"], self.rng)

    def close(self) -> None:
        self.env.close()


class StateIndex:
    """Observation -> row of a table. ``Discrete(n)``: the observation itself;
    ``Tuple(Discrete(n1), Discrete(n2), ...)``: its mixed-radix number."""

    def __init__(self, space: gym.Space):
        if isinstance(space, gym.spaces.Discrete):
            self.dims: tuple[int, ...] = (int(space.n),)
            self.start = (int(space.start),)
        elif isinstance(space, gym.spaces.Tuple) and all(isinstance(s, gym.spaces.Discrete) for s in space.spaces):
            self.dims = tuple(int(s.n) for s in space.spaces)
            self.start = tuple(int(s.start) for s in space.spaces)
        else:
            raise TypeError(f"tabular agents need Discrete or Tuple(Discrete...) observations, got {space}")
        self.n = int(np.prod(self.dims))

    def __call__(self, obs: Any) -> int:
        if len(self.dims) == 1:
            return int(obs) - self.start[0]
        index = 0
        for o, start, n in zip(obs, self.start, self.dims):  # mixed radix: ((o0 * n1) + o1) * n2 + o2 ...
            index = index * n + int(o) - start
        return index


def is_table_space(space: gym.Space) -> bool:
    """Whether :class:`StateIndex` can number the observations of ``space``."""
    return isinstance(space, gym.spaces.Discrete) or (
        isinstance(space, gym.spaces.Tuple) and all(isinstance(s, gym.spaces.Discrete) for s in space.spaces)
    )


class TabularAgent(EpisodicAgent):
    """An episodic agent whose states index tables (``Discrete`` actions only)."""

    def __init__(self, config: TabularConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        # checked before the env is built: a table needs countable states and actions
        if not is_table_space(envs.observation_space):
            raise ConfigError(
                f"algorithm '{self.name}' is tabular: it needs Discrete (or Tuple of Discrete) observations, but "
                f"env '{envs.id}' gives {envs.observation_space}; pick a tabular env such as "
                "tabular/windy_gridworld or FrozenLake-v1, or a deep agent such as ppo (python train.py list)"
            )
        if not isinstance(envs.action_space, gym.spaces.Discrete):
            raise ConfigError(
                f"algorithm '{self.name}' is tabular: it needs a Discrete action space, but env '{envs.id}' has "
                f"{envs.action_space}; pick an env with discrete actions or a deep agent such as ppo"
            )
        super().__init__(config, envs, device, seed)
        self.index = StateIndex(self.observation_space)
        self.n_states = self.index.n
        self.n_actions = int(self.action_space.n)

    def model(self):
        """The environment's model ``P`` (``env.unwrapped.P``) as arrays, or None
        when the env has none (Blackjack, the testbed's random rewards)."""
        P = getattr(self.env.unwrapped, "P", None)
        return None if P is None else TabularModel.from_P(P, self.n_states, self.n_actions)

    def batch_act(self, obs: Any, choose) -> np.ndarray:
        """Apply ``choose(state_index) -> action`` to each observation of a batch."""
        if isinstance(self.observation_space, gym.spaces.Tuple):
            batch = list(zip(*[np.asarray(o).reshape(-1) for o in obs])) if isinstance(obs, tuple) else obs
        else:
            batch = np.asarray(obs).reshape(-1)
        return np.array([choose(self.index(o)) for o in batch], dtype=np.int64)

    def on_learn_end(self, run: "RunContext | None") -> None:
        run_dir = getattr(run, "run_dir", None) if run is not None else None
        values = self.values()
        if run_dir is None or values is None:
            return
        save_values(self.env, values[0], values[1], run_dir, title=f"{self.name} on {self.envs.id}")

    def values(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        """``(V float64[n_states], greedy action int64[n_states] or None)`` to show, if any."""
        return None


def argmax_random(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of a largest entry, ties broken uniformly at random (a fixed
    tie-break would bias exploration towards action 0)."""
    row = values.tolist()  # plain Python is faster than numpy for a handful of actions
    top = max(row)
    best = [a for a, q in enumerate(row) if q == top]
    return best[0] if len(best) == 1 else best[int(rng.integers(len(best)))]


# ============================================================ control: Q(s, a)


class ControlAgent(TabularAgent):
    """Learns ``Q float64[n_states, n_actions]``; behaves epsilon-greedily."""

    Config = ControlConfig
    config: ControlConfig

    def __init__(self, config: ControlConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.Q = np.full((self.n_states, self.n_actions), config.initial_value, dtype=np.float64)

    @property
    def epsilon(self) -> float:
        """epsilon of the current episode (see ``epsilon_decay_episodes``)."""
        k = self.config.epsilon_decay_episodes
        return self.config.epsilon if k == 0 else self.config.epsilon / (1.0 + self.episodes / k)

    def epsilon_greedy(self, s: int, Q: np.ndarray | None = None) -> int:
        """A ~ epsilon-greedy(Q)(s): random with probability epsilon, else a greedy action."""
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        return argmax_random((self.Q if Q is None else Q)[s], self.rng)

    def epsilon_greedy_probs(self, s: int, Q: np.ndarray | None = None) -> np.ndarray:
        """pi(.|s) of the epsilon-greedy policy, ``float64[n_actions]`` (greedy ties share the mass)."""
        q = (self.Q if Q is None else Q)[s]
        greedy = q == q.max()
        return self.epsilon / self.n_actions + (1.0 - self.epsilon) * greedy / greedy.sum()

    def greedy_table(self) -> np.ndarray:
        """The greedy policy as ``int64[n_states]`` (first best action)."""
        return np.argmax(self.Q, axis=1)

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        if deterministic:
            return self.batch_act(obs, lambda s: argmax_random(self.Q[s], self.rng)), state
        return self.batch_act(obs, self.epsilon_greedy), state

    def tables(self) -> dict[str, np.ndarray]:
        return {"Q": self.Q}

    def values(self):
        return self.Q.max(axis=1), self.greedy_table()


# ====================================================== prediction: V(s) of pi


class PredictionAgent(TabularAgent):
    """Learns ``V float64[n_states]`` of the fixed policy ``pi float64[n_states, n_actions]``.

    When the environment has a model, the true values ``v_pi`` are computed
    once by dynamic programming and each episode logs ``charts/rms_error``,
    the root-mean-square error of V over the non-terminal states.
    """

    Config = PredictionConfig
    config: PredictionConfig

    def __init__(self, config: PredictionConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.V = np.full(self.n_states, config.initial_value, dtype=np.float64)
        model = self.model()
        self.pi = np.full((self.n_states, self.n_actions), 1.0 / self.n_actions)
        if config.policy == "optimal":
            if model is None:
                raise ValueError("policy 'optimal' needs an environment with a model (env.unwrapped.P)")
            _, greedy, _ = planning.value_iteration(model, config.gamma)
            self.pi = np.eye(self.n_actions)[greedy]
        self.v_true: np.ndarray | None = None
        """v_pi by dynamic programming, ``float64[n_states]`` (None without a model)"""
        self.scored = np.ones(self.n_states, dtype=bool)
        """the states the RMS error averages over: the non-terminal ones"""
        if model is not None:
            self.v_true, _ = planning.policy_evaluation(model, self.pi, config.gamma, theta=1e-12)
            self.V[model.terminal] = 0.0  # the value of a terminal state is 0 by definition
            self.scored = ~model.terminal

    def policy_action(self, s: int) -> int:
        """A ~ pi(.|s)."""
        if self.config.policy == "uniform":
            return int(self.rng.integers(self.n_actions))  # the same distribution, sampled faster
        return int(self.rng.choice(self.n_actions, p=self.pi[s]))

    def rms_error(self) -> float:
        """sqrt(mean_s (V(s) - v_pi(s))^2) over non-terminal states (NaN without a model)."""
        if self.v_true is None:
            return math.nan
        err = self.V[self.scored] - self.v_true[self.scored]
        return float(np.sqrt(np.mean(err**2)))

    def log_stats(self, **scalars: float) -> dict[str, float]:
        """The per-episode scalars every prediction agent logs, plus ``scalars``."""
        stats = {"charts/rms_error": self.rms_error()} if self.v_true is not None else {}
        stats.update(scalars)
        return stats

    def act(self, obs, state=None, episode_start=None, deterministic=True):
        return self.batch_act(obs, self.policy_action), state

    def tables(self) -> dict[str, np.ndarray]:
        return {"V": self.V}

    def values(self):
        return self.V, None
