"""Offline RL (``agents/offline/``, ``agents/cql.py``, ``agents/iql.py``) learns from a
recorded dataset alone, and an offline run fine-tunes online (``algo.init_from``):

- on CartPole episodes of a mediocre policy (the scripted expert with 30% random actions:
  return 327 +- 132), CQL's greedy policy balances the pole while naive offline DQN
  (the same agent with ``cql_alpha: 0``, same data, budget and seed) falls at once; naive
  DQN's Q-values of the data's own actions are many times the data's discounted returns,
  CQL's are not, and CQL's value of its start states is below what its policy earns;
- on episodes of a bad policy (the expert's action flipped with probability 0.55: the
  wrong action is the majority everywhere), IQL's advantage-weighted policy beats
  behaviour cloning (IQL with ``temperature: 0``: the same network and loss, unweighted);
- Box actions (``cql_continuous``, a Box ``iql``) on the continuous observation-action
  probe, from uniformly random actions: the greedy action follows the observation;
- a ``dqn`` run with ``init_from`` the CQL run starts at the CQL policy's return, where
  the same DQN from scratch is still near random;
- checkpoints resume exactly without holding the dataset; wrong datasets are refused.

Budgets are the fewest gradient steps that separate the agents on all of seeds 0, 1, 2
(docs/levine.md, "Offline RL", has the figures); the tests run seed 0.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

from craftlab.agents.offline import discounted_returns
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError, EnvConfig
from craftlab.datasets.recorded import DatasetError, DatasetWriter, RecordedDataset
from craftlab.envs.factory import EnvFactory
from craftlab.envs.scripted import scripted_policy
from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent

torch.set_num_threads(1)

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "levine"
SEED = 0
CQL_STEPS = 1000
"""gradient steps of CQL and naive DQN (measured: CQL 482-500 on seeds 0-2, naive DQN 10)"""
IQL_STEPS = 1000
"""gradient steps of IQL and BC (measured: IQL 170-216 on seeds 0-2, BC 10-13)"""
EVAL_EPISODES = 10


def record(path: Path, episodes: int, behaviour: Callable[[np.ndarray, np.random.Generator], int]) -> Path:
    """Write ``episodes`` CartPole-v1 episodes of ``behaviour(obs, rng) -> action`` with
    DatasetWriter (episode k reset with seed k) and return the dataset folder."""
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(SEED)
    with DatasetWriter(path, {"id": "CartPole-v1"}, env.observation_space, env.action_space, "test") as writer:
        for episode in range(episodes):
            obs, _ = env.reset(seed=episode)
            observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
            while True:
                action = behaviour(obs, rng)
                obs, reward, terminated, truncated, _ = env.step(action)
                observations.append(obs)
                actions.append(action)
                rewards.append(reward)
                terminations.append(terminated)
                truncations.append(truncated)
                if terminated or truncated:
                    break
            writer.add_episode(np.array(observations), np.array(actions), np.array(rewards), terminations, truncations)
    env.close()
    return path


EXPERT = scripted_policy("scripted:cartpole_balance", "CartPole-v1")


@pytest.fixture(scope="module")
def mediocre_data(tmp_path_factory) -> Path:
    """The expert with 30% uniformly random actions, 30 episodes: 9,825 transitions,
    return 327 +- 132 (82 to 500), both actions seen in every part of the state space."""

    def behaviour(obs: np.ndarray, rng: np.random.Generator) -> int:
        return int(rng.integers(2)) if rng.random() < 0.3 else int(EXPERT(obs[None])[0])

    return record(tmp_path_factory.mktemp("offline") / "cartpole_mediocre", 30, behaviour)


@pytest.fixture(scope="module")
def bad_data(tmp_path_factory) -> Path:
    """The expert's action flipped with probability 0.55, 100 episodes: 1,904 transitions,
    return 19 +- 8 (a uniformly random policy: about 22)."""

    def behaviour(obs: np.ndarray, rng: np.random.Generator) -> int:
        action = int(EXPERT(obs[None])[0])
        return 1 - action if rng.random() < 0.55 else action

    return record(tmp_path_factory.mktemp("offline") / "cartpole_bad", 100, behaviour)


def shipped(name: str, data: Path, seed: int = SEED, **algo: Any) -> Any:
    """The agent of a shipped config (configs/levine/), on ``data``, with ``algo`` changes."""
    config = yaml.safe_load((CONFIGS / name).read_text())
    config["algo"].update(data=str(data), **algo)
    config["train"].update(seed=seed, device="cpu", progress_bar=False)
    return build_agent(load_run_config(data=config))


def greedy(agent: Any, seed: int = SEED) -> dict[str, Any]:
    """Greedy evaluation in the env: EVAL_EPISODES episodes, the summary dict."""
    return evaluate(agent, agent.envs, episodes=EVAL_EPISODES, seed=1000 + seed).summary()


def offline(name: str, data: Path, steps: int, **algo: Any) -> tuple[Any, dict[str, Any]]:
    agent = shipped(name, data, **algo)
    agent.learn(steps)
    return agent, greedy(agent)


# --------------------------------------------------- CQL against naive offline DQN


@pytest.fixture(scope="module")
def cql_and_naive(mediocre_data) -> dict[str, Any]:
    """cql_cartpole.yaml and the same with cql_alpha 0 (naive offline DQN), CQL_STEPS each."""
    cql, cql_eval = offline("cql_cartpole.yaml", mediocre_data, CQL_STEPS)
    naive, naive_eval = offline("cql_cartpole.yaml", mediocre_data, CQL_STEPS, cql_alpha=0.0)
    return {"cql": cql, "cql_eval": cql_eval, "naive": naive, "naive_eval": naive_eval}


def test_cql_beats_naive_offline_dqn(cql_and_naive):
    cql, naive = cql_and_naive["cql_eval"]["mean_return"], cql_and_naive["naive_eval"]["mean_return"]
    print(
        f"CartPole, {CQL_STEPS} gradient steps on the mediocre data (return 327): CQL {cql:.1f}, naive DQN {naive:.1f}"
    )
    assert cql >= naive + 200, f"CQL {cql:.1f} does not clearly beat naive offline DQN {naive:.1f}"
    assert cql >= 400, f"CQL reached only {cql:.1f} (the data's policy without its random actions scores 500)"


def test_naive_dqn_overestimates_the_data_and_cql_does_not(cql_and_naive, mediocre_data):
    """Mean Q(s, a) over every (s, a) of the data against the mean discounted Monte Carlo
    return G_t that followed it (gamma 0.99; every CartPole return is below 1/(1-gamma) = 100).
    Measured (seeds 0 / 1 / 2): naive DQN 1138 / 1599 / 1251, CQL 79.0 / 78.1 / 78.8, the data 72.1.
    CQL is above the data's mean because its greedy policy drops the random actions (it
    balances 500 steps); its Q of the start states (74) is below the discounted return that
    policy earns from them (99.3): conservative, as the paper's bound says."""
    batch = RecordedDataset(mediocre_data).load()
    gamma = cql_and_naive["cql"].config.gamma
    data_return = float(discounted_returns(batch.reward, batch.done, gamma).mean())
    rows = np.arange(len(batch))
    q_naive = float(cql_and_naive["naive"].q_values(batch.obs)[rows, batch.action].mean())
    q_cql_all = cql_and_naive["cql"].q_values(batch.obs)
    q_cql = float(q_cql_all[rows, batch.action].mean())
    print(f"mean Q(s, a_data): naive DQN {q_naive:.1f}, CQL {q_cql:.1f}; data's discounted return {data_return:.1f}")
    assert q_naive > 5 * data_return and q_naive > 1 / (1 - gamma), (
        f"naive DQN's Q {q_naive:.1f} does not overestimate the data's returns ({data_return:.1f})"
    )
    assert q_cql <= 1.2 * data_return, f"CQL's Q {q_cql:.1f} overestimates the data's returns ({data_return:.1f})"

    starts = np.concatenate([[0], np.flatnonzero(batch.done)[:-1] + 1])  # each episode's first state
    q_start = float(q_cql_all[starts].max(axis=1).mean())  # V(s_0) = max_a Q(s_0, a): the greedy policy's
    lengths = np.asarray(cql_and_naive["cql_eval"]["lengths"])
    earned = float(((1 - gamma**lengths) / (1 - gamma)).mean())  # reward 1 per step: sum_t gamma^t
    print(f"CQL: V(s_0) {q_start:.1f}, discounted return its policy earns {earned:.1f}")
    assert q_start <= earned + 1.0, f"CQL's V(s_0) {q_start:.1f} overestimates the {earned:.1f} its policy earns"


