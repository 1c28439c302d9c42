"""The offline training loop: :class:`OfflineAgent` trains on a recorded dataset
and never steps an env to learn; the run evaluates it in the env at intervals
(``train.eval_interval``), so its curves land in TensorBoard as any run's do.
An algorithm file (``agents/cql.py``, ``agents/iql.py``) writes its networks,
its policy and one gradient step (the hooks below).

:meth:`OfflineAgent.learn`::

    D = RecordedDataset(algo.data).load()            once, into tensors on the device
    while num_timesteps < total_timesteps:           num_timesteps counts GRADIENT STEPS
        batch = D[uniform indices]                   batch_size draws (the agent's seeded RNG)
        train_step(batch)                            <- the algorithm (CQL's, IQL's losses)
        num_timesteps += 1
        every target_update_interval gradient steps:
            theta_target <- tau theta + (1 - tau) theta_target   for each target_pairs()
        run.on_step(num_timesteps)                   <- evaluation in the env, checkpoints, stop?

A subclass implements ``networks()``, ``optimizers()``, ``target_pairs()``,
``policy_action(obs, deterministic)`` and ``train_step(batch)`` (as an off-policy
agent does: ``agents/off_policy/agent.py``), and may add ``progress_scalars()``,
``extra_state()`` / ``load_extra_state()``.

Checkpoints hold networks, optimisers, the gradient-step counter and RNG states;
not the dataset, which is read again from ``algo.data`` when a resumed run
starts learning. Network names follow the online agents' (``q_network`` /
``target_network`` as DQN's, ``critic`` / ``critic_target`` / ``actor`` /
``temperature`` as SAC's), so ``algo.init_from`` of ``dqn``, ``sac`` and
``sac_discrete`` fine-tunes an offline run online.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

import numpy as np
import torch

from craftlab.agents.network_agent import NetworkAgent, mean_diagnostic
from craftlab.agents.off_policy import update_targets
from craftlab.agents.offline.config import OfflineConfig
from craftlab.agents.offline.dataset import OfflineBatch, discounted_returns, load_offline_data
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError

log = logging.getLogger("craftlab")


class OfflineAgent(NetworkAgent):
    """Dataset, minibatches and the training loop; subclasses implement the hooks in the module doc."""

    config: OfflineConfig

    def __init__(self, config: OfflineConfig, envs, device="cpu", seed: int = 0):
        super().__init__(config, envs, device, seed)
        self.np_rng = np.random.default_rng(seed)
        """the agent's own RNG: minibatch indices (checkpointed)"""
        self.data: OfflineBatch | None = None
        """the whole dataset as tensors (read by the first ``learn``)"""
        self.data_returns: np.ndarray | None = None
        """discounted Monte Carlo return of every dataset transition (``gamma``), ``float64[N]``"""
        self._stats: dict[str, list[torch.Tensor | float]] = {}
        self._next_log = 0

    # ------------------------------------------------------------------ hooks

    # (networks, optimizers, target_pairs, policy_action: NetworkAgent)

    @abstractmethod
    def train_step(self, batch: OfflineBatch) -> dict[str, float | torch.Tensor]:
        """One gradient step on a minibatch. Returns diagnostics (floats or 0-d tensors),
        averaged over ``log_interval`` and logged as ``losses/<key>``."""

    # ------------------------------------------------------------- the data

    def load_data(self) -> OfflineBatch:
        """The dataset of ``algo.data`` as tensors (read on the first call)."""
        if self.data is None:
            if not self.config.data:
                raise ConfigError(
                    f"config key 'algo.data' is empty: {self.name} trains on a recorded dataset; set it to "
                    "a dataset folder (make one with 'python train.py record RUN --out DIR')"
                )
            self.data, batch, dataset = load_offline_data(
                self.config.data, self.observation_space, self.action_space, self.device
            )
            self.data_returns = discounted_returns(batch.reward, batch.done, self.config.gamma)
            m = dataset.manifest
            log.info(
                "dataset %s: %d transitions, %d episodes (policy %s), return %.2f +- %.2f",
                self.config.data,
                len(dataset),
                dataset.num_episodes,
                m.policy,
                m.return_mean,
                m.return_std,
            )
        return self.data

    def sample(self, batch_size: int) -> OfflineBatch:
        """``batch_size`` transitions drawn uniformly with replacement (the agent's RNG)."""
        data = self.load_data()
        index = self.np_rng.integers(0, len(data.rewards), size=batch_size)
        return data.take(torch.as_tensor(index, device=self.device))

    # -------------------------------------------------------------- the loop

    def learn(self, total_timesteps: int, run: RunContext | None = None) -> None:
        """Gradient steps until ``num_timesteps`` (gradient steps) reaches ``total_timesteps``."""
        run = run or RunContext(total_timesteps)
        cfg = self.config
        self.load_data()
        self._next_log = (self.num_timesteps // cfg.log_interval + 1) * cfg.log_interval
        while self.num_timesteps < total_timesteps:
            stats = self.train_step(self.sample(cfg.batch_size))
            self.num_timesteps += 1
            update_targets(self.target_pairs(), cfg.tau, cfg.target_update_interval, self.num_timesteps)
            for key, value in stats.items():  # 0-d tensors stay on the device until logged
                self._stats.setdefault(key, []).append(value.detach() if isinstance(value, torch.Tensor) else value)
            if self.num_timesteps >= self._next_log:
                self._log(run)
            if not run.on_step(self.num_timesteps):
                break

    def _log(self, run: RunContext) -> None:
        scalars = {f"losses/{k}": mean_diagnostic(v) for k, v in self._stats.items() if v}
        scalars.update({f"charts/{k}": v for k, v in self.progress_scalars().items()})
        if self.data_returns is not None:  # what the Q-values of dataset actions can be held against
            scalars["charts/dataset_discounted_return"] = float(self.data_returns.mean())
        run.log(self.num_timesteps, scalars)
        self._stats.clear()
        interval = self.config.log_interval
        self._next_log = (self.num_timesteps // interval + 1) * interval

    # ------------------------------------------------------------- interface

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, the gradient-step counter, RNG (not the dataset)."""
        return self.networks_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_networks_state(state)
