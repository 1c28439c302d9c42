"""``algo.name`` -> agent class. Entry points are imported on first use.

One block per family below; ``python train.py list`` prints them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from craftlab.core.config import ConfigError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent

AGENTS: dict[str, tuple[str, str]] = {}
"""name -> ("package.module:Class", one-line description)"""


def register_agent(name: str, entry_point: str, description: str) -> None:
    AGENTS[name] = (entry_point, description)


def agent_class(name: str) -> "type[Agent]":
    """The agent class registered as ``name``; ConfigError naming the closest ones otherwise."""
    if name not in AGENTS:
        raise ConfigError(f"config key 'algo.name': unknown algorithm '{name}'; {did_you_mean(name, AGENTS)}")
    module, _, attr = AGENTS[name][0].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if getattr(cls, "name", None) != name:  # the name a checkpoint records must be the registry key
        raise TypeError(f"agent registered as '{name}' ({AGENTS[name][0]}) has name = {getattr(cls, 'name', None)!r}")
    return cls


# One line per agent (the table users read): not reflowed by the formatter.
# fmt: off
# --- from-scratch deep RL (foundation + Levine's course, configs/levine/) ----------
register_agent("ppo", "craftlab.agents.ppo:PPO", "PPO, clipped objective + GAE (Schulman et al. 2017), from scratch")
register_agent("vpg", "craftlab.agents.vpg:VPG", "REINFORCE / vanilla policy gradient: reward-to-go, baseline, GAE options (CS285 hw2)")
register_agent("a2c", "craftlab.agents.a2c:A2C", "synchronous advantage actor-critic (A2C), from scratch")
register_agent("ppo_rnd", "craftlab.agents.ppo_rnd:PPORND", "PPO + random network distillation exploration bonus (Burda et al. 2018)")
register_agent("ppg", "craftlab.agents.ppg:PPG", "phasic policy gradient (Cobbe et al. 2021): PPO + auxiliary phases of value distillation and cloning")
register_agent("achievement_distillation", "craftlab.agents.achievement_distillation:AchievementDistillation",
               "Achievement Distillation (Moon et al. 2023): PPG + achievement prediction, matching and memory")

# --- off-policy (Levine's course part 2, configs/levine/) ---------------------------
register_agent("dqn", "craftlab.agents.dqn:DQN", "DQN (Mnih et al. 2015) + double, dueling, n-step, prioritised replay options")
register_agent("sac", "craftlab.agents.sac:SAC", "soft actor-critic (Haarnoja et al. 2018): twin critics, tanh-Gaussian policy, learned temperature")
register_agent("sac_discrete", "craftlab.agents.sac:SACDiscrete", "discrete soft actor-critic (Christodoulou 2019): categorical policy, exact expectations")
register_agent("td3", "craftlab.agents.td3:TD3", "TD3 (Fujimoto et al. 2018): twin critics, target policy smoothing, delayed policy updates")

# --- offline RL (Levine's course, lectures 15-16; configs/levine/): train on a recorded dataset ----
register_agent("cql", "craftlab.agents.cql:CQL", "conservative Q-learning (Kumar et al. 2020), discrete: DQN + CQL(H) penalty; cql_alpha 0 = naive offline DQN")
register_agent("cql_continuous", "craftlab.agents.cql:CQLContinuous", "conservative Q-learning (Kumar et al. 2020) on SAC, importance-sampled CQL(H) penalty")
register_agent("iql", "craftlab.agents.iql:IQL", "implicit Q-learning (Kostrikov et al. 2021): expectile value, advantage-weighted policy; temperature 0 = BC")

# --- model-based (Levine's course, lectures 10-12, hw4; configs/levine/) -----------
register_agent("mpc", "craftlab.agents.model_based.mpc:MPC", "MPC on a learned dynamics ensemble: random shooting or CEM planning (CS285 hw4)")
register_agent("mbpo", "craftlab.agents.model_based.mbpo:MBPO", "MBPO (Janner et al. 2019): SAC on real data and short branched rollouts of a learned ensemble")

# --- Stable-Baselines3 / sb3-contrib (configs/sb3/) --------------------------------
register_agent("sb3_ppo", "craftlab.agents.sb3:SB3PPO", "Stable-Baselines3 PPO")
register_agent("sb3_a2c", "craftlab.agents.sb3:SB3A2C", "Stable-Baselines3 A2C")
register_agent("sb3_dqn", "craftlab.agents.sb3:SB3DQN", "Stable-Baselines3 DQN")
register_agent("sb3_qrdqn", "craftlab.agents.sb3:SB3QRDQN", "sb3-contrib QR-DQN")
register_agent("sb3_recurrent_ppo", "craftlab.agents.sb3:SB3RecurrentPPO", "sb3-contrib RecurrentPPO (LSTM)")

# --- Silver's course, tabular and linear (configs/silver/) -------------------------
# Lecture 3: planning by dynamic programming (needs env.unwrapped.P)
register_agent("policy_evaluation", "craftlab.agents.tabular.dp:PolicyEvaluation", "iterative policy evaluation (DP, known model)")
register_agent("policy_iteration", "craftlab.agents.tabular.dp:PolicyIteration", "policy iteration (DP, known model)")
register_agent("value_iteration", "craftlab.agents.tabular.dp:ValueIteration", "value iteration (DP, known model)")
# Lecture 4: model-free prediction
register_agent("mc_prediction", "craftlab.agents.tabular.mc_prediction:MCPrediction", "Monte Carlo prediction, first- or every-visit")
register_agent("td0", "craftlab.agents.tabular.td_prediction:TD0", "TD(0) prediction")
register_agent("n_step_td", "craftlab.agents.tabular.td_prediction:NStepTD", "n-step TD prediction")
register_agent("td_lambda_forward", "craftlab.agents.tabular.td_lambda:TDLambdaForward", "TD(lambda) forward view: offline lambda-return")
register_agent("td_lambda", "craftlab.agents.tabular.td_lambda:TDLambda", "TD(lambda) backward view: eligibility traces")
# Lecture 5: model-free control
register_agent("mc_control", "craftlab.agents.tabular.mc_control:GLIEMonteCarloControl", "GLIE Monte Carlo control")
register_agent("sarsa", "craftlab.agents.tabular.sarsa:Sarsa", "SARSA, on-policy TD control")
register_agent("expected_sarsa", "craftlab.agents.tabular.expected_sarsa:ExpectedSarsa", "Expected SARSA")
register_agent("n_step_sarsa", "craftlab.agents.tabular.n_step_sarsa:NStepSarsa", "n-step SARSA")
register_agent("sarsa_lambda", "craftlab.agents.tabular.sarsa_lambda:SarsaLambda", "SARSA(lambda), eligibility traces")
register_agent("q_learning", "craftlab.agents.tabular.q_learning:QLearning", "Q-learning, off-policy TD control")
register_agent("double_q_learning", "craftlab.agents.tabular.double_q_learning:DoubleQLearning", "Double Q-learning")
# Lecture 6: value function approximation
register_agent("linear_sarsa", "craftlab.agents.tabular.linear_sarsa:LinearSarsa", "semi-gradient SARSA, linear in tile-coded features (Mountain Car)")
register_agent("lspi", "craftlab.agents.tabular.lspi:LSPI", "least-squares policy iteration: LSTDQ on a fixed batch of samples")
# Lecture 8: integrating learning and planning
register_agent("dyna_q", "craftlab.agents.tabular.dyna_q:DynaQ", "Dyna-Q: Q-learning + planning on a learned model")
register_agent("mcts", "craftlab.agents.tabular.mcts:MCTS", "Monte Carlo tree search (UCT) on a simulator copy of the env")
# Lecture 9: exploration and exploitation (k-armed bandits)
register_agent("bandit_epsilon_greedy", "craftlab.agents.tabular.bandits:EpsilonGreedyBandit", "epsilon-greedy bandit (optimistic init option)")
register_agent("bandit_ucb1", "craftlab.agents.tabular.bandits:UCB1Bandit", "UCB1 bandit")
register_agent("bandit_thompson", "craftlab.agents.tabular.bandits:ThompsonBandit", "Thompson sampling bandit (Gaussian)")
register_agent("bandit_gradient", "craftlab.agents.tabular.bandits:GradientBandit", "gradient bandit (softmax preferences)")

# --- MineRL: behaviour cloning from demonstrations (configs/minerl/) ---------------
register_agent("bc", "craftlab.agents.bc:BehaviourCloning", "behaviour cloning: cross-entropy on discretised MineRL demonstrations")
register_agent("dagger", "craftlab.agents.dagger:DAgger", "DAgger (Ross et al. 2011): behaviour cloning on states the learner visits, labelled by a queryable expert")
# fmt: on