# ------------------------------------------------------------ IQL against BC


def test_iql_beats_behaviour_cloning_on_a_bad_policys_data(bad_data):
    """BC (IQL with temperature 0: every weight 1) copies the majority's wrong actions; IQL's
    weights exp(beta (Q - V)) single out the data's better ones."""
    _, iql = offline("iql_cartpole.yaml", bad_data, IQL_STEPS)
    _, bc = offline("iql_cartpole.yaml", bad_data, IQL_STEPS, temperature=0.0)
    data_return = RecordedDataset(bad_data).manifest.return_mean
    print(
        f"bad data (return {data_return:.1f}), {IQL_STEPS} steps: IQL {iql['mean_return']:.1f}, BC {bc['mean_return']:.1f}"
    )
    assert iql["mean_return"] >= bc["mean_return"] + 50, (
        f"IQL {iql['mean_return']:.1f} does not beat behaviour cloning {bc['mean_return']:.1f}"
    )
    assert iql["mean_return"] >= 3 * data_return, (
        f"IQL {iql['mean_return']:.1f} barely beats the data's {data_return:.1f}"
    )


# -------------------------------------------------------- offline to online

FINE_TUNE_STEPS = 250
"""env steps of online DQN before its first evaluation (100 random, then 150 gradient steps)"""


