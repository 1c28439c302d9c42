"""Model-based RL (CS285 lectures 10-12, hw4): learn a model of the environment,
then plan with it (MPC) or train a model-free learner on its predictions (MBPO).

One job per module, each importing only those above it::

    dynamics.py   DynamicsConfig, DynamicsEnsemble: E MLPs predicting the normalised
                  state change and reward, each fit to its own bootstrap of the data
    planning.py   predicted_returns, random_shooting, cross_entropy_method: choosing
                  action sequences under the model, and what that costs
    mpc.py        MPC (``mpc``): random data, then replanning every step
    mbpo.py       MBPO (``mbpo``): SAC on real and k-step model transitions
"""

from craftlab.agents.model_based.dynamics import DynamicsConfig, DynamicsEnsemble, Transitions, replay_transitions
from craftlab.agents.model_based.planning import (
    cross_entropy_method,
    model_evaluations_per_action,
    predicted_returns,
    random_shooting,
)

__all__ = [
    "DynamicsConfig",
    "DynamicsEnsemble",
    "Transitions",
    "cross_entropy_method",
    "model_evaluations_per_action",
    "predicted_returns",
    "random_shooting",
    "replay_transitions",
]
