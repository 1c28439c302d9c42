"""Playing a trained agent: the one rollout generator (:func:`rollout`), used by
evaluation during training, the ``eval`` command and ``watch``; :func:`evaluate`
turns it into returns, lengths and achievements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from craftlab.agents.base import Agent
    from craftlab.envs.factory import EnvFactory


@dataclass
class EvalResult:
    returns: list[float]
    lengths: list[int]
    achievements: list[dict[str, int]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    """RGB frames of the first episode (``uint8[H, W, 3]``), when recorded"""

    def summary(self) -> dict[str, Any]:
        return {
            "episodes": len(self.returns),
            "mean_return": float(np.mean(self.returns)),
            "std_return": float(np.std(self.returns)),
            "mean_length": float(np.mean(self.lengths)),
            "std_length": float(np.std(self.lengths)),
            "returns": [float(r) for r in self.returns],
            "lengths": [int(n) for n in self.lengths],
        }


@dataclass
class StepView:
    """One moment of a rollout: after a reset (``t == 0``) or after a step."""

    episode: int
    """0-based episode index"""
    t: int
    """steps taken in this episode (0: the initial frame)"""
    episode_return: float
    """sum of rewards so far in this episode"""
    frame: Any
    """``env.render()``: ``uint8[H, W, 3]`` (rgb_array) or ``str`` (ansi); None when not rendered"""
    reward: float | None = None
    action: str | None = None
    """the action taken, as text (:func:`action_name`)"""
    info: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    """True on an episode's last step"""


def action_name(env: gym.Env, action: Any) -> str:
    """``action`` as text: the env's ``action_names[action]`` when it has them."""
    names = None
    try:
        names = env.get_wrapper_attr("action_names")
    except AttributeError:
        names = getattr(env.unwrapped, "action_names", None)
    value = np.asarray(action)
    if names is not None and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        try:
            return f"{names[int(value)]} ({int(value)})"
        except (IndexError, KeyError, TypeError):
            pass
    if value.ndim == 0:
        return str(value.item())
    return np.array2string(value, precision=2, max_line_width=40)


def rollout(
    agent: Agent,
    env: gym.Env,
    episodes: int,
    deterministic: bool = True,
    seed: int = 10_000,
    max_steps: int | None = None,
    render_episodes: int | None = None,
) -> Iterator[StepView]:
    """Play ``episodes`` episodes of ``agent`` in ``env`` one after another,
    yielding a :class:`StepView` for the initial observation and after each step.

    Episode ``k`` is reset with ``seed + k``, so two rollouts with the same seed
    see the same worlds. The first ``render_episodes`` episodes (all when None)
    carry ``env.render()`` frames. This generator is the one rollout that both
    :func:`evaluate` and the ``watch`` command use.
    """
    for k in range(episodes):
        render = render_episodes is None or k < render_episodes
        obs, info = env.reset(seed=seed + k)
        state, episode_start = None, np.ones(1, dtype=bool)
        total, t, done = 0.0, 0, False
        yield StepView(k, 0, 0.0, env.render() if render else None, info=dict(info))
        while not done:
            action, state = agent.act(
                batch_observation(obs), state=state, episode_start=episode_start, deterministic=deterministic
            )
            action = unbatch_action(action)
            obs, reward, terminated, truncated, info = env.step(action)
            state = agent.observe(state, info)
            episode_start = np.zeros(1, dtype=bool)
            total += float(reward)
            t += 1
            done = bool(terminated or truncated or (max_steps is not None and t >= max_steps))
            yield StepView(
                k,
                t,
                total,
                env.render() if render else None,
                float(reward),
                action_name(env, action) if render else None,
                dict(info),
                done,
            )


def evaluate(
    agent: Agent,
    envs: EnvFactory,
    episodes: int = 10,
    deterministic: bool = True,
    seed: int = 10_000,
    record_frames: bool = False,
    max_steps: int | None = None,
) -> EvalResult:
    """Run ``episodes`` episodes one after another in a single fresh env (:func:`rollout`).

    Episode ``k`` is reset with ``seed + k``, so two evaluations with the same
    seed see the same worlds. With ``record_frames`` the first episode's frames
    (``env.render()`` in rgb_array mode) are kept for a video.
    """
    env = envs.make(render_mode="rgb_array" if record_frames else None)
    result = EvalResult([], [])
    try:
        for view in rollout(
            agent, env, episodes, deterministic, seed, max_steps, render_episodes=1 if record_frames else 0
        ):
            if view.frame is not None:
                result.frames.append(view.frame)
            if view.done:
                result.returns.append(view.episode_return)
                result.lengths.append(view.t)
                if "achievements" in view.info:
                    result.achievements.append({name: int(v) for name, v in view.info["achievements"].items()})
    finally:
        env.close()
    return result


def batch_observation(obs: Any) -> Any:
    """One env's observation -> a batch of one (leading axis), as ``Agent.act`` takes."""
    if isinstance(obs, dict):
        return {k: batch_observation(v) for k, v in obs.items()}
    return np.asarray(obs)[None]


def unbatch_action(action: Any) -> Any:
    """A batch of one action -> the action one env's ``step`` takes."""
    if isinstance(action, dict):
        return {k: unbatch_action(v) for k, v in action.items()}
    action = np.asarray(action)
    out = action[0]
    return out.item() if out.ndim == 0 and np.issubdtype(out.dtype, np.integer) else out