def online_dqn(init_from: str | None, hidden_sizes: list[int] | None = None) -> Any:
    """cql_cartpole_finetune.yaml's DQN, from ``init_from`` (None: from scratch)."""
    config = yaml.safe_load((CONFIGS / "cql_cartpole_finetune.yaml").read_text())
    config["algo"]["init_from"] = init_from
    if hidden_sizes is not None:
        config["algo"]["network"]["hidden_sizes"] = hidden_sizes
    config["train"].update(seed=SEED, device="cpu", progress_bar=False)
    return build_agent(load_run_config(data=config))


def test_dqn_fine_tunes_online_from_the_cql_run(cql_and_naive, tmp_path):
    """Measured (seed 0): CQL 500, fine-tuned DQN 500 at 250 env steps (then a dip to ~240 by
    1250 steps: the online buffer holds only the good policy's states, docs/levine.md)."""
    cql_return = cql_and_naive["cql_eval"]["mean_return"]
    cql_and_naive["cql"].save(tmp_path)  # agent.pt, as in a checkpoint folder
    tuned, scratch = online_dqn(str(tmp_path)), online_dqn(None)
    for agent in (tuned, scratch):
        agent.learn(FINE_TUNE_STEPS, RunContext(FINE_TUNE_STEPS))
        agent.close()
    tuned_return, scratch_return = greedy(tuned)["mean_return"], greedy(scratch)["mean_return"]
    print(
        f"after {FINE_TUNE_STEPS} online steps: from CQL {tuned_return:.1f} (CQL {cql_return:.1f}), scratch {scratch_return:.1f}"
    )
    assert tuned_return >= 0.8 * cql_return, f"fine-tuned DQN {tuned_return:.1f} lost the CQL policy's {cql_return:.1f}"
    assert scratch_return < 0.5 * tuned_return, f"DQN from scratch {scratch_return:.1f}: the check says nothing"


def test_init_from_refuses_networks_that_do_not_fit(tmp_path):
    """No network of the source named as the agent's, or one whose shapes differ: one line."""
    iql = shipped("iql_cartpole.yaml", "unused")  # networks critic / value / actor: none is dqn's
    iql.save(tmp_path)
    agent = online_dqn(str(tmp_path))
    with pytest.raises(ConfigError, match="no network of .* matches this agent's"):
        agent.learn(10)
    agent.close()
    shipped("cql_cartpole.yaml", "unused").save(tmp_path)  # q_network 64 x 64
    agent = online_dqn(str(tmp_path), hidden_sizes=[32])
    with pytest.raises(
        ConfigError, match=r"q_network.encoder.net.1.weight of .* is \(64, 4\), this agent's is \(32, 4\)"
    ):
        agent.learn(10)
    agent.close()


# ------------------------------------------------- continuous actions, on a probe

PROBE_ENV = {"id": "probe/observation_action_reward", "kwargs": {"continuous": True}}
"""one step: observation o = -1 or +1, reward 1 - (a - o)^2 for an action a in [-1, 1]"""
PROBE_STEPS = 300


@pytest.fixture(scope="module")
def probe_data(tmp_path_factory) -> Path:
    """1000 one-step episodes with uniformly random actions: mean return -1/3."""
    path = tmp_path_factory.mktemp("offline") / "probe_random"
    env = EnvFactory(EnvConfig(**PROBE_ENV), num_envs=1, seed=SEED).make()
    rng = np.random.default_rng(SEED)
    with DatasetWriter(path, PROBE_ENV, env.observation_space, env.action_space, "random") as writer:
        for episode in range(1000):
            obs, _ = env.reset(seed=episode)
            action = rng.uniform(-1.0, 1.0, size=(1,)).astype(np.float32)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            writer.add_episode(np.stack([obs, next_obs]), action[None], [reward], [terminated], [truncated])
    return path


