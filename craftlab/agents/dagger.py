"""DAgger: dataset aggregation with a queryable expert (Ross, Gordon & Bagnell 2011).

Behaviour cloning trains on the states the expert visits; once the learner errs
it reaches states the expert never showed it, and errs more (its cost can grow
quadratically in the horizon). DAgger asks the expert what it would do in the
states the *learner* visits and trains on the union of all the data so far.

Algorithm 1 of the paper, with an optional initial dataset ``D_0`` (a recorded
dataset ``algo.data`` and/or ``algo.initial_episodes`` episodes of the expert)::

    D <- D_0;  pi_hat_1 <- train on D        (the initial policy when D_0 is empty)
    for i = 1 .. N:
        pi_i = beta_i pi* + (1 - beta_i) pi_hat_i      (the expert acts with probability beta_i)
        sample trajectories with pi_i
        D_i = {(s, pi*(s)) : s visited by pi_i}       (every visited state, the expert's label)
        D <- D u D_i                                   (aggregate)
        pi_hat_{i+1} <- train on D                     (behaviour cloning on all data so far)
    return pi_hat_{N+1}

with ``beta_i = beta0 * beta_decay^(i - 1)``: the defaults ``beta0 = 1``,
``beta_decay = 0`` give the paper's ``beta_1 = 1, beta_i = 0 for i > 1``.

The learner is :class:`craftlab.agents.bc.BehaviourCloning`'s policy and loss
(:class:`~craftlab.agents.bc.BCPolicy`: encoder + logits; summed cross-entropy
over the heads of Discrete or MultiDiscrete actions; for bounded Box actions a
tanh-squashed deterministic head fitted by squared error), trained on the
aggregated dataset in memory (``D`` is saved in checkpoints, so keep it small:
CartPole's 4 floats per state). Training continues from the previous
iteration's weights (a warm start; the paper trains each ``pi_hat`` anew).

``num_timesteps`` counts env steps of the DAgger rollouts (of ``pi_i``, summed
over parallel envs); the expert episodes of ``D_0`` are not counted (logged as
``dagger/initial_transitions``). Training ends after ``algo.iterations``
iterations or ``train.total_timesteps`` env steps, whichever comes first.
The expert is loaded when training starts (:func:`craftlab.agents.expert.load_expert`),
so evaluating a DAgger run needs no expert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from craftlab.agents.base import Agent, AgentConfig, rng_state, set_rng_state
from craftlab.agents.bc import BOX_TOLERANCE, BCConfig, BehaviourCloning, clonable_actions
from craftlab.agents.expert import Expert, load_expert
from craftlab.agents.networks import NetworkConfig
from craftlab.core.config import ConfigError, require
from craftlab.datasets.recorded import RecordedDataset
from craftlab.envs.episode_stats import finished_episodes

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.run_context import RunContext
    from craftlab.envs.factory import EnvFactory

Obs = Any
"""``np.ndarray[B, ...]``, or a dict of them for Dict observations"""


@dataclass
class DAggerConfig(AgentConfig):
    """DAgger settings (Ross et al. 2011, Algorithm 1)."""

    name: str = "dagger"
    """algorithm name"""
    expert: str = ""
    """the queryable expert pi*: scripted:NAME (craftlab.envs.scripted) or a craftlab run folder,
    checkpoint folder or agent.pt (same env spaces)"""
    data: str = ""
    """a recorded dataset folder (train.py record) for the initial data D_0; empty: none"""
    initial_episodes: int = 0
    """expert episodes added to D_0 before the first iteration (not counted in num_timesteps)"""
    iterations: int = 10
    """N, the number of DAgger iterations (rollout, aggregate, train)"""
    episodes_per_iteration: int = 4
    """a rollout of pi_i ends after this many finished episodes (0: only steps_per_iteration)"""
    steps_per_iteration: int = 0
    """... or after this many env steps, summed over envs, if sooner (0: only episodes_per_iteration)"""
    beta0: float = 1.0
    """beta_1, the probability that the expert acts in iteration 1's rollout"""
    beta_decay: float = 0.0
    """beta_i = beta0 * beta_decay^(i-1) (0: the paper's beta_1 = 1, beta_i = 0 after it)"""
    epochs_per_iteration: int = 10
    """passes over the aggregated dataset D each time pi_hat is trained"""
    gradient_steps_per_iteration: int = 0
    """if > 0: this many minibatch steps each time pi_hat is trained, instead of epochs_per_iteration"""
    batch_size: int = 64
    """states per gradient step"""
    learning_rate: float = 1e-3
    """Adam learning rate"""
    weight_decay: float = 0.0
    """Adam weight decay"""
    max_grad_norm: float = 10.0
    """gradient clipping (0: off)"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the learner's encoder (BCPolicy: encoder + linear head)"""

    def validate(self) -> None:
        require(self.expert != "", "expert", "is required: scripted:NAME or a craftlab run folder")
        require(self.initial_episodes >= 0, "initial_episodes", "must be >= 0")
        require(self.iterations >= 1, "iterations", "must be >= 1")
        require(self.episodes_per_iteration >= 0, "episodes_per_iteration", "must be >= 0")
        require(self.steps_per_iteration >= 0, "steps_per_iteration", "must be >= 0")
        require(
            self.episodes_per_iteration > 0 or self.steps_per_iteration > 0,
            "episodes_per_iteration",
            "or steps_per_iteration must be > 0 (a rollout must end)",
        )
        require(0.0 <= self.beta0 <= 1.0, "beta0", "must be in [0, 1]")
        require(0.0 <= self.beta_decay <= 1.0, "beta_decay", "must be in [0, 1]")
        require(self.epochs_per_iteration >= 1, "epochs_per_iteration", "must be >= 1")
        require(self.gradient_steps_per_iteration >= 0, "gradient_steps_per_iteration", "must be >= 0")
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.learning_rate > 0, "learning_rate", "must be > 0")


