"""PPG and Achievement Distillation: each part against a known answer.

* PPG's auxiliary phase keeps the policy (KL to the pre-phase policy, measured over the
  whole buffer, small and far below the same phase without the cloning term) while the
  value improves (its squared error on the buffer drops).
* PPG learns: probes with exact values, and CartPole.
* AD's partial optimal transport matches a known permutation; its achievement memory
  holds the embedding of the last unlock; its achievement classifier learns a synthetic
  task whose next achievement is a function of the observation (accuracy 1 possible,
  chance 0.5), and its matching pairs equal achievements across episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from test_probes import GAMMA, assert_values, greedy_return

from craftlab.agents.achievement_distillation import entropic_partial_wasserstein, next_goals
from craftlab.agents.run_context import RunContext
from craftlab.core.config import ConfigError
from craftlab.runs.evaluation import evaluate
from craftlab.runs.run_config import load_run_config
from craftlab.runs.training import build_agent


class AchievementPhases(gym.Env):
    """A synthetic achievement task: the episode walks through phases 0 -> 1 -> 2 -> 3 on
    its own, each lasting 2-4 steps (random); entering phase k unlocks achievement k
    ("a", "b", "c": reward +1, ``info["achievements"]`` counts as Crafter's); phase 3 ends
    the episode after 2-4 steps. Observation: one-hot phase + 4 uniform noise values.
    Actions do nothing. The next achievement is a function of the observed phase."""

    observation_space = gym.spaces.Box(0.0, 1.0, (8,), np.float32)
    action_space = gym.spaces.Discrete(3)
    NAMES = ("a", "b", "c")

    def _obs(self) -> np.ndarray:
        obs = np.zeros(8, np.float32)
        obs[self._phase] = 1.0
        obs[4:] = self.np_random.uniform(0, 1, 4)
        return obs

    def _info(self) -> dict[str, Any]:
        return {"achievements": {name: int(self._phase > k) for k, name in enumerate(self.NAMES)}}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._phase, self._left = 0, int(self.np_random.integers(2, 5))
        return self._obs(), self._info()

    def step(self, action):
        self._left -= 1
        reward, terminated = 0.0, False
        if self._left == 0:
            if self._phase == 3:
                terminated = True
            else:
                self._phase += 1
                reward = 1.0
                self._left = int(self.np_random.integers(2, 5))
        return self._obs(), reward, terminated, False, self._info()


if "craftlab-test/AchievementPhases-v0" not in gym.registry:
    gym.register("craftlab-test/AchievementPhases-v0", entry_point=AchievementPhases)


class Recorder(RunContext):
    """Keeps every logged scalar dict."""

    def __init__(self, total: int):
        super().__init__(total)
        self.logged: list[dict[str, float]] = []

    def log(self, num_timesteps: int, scalars: dict[str, float]) -> None:
        self.logged.append(scalars)

    def aux(self) -> list[dict[str, float]]:
        return [s for s in self.logged if "losses/aux_kl" in s]


def _agent(algo: dict, env_id: str, num_envs: int = 8, seed: int = 0, gamma: float | None = None):
    algo = dict(algo) if gamma is None else {**algo, "gamma": gamma}
    data = {
        "env": {"id": env_id},
        "algo": algo,
        "train": {"num_envs": num_envs, "seed": seed, "vector": "sync", "device": "cpu", "progress_bar": False},
    }
    return build_agent(load_run_config(data=data))


# ------------------------------------------------------------------------------ PPG

PPG_CARTPOLE = {
    "name": "ppg",
    "num_steps": 128,
    "n_pi": 4,
    "learning_rate": 1e-3,
    "update_epochs": 1,
    "num_minibatches": 4,
    "aux_epochs": 6,
    "aux_minibatch_size": 256,
    "ent_coef": 0.0,
    "anneal_lr": False,
    "shared_encoder": "no",
}
"""CartPole: 8 envs x 128 steps per rollout, an auxiliary phase every 4 rollouts (4096 steps)"""


def test_ppg_auxiliary_phase_keeps_the_policy_and_improves_the_value():
    """Two auxiliary phases on CartPole, with and without the cloning term: the value's squared
    error on B drops by a third or more; KL(pi_old || pi) over B stays below 0.01 with
    beta_clone 1 and is at least 3x larger without it (the auxiliary value head moves the
    policy network's features)."""
    kls = {}
    for beta in (1.0, 0.0):
        agent = _agent({**PPG_CARTPOLE, "beta_clone": beta}, "CartPole-v1")
        run = Recorder(8192)
        agent.learn(8192, run)
        agent.close()
        phases = run.aux()
        assert len(phases) == 2
        for p in phases:
            assert p["losses/aux_value_error_after"] < 0.67 * p["losses/aux_value_error_before"], p
        kls[beta] = [p["losses/aux_kl"] for p in phases]
    print(f"KL(pi_old || pi) after each auxiliary phase: beta_clone 1: {kls[1.0]}, beta_clone 0: {kls[0.0]}")
    assert all(kl < 0.01 for kl in kls[1.0]), kls
    assert all(k0 > 3 * k1 for k0, k1 in zip(kls[0.0], kls[1.0])), kls


PPG_PROBE = {
    "name": "ppg",
    "num_steps": 16,
    "learning_rate": 3e-3,
    "update_epochs": 4,
    "num_minibatches": 2,
    "ent_coef": 0.0,
    "clip_vloss": False,
    "n_pi": 4,
    "aux_minibatch_size": 64,
}


def test_ppg_probes_exact_values():
    """Probes (tests/test_probes.py): V within 0.1 of the exact answer and greedy return 1."""
    agent = _agent(PPG_PROBE, "probe/observation_action_reward", gamma=GAMMA)
    agent.learn(4000)
    agent.close()
    assert_values(agent, [[-1.0], [1.0]], [1.0, 1.0], "observation_action_reward")
    assert greedy_return(agent) == 1.0
    agent = _agent(PPG_PROBE, "probe/two_step", gamma=GAMMA)
    agent.learn(4000)
    agent.close()
    assert_values(agent, [[0.0], [1.0]], [GAMMA, 1.0], "two_step")


@pytest.mark.slow
def test_ppg_solves_cartpole():
    """Greedy mean return >= 450 within 60k steps (measured, evaluating every 10k: 41k / 20k /
    61k steps for seeds 0 / 1 / 2; PPO with RL Zoo settings: 10k / 20k / 40k)."""
    agent = _agent(PPG_CARTPOLE, "CartPole-v1", seed=0)
    best = 0.0
    for budget in range(10240, 61441, 10240):
        agent.learn(budget)
        best = max(best, evaluate(agent, agent.envs, episodes=10, seed=5).summary()["mean_return"])
        if best >= 450:
            break
    agent.close()
    print(f"PPG CartPole-v1: best greedy return {best} at {agent.num_timesteps} steps")
    assert best >= 450


def test_ppg_refuses_an_lstm():
    with pytest.raises(ConfigError, match="algo.network.lstm"):
        _agent({"name": "ppg", "network": {"lstm": 8}}, "CartPole-v1")


# ------------------------------------------------------------------------------- AD

AD = {
    "name": "achievement_distillation",
    "num_steps": 32,
    "learning_rate": 1e-3,
    "update_epochs": 2,
    "num_minibatches": 2,
    "n_pi": 2,
    "aux_epochs": 4,
    "aux_minibatch_size": 128,
    "gamma": 0.9,
    "network": {"kind": "mlp", "hidden_sizes": [64, 64]},
}


def test_partial_optimal_transport_finds_the_permutation():
    """Embeddings e1, e2 vs e2, e3, e1: the plan carries (about) one unit e1 -> e1 and e2 -> e2,
    nothing to e3 (cost 1 - cos; entropic, reg 0.05); batched with a padded second problem."""
    eye = np.eye(3)
    source, target = eye[[0, 1]], eye[[1, 2, 0]]
    cost = np.stack([1 - source @ target.T, np.ones((2, 3))])
    cost[1, :, :2] = 1 - source @ eye[[0, 1]].T  # e1, e2 vs e1, e2 and a padded column
    capacity = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    plans = entropic_partial_wasserstein(np.ones((2, 2)), capacity, cost, reg=0.05)
    np.testing.assert_allclose(plans[0], [[0, 0, 1], [1, 0, 0]], atol=1e-3)
    np.testing.assert_allclose(plans[1], [[1, 0, 0], [0, 1, 0]], atol=1e-3)
    assert np.array_equal(np.argwhere(plans[0] > 0.5), [[0, 2], [1, 0]])


def test_ad_next_goals_are_each_steps_next_unlock_then_the_episodes_end():
    """Episode of 10 steps, unlocks at 3 (id 5) and 7 (id 2): steps 0-2 predict the pair
    (s_2, s_3), steps 3-6 (s_6, s_7), steps 7-9 the end (s_9, no next)."""
    goals = next_goals(torch.tensor([3, 7]), torch.tensor([5, 2]), 10)
    assert goals.obs.tolist() == [2, 6, 9] and goals.next_obs.tolist() == [3, 7, 9]
    assert goals.has_next.tolist() == [1, 1, 0] and goals.goal_ids.tolist() == [5, 2, -1]
    assert goals.segment.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    first = next_goals(torch.tensor([1]), torch.tensor([0]), 2)  # an unlock on the first step
    assert first.segment.tolist() == [0, 1] and first.obs.tolist() == [0, 1]


def test_ad_memory_holds_the_last_achievements_embedding():
    agent = _agent(AD, "craftlab-test/AchievementPhases-v0", num_envs=4)
    agent.learn(agent.config.num_steps * 4)  # one rollout (its update changes phi: check the buffer's episodes)
    buffer = agent.aux_buffer.rollouts[-1]
    agent.close()
    memory, starts, unlocked, obs = buffer["memory"], buffer["episode_starts"], buffer["unlocked"], buffer["obs"]
    assert unlocked.sum() > 10
    for n in range(4):
        for t in range(len(obs) - 1):
            if starts[t + 1, n]:
                assert torch.all(memory[t + 1, n] == 0), "a new episode starts with an empty memory"
            elif unlocked[t, n]:  # unit-norm embedding of the unlock, ids in the env's order
                assert float(memory[t + 1, n].norm()) == pytest.approx(1.0, abs=1e-5)
                phase_before, phase_after = int(obs[t, n, :4].argmax()), int(obs[t + 1, n, :4].argmax())
                assert phase_after == phase_before + 1 == int(buffer["unlock_id"][t, n]) + 1
            else:
                assert torch.equal(memory[t + 1, n], memory[t, n]), "no unlock, no change"


def test_ad_achievement_classifier_learns_the_next_achievement():
    """The next achievement is a function of the observed phase: the prediction's accuracy
    (the anchor closer to the step's own prediction than to another step's, over pairs whose
    next achievements differ) can reach 1 and starts near chance (0.5); matching pairs the
    same achievement across episodes (precision 1 possible)."""
    agent = _agent(AD, "craftlab-test/AchievementPhases-v0")
    rollout = agent.config.num_steps * 8
    agent.learn(rollout)  # B holds one rollout, no auxiliary phase yet: the untrained classifier
    with torch.no_grad():
        initial = np.mean(
            [
                terms["pred_accuracy"]
                for _, terms in agent.prediction_losses([e for e in agent.episodes() if len(e.goal_steps) > 0])
                if "pred_accuracy" in terms
            ]
        )
    run = Recorder(rollout * 7)
    agent.learn(rollout * 7, run)  # 3 auxiliary phases of 2 rollouts
    agent.close()
    phases = run.aux()
    assert len(phases) == 3
    print(
        f"AD on AchievementPhases: pred_accuracy untrained {initial:.3f}, after each auxiliary phase",
        [round(p["losses/pred_accuracy"], 3) for p in phases],
        "match_precision",
        [round(p["losses/match_precision"], 3) for p in phases],
        "KL",
        [round(p["losses/aux_kl"], 4) for p in phases],
    )
    assert initial < 0.75
    assert phases[-1]["losses/pred_accuracy"] >= 0.95
    assert phases[-1]["losses/match_precision"] >= 0.95
    assert phases[-1]["losses/aux_kl"] < 0.05


def test_ad_needs_achievements():
    with pytest.raises(ConfigError, match="info\\['achievements'\\]"):
        _agent({"name": "achievement_distillation"}, "CartPole-v1")


def test_ad_keeps_its_memory_when_played():
    """eval and watch (runs.evaluation.rollout) give the agent each step's info: after an
    unlock the memory is e(s, s') of that step, as in training rollouts."""
    agent = _agent(AD, "craftlab-test/AchievementPhases-v0", num_envs=1)
    env = agent.envs.make()
    obs, info = env.reset(seed=3)
    state, start, unlocks = None, np.ones(1, dtype=bool), 0
    for _ in range(30):
        action, state = agent.act(obs[None], state, start)
        before = state["memory"].clone()
        next_obs, _, terminated, truncated, info = env.step(int(action[0]))
        state = agent.observe(state, info)
        if terminated or truncated:
            break
        if bool(state["unlocked"][0]):
            unlocks += 1
            _, following = agent.act(next_obs[None], state, np.zeros(1, dtype=bool))
            with torch.no_grad():
                expected = agent.policy.embed(torch.as_tensor(obs[None]), torch.as_tensor(next_obs[None]))
            torch.testing.assert_close(following["memory"], expected)
        else:
            _, following = agent.act(next_obs[None], state, np.zeros(1, dtype=bool))
            assert torch.equal(following["memory"], before)
        obs, start = next_obs, np.zeros(1, dtype=bool)
    env.close()
    assert unlocks == 3
    calls = []
    agent.observe = lambda state, info: calls.append(info) or state  # type: ignore[method-assign]
    evaluate(agent, agent.envs, episodes=1, seed=1)
    assert calls and "achievements" in calls[0]
    agent.close()


@pytest.mark.parametrize(
    "algo,env_id", [(PPG_PROBE, "probe/observation_action_reward"), (AD, "craftlab-test/AchievementPhases-v0")]
)
def test_checkpoint_round_trip_after_an_auxiliary_phase(algo, env_id, tmp_path):
    agent = _agent({**algo, "n_pi": 1}, env_id, num_envs=2)
    agent.learn(agent.config.num_steps * 2 * 2)
    assert agent.num_aux_phases == 2
    agent.save(tmp_path)
    other = _agent({**algo, "n_pi": 1}, env_id, num_envs=2)
    other.load(tmp_path)
    assert other.num_aux_phases == 2 and other.num_timesteps == agent.num_timesteps
    for name, opt in agent.aux_optimizers.items():
        torch.testing.assert_close(
            opt.state_dict()["state"][0]["exp_avg"], other.aux_optimizers[name].state_dict()["state"][0]["exp_avg"]
        )
    for key, value in agent.policy.state_dict().items():
        torch.testing.assert_close(value, other.policy.state_dict()[key])
    agent.close()
    other.close()


def test_auxiliary_buffer_is_checkpointed_when_the_run_saves_buffers(tmp_path):
    """With train.save_replay_buffer, B survives a checkpoint: a resumed agent holding one
    of n_pi = 2 rollouts runs its auxiliary phase after one more rollout, as the run that
    went on would; a checkpoint without B waits for two new rollouts."""
    algo = {**PPG_PROBE, "n_pi": 2}
    rollout = algo["num_steps"] * 2
    agent = _agent(algo, "probe/observation_action_reward", num_envs=2)
    agent.learn(rollout * 3, RunContext(rollout * 3, save_replay_buffer=True))
    assert agent.num_aux_phases == 1 and len(agent.aux_buffer) == 1
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    agent.save(tmp_path / "with")
    agent.save_aux_buffer = False
    agent.save(tmp_path / "without")
    resumed = {}
    for name in ("with", "without"):
        other = _agent(algo, "probe/observation_action_reward", num_envs=2)
        other.load(tmp_path / name)
        resumed[name] = len(other.aux_buffer)
        if name == "with":
            torch.testing.assert_close(other.aux_buffer.flat("obs"), agent.aux_buffer.flat("obs"))
        other.learn(rollout * 4, RunContext(rollout * 4))
        resumed[name + "_phases"] = other.num_aux_phases
        other.close()
    agent.close()
    assert resumed == {"with": 1, "with_phases": 2, "without": 0, "without_phases": 1}