@pytest.mark.parametrize(
    "algo, target",
    [
        ({"name": "cql_continuous", "cql_alpha": 1.0, "cql_num_actions": 5}, 0.5),
        ({"name": "iql", "temperature": 10.0}, 0.85),
    ],
    ids=["cql_continuous", "iql"],
)
def test_continuous_actions_read_the_observation(algo, target, probe_data):
    """Box actions (SAC's tanh-Gaussian actor): the greedy action follows the observation.
    The data score -1/3 and no policy blind to the observation beats 0. Measured at 300 steps
    (seeds 0 / 1 / 2): cql_continuous 0.64 / 0.64 / 0.67 (its penalty pulls the policy toward
    the data's actions, uniform here: mean 0), iql 0.94 / 0.90 / 0.95 (best: 1)."""
    config = {
        "env": PROBE_ENV,
        "algo": {
            **algo,
            "data": str(probe_data),
            "batch_size": 64,
            "learning_rate": 1e-3,
            "gamma": 0.5,
            "network": {"hidden_sizes": [32, 32], "activation": "relu"},
        },
        "train": {"num_envs": 1, "seed": SEED, "device": "cpu", "progress_bar": False},
    }
    agent = build_agent(load_run_config(data=config))
    agent.learn(PROBE_STEPS)
    result = evaluate(agent, agent.envs, episodes=20, seed=SEED).summary()["mean_return"]
    print(f"{algo['name']} on the continuous probe: {result:.3f}")
    assert result >= target, f"{algo['name']}: greedy return {result:.3f} < {target} on the continuous probe"


# ----------------------------------------------------------- plumbing


def _round_trip(state: dict) -> dict:
    """Through bytes, as a checkpoint file (weights_only)."""
    blob = io.BytesIO()
    torch.save(state, blob)
    blob.seek(0)
    return torch.load(blob, weights_only=True)


@pytest.mark.parametrize("config", ["cql_cartpole.yaml", "iql_cartpole.yaml"])
def test_checkpoint_round_trip_continues_identically(config, bad_data):
    """Train 30 steps, save, train to 60; a fresh agent loading the checkpoint trains to 60:
    the same weights. The checkpoint holds no dataset (it is read again from algo.data)."""
    a = shipped(config, bad_data)
    a.learn(30)
    saved = _round_trip(a.state_dict())
    a.learn(60)
    b = shipped(config, bad_data)
    b.load_state_dict(saved)
    b.learn(60)
    assert a.num_timesteps == b.num_timesteps == 60
    assert not any("data" in key for key in saved), "the checkpoint should not hold the dataset"
    for name, net in a.networks().items():
        for (key, pa), pb in zip(net.state_dict().items(), b.networks()[name].state_dict().values()):
            assert torch.equal(pa, pb), f"{name}.{key} differs after resuming"


def test_discounted_returns_by_hand():
    """Two episodes (rewards 1, 2, 4 | 8, 16), gamma 0.5: G = 1 + 1 + 1, 2 + 2, 4 | 8 + 8, 16."""
    returns = discounted_returns(np.array([1.0, 2, 4, 8, 16]), np.array([0, 0, 1, 0, 1], bool), 0.5)
    assert returns.tolist() == [3.0, 4.0, 4.0, 16.0, 16.0]


def test_wrong_datasets_are_refused(bad_data, tmp_path):
    """Another env's dataset, a missing folder and an empty algo.data: one line naming the fix."""
    config = yaml.safe_load((CONFIGS / "iql_cartpole.yaml").read_text())
    config["env"]["id"] = "Pendulum-v1"
    config["algo"]["data"] = str(bad_data)
    config["train"].update(device="cpu", progress_bar=False)
    pendulum = build_agent(load_run_config(data=config))
    with pytest.raises(DatasetError, match="was recorded with observation space"):
        pendulum.learn(1)
    missing = shipped("cql_cartpole.yaml", tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="does not exist"):
        missing.learn(1)
    empty = shipped("cql_cartpole.yaml", "")
    with pytest.raises(ConfigError, match="algo.data' is empty"):
        empty.learn(1)
    config["algo"] = {"name": "cql", "data": str(bad_data)}
    with pytest.raises(ConfigError, match="cql needs Discrete actions"):
        build_agent(load_run_config(data=config))
