"""Evaluating an agent: N episodes in fresh environments, returns and lengths."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


def evaluate(
    agent: "Agent",
    envs: "EnvFactory",
    episodes: int = 10,
    deterministic: bool = True,
    seed: int = 10_000,
    record_frames: bool = False,
    max_steps: int | None = None,
) -> EvalResult:
    """Run ``episodes`` episodes one after another in a single fresh env.

    Episode ``k`` is reset with ``seed + k``, so two evaluations with the same
    seed see the same worlds. With ``record_frames`` the first episode's frames
    (``env.render()`` in rgb_array mode) are kept for a video.
    """
    env = envs.make(render_mode="rgb_array" if record_frames else None)
    result = EvalResult([], [])
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            state, episode_start = None, np.ones(1, dtype=bool)
            total, length, done = 0.0, 0, False
            if record_frames and k == 0:
                result.frames.append(env.render())
            while not done:
                action, state = agent.act(_batch(obs), state=state, episode_start=episode_start,
                                          deterministic=deterministic)
                obs, reward, terminated, truncated, info = env.step(_unbatch(action))
                episode_start = np.zeros(1, dtype=bool)
                total += float(reward)
                length += 1
                done = terminated or truncated or (max_steps is not None and length >= max_steps)
                if record_frames and k == 0:
                    result.frames.append(env.render())
            result.returns.append(total)
            result.lengths.append(length)
            if "achievements" in info:
                result.achievements.append({k2: int(v) for k2, v in info["achievements"].items()})
    finally:
        env.close()
    return result


def _batch(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: _batch(v) for k, v in obs.items()}
    return np.asarray(obs)[None]


def _unbatch(action: Any) -> Any:
    if isinstance(action, dict):
        return {k: _unbatch(v) for k, v in action.items()}
    action = np.asarray(action)
    out = action[0]
    return out.item() if out.ndim == 0 and np.issubdtype(out.dtype, np.integer) else out
