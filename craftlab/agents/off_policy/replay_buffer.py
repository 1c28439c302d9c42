"""The replay buffer of off-policy agents: transitions from vectorised envs,
each observation stored once, n-step returns, optional prioritised replay.

Storage: one ring of ``T = buffer_size // num_envs`` *slots* per env, arrays
``[T, N, ...]``. Slot ``k`` of env ``e`` holds a frame (an observation) and, if
an action was taken in it, that transition's action, reward and end flags.
The next observation of a transition is the frame in the next slot, so frames
are never stored twice::

    slot:      k      k+1    k+2    k+3       k+4          k+5
    frame:     s_0    s_1    s_2    s_3(final) s'_0(reset)  (current)
    action:    a_0    a_1    a_2    -          a'_0
    flags:                   end    padding

When an episode ends, the env's true last observation (Gymnasium's
``info["final_obs"]``: craftlab's vector envs reset in the same step) goes into
a *padding* slot that holds no transition, and the reset observation into the
slot after it. A buffer of ``buffer_size`` slots therefore keeps
``buffer_size`` frames: the transitions plus one frame per stored episode end
(memory ~ ``buffer_size * frame bytes``, not twice that).

The slot at each env's head (``pos[e]``) holds the current observation, whose
action is not known yet. ``valid[k, e]`` marks slots that hold a complete
transition; only those are sampled.

n-step returns (Sutton & Barto 7.1; Hessel et al. 2018), computed when sampling::

    m        = min(n, steps to the episode's end, steps stored after k)
    R_k      = sum_{j<m} gamma^j r_{k+j}
    target   = R_k + (1 - terminated) * gamma^m * max_a Q(s_{k+m}, a)

A *terminated* episode (a real end state) is not bootstrapped; a *truncated*
one (a time limit, or a run restarted from a checkpoint) is, from its true last
observation (Pardo et al. 2018). The sum never crosses an episode's end.

Prioritised replay (Schaul et al. 2016, proportional variant): transition ``i``
is drawn with ``P(i) = p_i^alpha / sum_k p_k^alpha``, ``p_i = |delta_i| + eps``
(new transitions get the largest priority seen so far, so each is replayed at
least about once), and its loss is weighted by the importance-sampling weight
``w_i = (N * P(i))^-beta / max_k w_k`` (N = stored transitions), with beta
annealed from ``beta0`` to 1 by the agent. The draws are stratified: one in each
of ``batch_size`` equal ranges of the total priority.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from craftlab.agents.off_policy.sum_tree import MinTree, SumTree


class ReplayBufferSamples(NamedTuple):
    """A batch of ``B`` sampled transitions, torch tensors on the agent's device
    (``indices`` stays numpy: it only goes back to the buffer)."""

    observations: torch.Tensor
    """s_k: ``[B, *obs_shape]`` in the observation space's dtype (uint8 images stay bytes)"""
    actions: torch.Tensor
    """a_k: ``long[B]`` (Discrete) or ``float32[B, act_dim]`` (Box)"""
    rewards: torch.Tensor
    """n-step discounted reward sum R_k = sum_{j<m} gamma^j r_{k+j}: ``float32[B]``"""
    next_observations: torch.Tensor
    """s_{k+m}, the observation to bootstrap from (the true final observation when the
    episode ended): ``[B, *obs_shape]``"""
    terminated: torch.Tensor
    """1.0 where the episode terminated within the m steps (no bootstrap): ``float32[B]``"""
    discounts: torch.Tensor
    """gamma^m, the bootstrap's discount: ``float32[B]``"""
    weights: torch.Tensor
    """importance-sampling weights w_k (all 1 without prioritised replay): ``float32[B]``"""
    indices: np.ndarray
    """``int64[B]`` buffer indices (``slot * num_envs + env``) for :meth:`ReplayBuffer.update_priorities`"""