class LabelledStates(NamedTuple):
    """States and the expert's actions there: ``obs`` ``[N, *obs_shape]`` (a dict of them
    for Dict spaces), ``expert_actions`` ``int64[N]`` (Discrete), ``int64[N, D]`` (MultiDiscrete)
    or ``float32[N, *action_shape]`` (Box)."""

    obs: Obs
    expert_actions: np.ndarray

    def __len__(self) -> int:
        return len(self.expert_actions)


class Rollout(NamedTuple):
    """One rollout of pi_i: the labelled states it visited, and how it did."""

    states: LabelledStates
    returns: list[float]
    """returns of the episodes that finished"""
    expert_agreement: float
    """fraction of visited states where pi_hat_i's greedy action equals the expert's"""


class DAgger(Agent):
    """DAgger (Ross et al. 2011): behaviour cloning on the states the learner visits, labelled by a queryable expert."""

    name = "dagger"
    Config = DAggerConfig

    def __init__(self, config: DAggerConfig, envs: "EnvFactory", device: torch.device | str = "cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        space = self.action_space
        if not clonable_actions(space):
            raise ConfigError(
                f"config key 'algo.name': dagger needs Discrete, MultiDiscrete or bounded Box actions, but env "
                f"'{envs.id}' has {space}; use another env or a wrapper that bounds the actions"
            )
        self.continuous = isinstance(space, gym.spaces.Box)
        self.label_dtype = np.float32 if self.continuous else np.int64
        # The learner pi_hat: behaviour cloning's policy, optimiser and loss.
        self.learner = BehaviourCloning(
            BCConfig(
                batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                weight_decay=config.weight_decay,
                max_grad_norm=config.max_grad_norm,
                network=config.network,
            ),
            envs,
            device,
            seed,
        )
        self.np_rng = np.random.default_rng(seed)
        self.dataset: LabelledStates | None = None
        """D, the aggregated dataset"""
        self.iteration = 0
        """DAgger iterations completed"""
        self.expert: Expert | None = None
        self._vec_env: gym.vector.VectorEnv | None = None

    # ------------------------------------------------------------ the loop

    def learn(self, total_timesteps: int, run: "RunContext | None" = None) -> None:
        cfg: DAggerConfig = self.config  # type: ignore[assignment]
        if self.expert is None:
            self.expert = load_expert(cfg.expert, self.envs, self.device)
        if self.iteration == 0 and self.dataset is None:
            # D <- D_0 (recorded data and/or expert episodes); pi_hat_1 <- train on D
            initial = self._initial_data()
            if initial is not None:
                self._aggregate(initial)
                loss, accuracy = self._train_policy()
                if run is not None:
                    run.log(
                        self.num_timesteps,
                        {
                            "dagger/initial_transitions": float(len(initial)),
                            "dagger/dataset_size": float(len(initial)),
                            "losses/bc_loss": loss,
                            "losses/bc_accuracy": accuracy,
                        },
                    )
        while self.iteration < cfg.iterations and self.num_timesteps < total_timesteps:
            i = self.iteration + 1
            beta = cfg.beta0 * cfg.beta_decay ** (i - 1)  # beta_i
            # Sample trajectories with pi_i = beta_i pi* + (1 - beta_i) pi_hat_i; D_i = {(s, pi*(s))}
            rollout = self._rollout(beta, cfg.episodes_per_iteration, cfg.steps_per_iteration, run)
            self._aggregate(rollout.states)  # D <- D u D_i
            loss, accuracy = self._train_policy()  # pi_hat_{i+1} <- train on D
            self.iteration = i
            if run is not None:
                scalars = {
                    "dagger/iteration": float(i),
                    "dagger/beta": beta,
                    "dagger/dataset_size": float(len(self.dataset or ())),
                    "dagger/expert_agreement": rollout.expert_agreement,
                    "losses/bc_loss": loss,
                    "losses/bc_accuracy": accuracy,
                }
                if rollout.returns:
                    scalars["charts/rollout_return"] = float(np.mean(rollout.returns))
                run.log(self.num_timesteps, scalars)
                if not run.on_step(self.num_timesteps):
                    break

    def _initial_data(self) -> LabelledStates | None:
        """D_0: the recorded dataset's states and actions, then ``initial_episodes`` expert episodes."""
        cfg: DAggerConfig = self.config  # type: ignore[assignment]
        parts = []
        if cfg.data:
            dataset = RecordedDataset(cfg.data)
            dataset.check_spaces(self.observation_space, self.action_space)
            batch = dataset.load()
            parts.append(LabelledStates(batch.obs, np.asarray(batch.action, self.label_dtype)))
        if cfg.initial_episodes > 0:
            expert_rollout = self._rollout(1.0, cfg.initial_episodes, 0, None, count=False)
            parts.append(expert_rollout.states)
        return _concatenate(parts) if parts else None

    def _rollout(
        self, beta: float, episodes: int, max_steps: int, run: "RunContext | None", count: bool = True
    ) -> Rollout:
        """Run ``pi_i = beta pi* + (1 - beta) pi_hat_i`` in the vector env (reset with fresh
        seeds) until ``episodes`` episodes finished or ``max_steps`` env steps (0: no cap);
        label every state it visits with the expert's action. ``count``: add the steps
        to ``num_timesteps`` and record the episodes."""
        assert self.expert is not None
        if self._vec_env is None:
            self._vec_env = self.envs.make_vector()
        env = self._vec_env
        n = env.num_envs
        obs, _ = env.reset(seed=[int(s) for s in self.np_rng.integers(0, 2**31 - 1, size=n)])  # type: ignore[arg-type]
        visited: list[Obs] = []
        labels: list[np.ndarray] = []
        agree: list[np.ndarray] = []
        returns: list[float] = []
        steps = 0
        while (episodes <= 0 or len(returns) < episodes) and (max_steps <= 0 or steps < max_steps):
            expert_action = self.expert(obs).astype(self.label_dtype)  # a*_t = pi*(s_t), the label
            learner_action, _ = self.learner.act(obs, deterministic=True)  # pi_hat_i(s_t)
            use_expert = self.np_rng.random(n) < beta  # the mixture: pi* with probability beta_i
            mask = use_expert.reshape(n, *([1] * (expert_action.ndim - 1)))
            action = np.where(mask, expert_action, learner_action)
            visited.append(_copy(obs))
            labels.append(expert_action)
            agree.append(self._agrees(learner_action, expert_action))
            obs, _, _, _, infos = env.step(action)
            steps += n
            if count:
                self.num_timesteps += n
            for _, episode in finished_episodes(infos):
                returns.append(float(episode["r"]))
                if run is not None and count:
                    run.record_episode(self.num_timesteps, episode)
        states = LabelledStates(_concatenate_obs(visited), np.concatenate(labels))
        return Rollout(states, returns, float(np.concatenate(agree).mean()))

    def _agrees(self, learner_action: np.ndarray, expert_action: np.ndarray) -> np.ndarray:
        """Per env: the learner's action is the expert's (Box: every dimension within
        ``BOX_TOLERANCE`` of the action range)."""
        n = len(expert_action)
        if self.continuous:
            space = self.action_space
            tolerance = BOX_TOLERANCE * (np.asarray(space.high) - np.asarray(space.low))  # type: ignore[attr-defined]
            return (np.abs(learner_action - expert_action) <= tolerance).reshape(n, -1).all(-1)
        return (learner_action == expert_action).reshape(n, -1).all(-1)

    def _aggregate(self, new: LabelledStates) -> None:
        """D <- D u new."""
        self.dataset = new if self.dataset is None else _concatenate([self.dataset, new])

    def _train_policy(self) -> tuple[float, float]:
        """Behaviour cloning on D: ``epochs_per_iteration`` shuffled passes (or
        ``gradient_steps_per_iteration`` minibatches); returns the mean loss and accuracy."""
        cfg: DAggerConfig = self.config  # type: ignore[assignment]
        assert self.dataset is not None
        size = len(self.dataset)
        batches_per_epoch = -(-size // cfg.batch_size)
        steps = cfg.gradient_steps_per_iteration or cfg.epochs_per_iteration * batches_per_epoch
        policy, optimizer = self.learner.policy, self.learner.optimizer
        policy.train()
        losses, accuracies = [], []
        order = np.empty(0, np.int64)
        for _ in range(steps):
            if len(order) == 0:
                order = self.np_rng.permutation(size)
            index, order = order[: cfg.batch_size], order[cfg.batch_size :]
            # cross-entropy (Box: squared error) between pi_hat(s) and the expert's action a* = pi*(s)
            loss, accuracy = self.learner.loss(_take(self.dataset.obs, index), self.dataset.expert_actions[index])
            optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
            accuracies.append(accuracy)
        policy.eval()
        return float(np.mean(losses)), float(np.mean(accuracies))

    # ------------------------------------------------------------ interface

    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        return self.learner.act(obs, state, episode_start, deterministic)

    def state_dict(self) -> dict[str, Any]:
        """The learner's state (``policy``, ``optimizer``: BC's names, so ``algo.init_from``
        reads it) + the aggregated dataset D + the iteration count."""
        data = self.dataset
        return {
            **self.learner.state_dict(),
            "num_timesteps": self.num_timesteps,
            "rng": rng_state(self.np_rng),
            "iteration": self.iteration,
            "dataset_obs": None if data is None else _to_tensor(data.obs),
            "dataset_expert_actions": None if data is None else torch.from_numpy(data.expert_actions),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state)
        self.num_timesteps = int(state["num_timesteps"])
        self.iteration = int(state["iteration"])
        set_rng_state(state["rng"], self.np_rng)
        if state.get("dataset_expert_actions") is None:
            self.dataset = None
        else:
            self.dataset = LabelledStates(_to_numpy(state["dataset_obs"]), state["dataset_expert_actions"].numpy())

    def close(self) -> None:
        if self._vec_env is not None:
            self._vec_env.close()
            self._vec_env = None


# ---------------------------------------------------------------- helpers (Dict observations too)


def _copy(obs: Obs) -> Obs:
    return {k: np.array(v) for k, v in obs.items()} if isinstance(obs, dict) else np.array(obs)


def _take(obs: Obs, index: np.ndarray) -> Obs:
    return {k: v[index] for k, v in obs.items()} if isinstance(obs, dict) else obs[index]


def _concatenate_obs(items: list[Obs]) -> Obs:
    if isinstance(items[0], dict):
        return {k: np.concatenate([it[k] for it in items]) for k in items[0]}
    return np.concatenate(items)


def _concatenate(parts: list[LabelledStates]) -> LabelledStates:
    return LabelledStates(_concatenate_obs([p.obs for p in parts]), np.concatenate([p.expert_actions for p in parts]))


def _to_tensor(obs: Obs) -> Any:
    if isinstance(obs, dict):
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in obs.items()}
    return torch.from_numpy(np.ascontiguousarray(obs))


def _to_numpy(obs: Any) -> Obs:
    return {k: v.numpy() for k, v in obs.items()} if isinstance(obs, dict) else obs.numpy()