class ReplayBuffer:
    """Transitions of ``num_envs`` parallel envs; see the module docstring."""

    def __init__(
        self,
        buffer_size: int,
        num_envs: int,
        observation_space: gym.Space,
        action_space: gym.Space,
        gamma: float = 0.99,
        n_step: int = 1,
        prioritized: bool = False,
        alpha: float = 0.6,
        priority_eps: float = 1e-6,
        rng: np.random.Generator | None = None,
    ):
        self.num_envs = N = num_envs
        self.slots = T = buffer_size // num_envs
        """slots per env (frames stored per env)"""
        if T < n_step + 2:
            raise ValueError(
                f"buffer_size {buffer_size} leaves {T} slots per env for {num_envs} envs; "
                f"it needs at least n_step + 2 = {n_step + 2}"
            )
        self.gamma, self.n_step = gamma, n_step
        self.prioritized, self.alpha, self.priority_eps = prioritized, alpha, priority_eps
        self.rng = rng if rng is not None else np.random.default_rng()
        self.obs_shape = tuple(observation_space.shape or ())
        self.obs_dtype = np.dtype(observation_space.dtype)
        if isinstance(action_space, gym.spaces.Discrete):
            self.action_shape: tuple[int, ...] = ()
            self.action_dtype: np.dtype = np.dtype(np.int64)
        elif isinstance(action_space, gym.spaces.Box):
            self.action_shape, self.action_dtype = tuple(action_space.shape), np.dtype(np.float32)
        else:
            raise ValueError(f"the replay buffer supports Discrete and Box actions, got {action_space}")

        self.frames = np.zeros((T, N, *self.obs_shape), dtype=self.obs_dtype)
        """observations; frame ``k + 1`` is transition ``k``'s next observation"""
        self.actions = np.zeros((T, N, *self.action_shape), dtype=self.action_dtype)
        self.rewards = np.zeros((T, N), dtype=np.float32)
        self.terminated = np.zeros((T, N), dtype=bool)
        """the episode reached a terminal state at this transition"""
        self.truncated = np.zeros((T, N), dtype=bool)
        """the episode was cut after this transition (time limit, run restart)"""
        self.valid = np.zeros((T, N), dtype=bool)
        """the slot holds a complete transition (not the head, not a padding slot)"""
        self.pos = np.zeros(N, dtype=np.int64)
        """each env's head: the slot holding its current observation"""
        self.needs_obs = np.ones(N, dtype=bool)
        """the head slot is still waiting for its first observation (start, after a restart)"""
        self.high_water = 0
        """slots ever used per env, at most T (uniform sampling draws below it)"""
        self.num_transitions = 0
        """complete transitions stored (``len(buffer)``)"""
        self.priorities = np.zeros(T * N, dtype=np.float64) if prioritized else None
        """p_i (before the exponent alpha) of each buffer index; 0 where no transition"""
        self.sum_tree = SumTree(T * N) if prioritized else None
        self.min_tree = MinTree(T * N) if prioritized else None
        self.max_priority = 1.0
        """the largest p_i seen: new transitions get it"""

    def __len__(self) -> int:
        return self.num_transitions

    @property
    def nbytes(self) -> int:
        """Bytes of all storage arrays (frames dominate: ``slots * num_envs * frame bytes``)."""
        arrays = [self.frames, self.actions, self.rewards, self.terminated, self.truncated, self.valid]
        if self.prioritized:
            assert self.priorities is not None and self.sum_tree is not None and self.min_tree is not None
            arrays += [self.priorities, self.sum_tree.nodes, self.min_tree.nodes]
        return sum(a.nbytes for a in arrays)

    # ------------------------------------------------------------------ adding

    def _claim(self, slots: np.ndarray, envs: np.ndarray) -> None:
        """The head moved onto ``slots``: whatever old transition they held is gone."""
        old = self.valid[slots, envs]
        self.num_transitions -= int(old.sum())
        self.valid[slots, envs] = False
        self.terminated[slots, envs] = False
        self.truncated[slots, envs] = False
        if self.prioritized:
            self._set_priority(slots * self.num_envs + envs, np.zeros(len(slots)))
        self.high_water = max(self.high_water, int(slots.max()) + 1) if len(slots) else self.high_water

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_obs: np.ndarray | None = None,
    ) -> None:
        """One step of all ``N`` envs: ``obs[N, ...]`` (the observations acted on),
        ``actions[N, ...]``, ``rewards[N]``, ``next_obs[N, ...]`` (what the vector env
        returned: the reset observation where an episode ended), ``terminated[N]``,
        ``truncated[N]`` and ``final_obs`` (the true last observation of each env whose
        episode ended: an object array or list indexed by env, as ``info["final_obs"]``;
        entries of other envs are ignored). ``obs`` is only read where the buffer does
        not hold it yet (an env's first step): otherwise it is the previous ``next_obs``."""
        N, T = self.num_envs, self.slots
        envs = np.arange(N)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool) & ~terminated
        ended = terminated | truncated
        if ended.any() and final_obs is None:
            raise ValueError("an episode ended but no final_obs was given (info['final_obs'] of the vector env)")

        # the observation acted on, where the head slot does not have it yet
        fresh = np.flatnonzero(self.needs_obs)
        if len(fresh):
            self.frames[self.pos[fresh], fresh] = np.asarray(obs)[fresh]
            self.needs_obs[fresh] = False

        # the transition itself, in the head slot
        k = self.pos.copy()
        self.actions[k, envs] = np.asarray(actions).reshape(N, *self.action_shape)
        self.rewards[k, envs] = np.asarray(rewards, dtype=np.float32)
        self.terminated[k, envs] = terminated
        self.truncated[k, envs] = truncated
        self.valid[k, envs] = True
        self.num_transitions += N
        if self.prioritized:  # new transitions: the largest priority so far
            self._set_priority(k * N + envs, np.full(N, self.max_priority))

        # its next observation in the following slot: the true final one where the episode ended
        nxt = (k + 1) % T
        self._claim(nxt, envs)
        next_frames = np.array(next_obs, copy=True)
        for e in np.flatnonzero(ended):
            assert final_obs is not None
            next_frames[e] = final_obs[e]
        self.frames[nxt, envs] = next_frames
        self.pos = nxt

        # where an episode ended, the slot after it is padding; the reset observation goes after
        done = np.flatnonzero(ended)
        if len(done):
            start = (nxt[done] + 1) % T
            self._claim(start, done)
            self.frames[start, done] = np.asarray(next_obs)[done]
            self.pos[done] = start

    def restart_episodes(self) -> None:
        """The envs restarted without the buffer seeing their episodes end (a new vector
        env, e.g. after resuming from a checkpoint): every running episode is treated as
        truncated after its last stored transition, bootstrapping from the last stored
        observation, and the next :meth:`add` stores its ``obs`` as a first observation."""
        T = self.slots
        for e in np.flatnonzero(~self.needs_obs):
            last = (self.pos[e] - 1) % T
            if self.valid[last, e] and not (self.terminated[last, e] or self.truncated[last, e]):
                self.truncated[last, e] = True
            nxt = (self.pos[e] + 1) % T  # the head's frame becomes padding (the cut episode's last obs)
            self._claim(np.array([nxt]), np.array([e]))
            self.pos[e] = nxt
        self.needs_obs[:] = True

    # ------------------------------------------------------------- sampling

    def sample(self, batch_size: int, beta: float = 1.0, device: torch.device | str = "cpu") -> ReplayBufferSamples:
        """``batch_size`` transitions: uniformly, or proportionally to their priority
        with importance-sampling exponent ``beta``."""
        if self.num_transitions == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self.prioritized:
            indices, weights = self._sample_prioritized(batch_size, beta)
        else:
            indices, weights = self._sample_uniform(batch_size), np.ones(batch_size, dtype=np.float32)
        slots, envs = indices // self.num_envs, indices % self.num_envs
        rewards, m, terminated = self.n_step_returns(slots, envs)
        next_slots = (slots + m) % self.slots

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x).to(device, non_blocking=True)

        return ReplayBufferSamples(
            observations=tensor(self.frames[slots, envs]),
            actions=tensor(self.actions[slots, envs]),
            rewards=tensor(rewards.astype(np.float32)),
            next_observations=tensor(self.frames[next_slots, envs]),
            terminated=tensor(terminated.astype(np.float32)),
            discounts=tensor((self.gamma**m).astype(np.float32)),
            weights=tensor(weights.astype(np.float32)),
            indices=indices,
        )

    def n_step_returns(self, slots: np.ndarray, envs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For transitions ``(slots[i], envs[i])``: ``(R, m, terminated)`` with
        ``R = sum_{j<m} gamma^j r_{k+j}`` (float64), ``m`` the steps summed (1..n: fewer
        at an episode's end or at the newest stored step), ``terminated`` whether the
        episode terminated at step ``k + m - 1``."""
        T = self.slots
        stored_after = (self.pos[envs] - slots) % T  # transitions from k up to the head
        returns = np.zeros(len(slots), dtype=np.float64)
        m = np.zeros(len(slots), dtype=np.int64)
        terminated = np.zeros(len(slots), dtype=bool)
        running = np.ones(len(slots), dtype=bool)
        for j in range(self.n_step):
            k = (slots + j) % T
            take = running & (j < stored_after)
            returns += np.where(take, self.gamma**j * self.rewards[k, envs], 0.0)
            m += take
            terminated |= take & self.terminated[k, envs]
            running = take & ~(self.terminated[k, envs] | self.truncated[k, envs])
        return returns, m, terminated

    def _sample_uniform(self, batch_size: int) -> np.ndarray:
        """Uniform over stored transitions: draw slots below the high-water mark, redraw
        the few that hold none (heads, padding)."""
        out = np.empty(0, dtype=np.int64)
        while len(out) < batch_size:
            n = 2 * (batch_size - len(out)) + 8
            slots = self.rng.integers(0, self.high_water, n)
            envs = self.rng.integers(0, self.num_envs, n)
            keep = self.valid[slots, envs]
            out = np.concatenate([out, (slots * self.num_envs + envs)[keep]])
        return out[:batch_size]

    def _sample_prioritized(self, batch_size: int, beta: float) -> tuple[np.ndarray, np.ndarray]:
        """Stratified proportional draws and their normalised IS weights."""
        assert self.sum_tree is not None and self.min_tree is not None
        total = self.sum_tree.total
        u = (np.arange(batch_size) + self.rng.random(batch_size)) * (total / batch_size)
        indices = self.sum_tree.find_prefix_sum(np.minimum(u, np.nextafter(total, 0)))
        probs = self.sum_tree[indices] / total  # P(i)
        n = self.num_transitions
        weights = (n * probs) ** -beta  # w_i = (N P(i))^-beta
        max_weight = (n * self.min_tree.min / total) ** -beta  # max_k w_k: the smallest P(k)
        return indices, weights / max_weight

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray | torch.Tensor) -> None:
        """``p_i = |delta_i| + eps`` for sampled ``indices`` (those still stored)."""
        if not self.prioritized:
            return
        if isinstance(td_errors, torch.Tensor):
            td_errors = td_errors.detach().float().cpu().numpy()
        indices = np.asarray(indices, dtype=np.int64)
        p = np.abs(np.asarray(td_errors, dtype=np.float64)).reshape(-1) + self.priority_eps
        still = self.valid[indices // self.num_envs, indices % self.num_envs]
        self._set_priority(indices[still], p[still])
        if still.any():
            self.max_priority = max(self.max_priority, float(p[still].max()))

    def _set_priority(self, indices: np.ndarray, p: np.ndarray) -> None:
        """p_i -> leaves p_i^alpha of the sum tree (and of the min tree, +inf for 0)."""
        assert self.priorities is not None and self.sum_tree is not None and self.min_tree is not None
        self.priorities[indices] = p
        scaled = np.where(p > 0, p, 0.0) ** self.alpha
        self.sum_tree.update(indices, np.where(p > 0, scaled, 0.0))
        self.min_tree.update(indices, np.where(p > 0, scaled, np.inf))

    # ---------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        """The whole buffer as tensors (sharing memory with the arrays, no copy)."""
        state: dict[str, Any] = {
            "frames": torch.from_numpy(self.frames),
            "actions": torch.from_numpy(self.actions),
            "rewards": torch.from_numpy(self.rewards),
            "terminated": torch.from_numpy(self.terminated),
            "truncated": torch.from_numpy(self.truncated),
            "valid": torch.from_numpy(self.valid),
            "pos": torch.from_numpy(self.pos),
            "needs_obs": torch.from_numpy(self.needs_obs),
            "high_water": self.high_water,
            "num_transitions": self.num_transitions,
            "max_priority": self.max_priority,
        }
        if self.priorities is not None:
            state["priorities"] = torch.from_numpy(self.priorities)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if tuple(state["frames"].shape) != self.frames.shape:
            raise ValueError(
                f"replay buffer of shape {tuple(state['frames'].shape)} does not fit this one "
                f"{self.frames.shape} (buffer_size, num_envs or observations differ)"
            )
        for name in ("frames", "actions", "rewards", "terminated", "truncated", "valid", "pos", "needs_obs"):
            getattr(self, name)[...] = state[name].cpu().numpy()
        self.high_water = int(state["high_water"])
        self.num_transitions = int(state["num_transitions"])
        self.max_priority = float(state["max_priority"])
        if self.prioritized:
            assert self.priorities is not None and self.sum_tree is not None and self.min_tree is not None
            if "priorities" in state:
                self.priorities[:] = state["priorities"].cpu().numpy()
            else:  # saved without prioritised replay: every transition at the largest priority
                self.priorities[:] = np.where(self.valid.reshape(-1), self.max_priority, 0.0)
            scaled = self.priorities**self.alpha
            self.sum_tree.rebuild(np.where(self.priorities > 0, scaled, 0.0))
            self.min_tree.rebuild(np.where(self.priorities > 0, scaled, np.inf))
