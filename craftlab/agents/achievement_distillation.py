"""Achievement Distillation (Moon, Yeom, Park, Song, NeurIPS 2023, "Discovering
Hierarchical Achievements in Reinforcement Learning via Contrastive Learning"),
from scratch, on PPG (``agents/ppg.py``). Published on Crafter at 1M steps:
21.8 +- 1.4 (PPO with the same network: 15.6 +- 1.7).

An *achievement* is unlocked by one step ``s -a-> s'`` (an env reports them in
``info["achievements"]``: counts per name, as Crafter does). Its embedding is
the change it makes in the trunk's features phi::

    e(s, s') = normalize(phi(s') - phi(s))            (the end of an episode: normalize(-phi(s_T)))

Memory: m_t = e of the last achievement unlocked in this episode (0 before the
first), and the heads read both: pi(a | [phi(s_t), m_t]), V([phi(s_t), m_t]).

PPG's phases, with the auxiliary phase's value head replaced by two contrastive
objectives (temperature tau), over the complete episodes in B::

    policy phase: PPO on (s_t, m_t)                                   n_pi rollouts
    auxiliary phase, E_aux epochs of:
      cross-trajectory achievement matching, for each episode i with achievements and
      up to K other such episodes j:
          T     = entropic partial optimal transport between {e_i} and {e_j}, cost 1 - cos
                  (Benamou et al. 2015); pairs with T > 0.5 are the same achievement
          L^match = CE([e_i . e_j+, e_i . e_j-] / tau, 0)            e_j-: a random one of j's
      intra-trajectory achievement prediction, for each episode and step t:
          g_t   = e of the next achievement unlocked after step t (or the episode's end)
          p(s, a, m) = normalize(MLP([FiLM(phi(s) | a), m]))           predicted next achievement
          L^pred  = CE([g_t . p(s_t, a_t, m_t), g_t . p(s_u, a_u, m_u)] / tau, 0)   u: a random step
      each minibatch also: + beta_clone KL(pi_theta || pi_old) + c_vd (V - V_targ)^2

As in the authors' code (snu-mllab/Achievement-Distillation): only episodes
that start and end inside B; the contrastive targets (g_t; e_j+, e_j-) carry no
gradient; the KL is KL(new || old); each objective has its own Adam; the value
distillation moves norm_value's statistics like the value loss; the memory is
updated in rollouts only when an achievement is unlocked for the first time in
the episode. Discrete actions (the FiLM reads a one-hot action), feed-forward
trunks. Cost, not maths: each prediction minibatch embeds each of the episode's
goals once (:func:`next_goals`), not once per step, and one pass over B gives
pi_old and the value's error (:meth:`PPG.evaluate_buffer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from craftlab.agents.networks import NetworkConfig, NormLinearReLU, fan_in_init, init_linear, layer_init
from craftlab.agents.on_policy import ActorCritic, RolloutBuffer, RolloutBufferSamples
from craftlab.agents.ppg import PPG, PPGConfig
from craftlab.core.config import ConfigError, require


@dataclass
class AchievementDistillationConfig(PPGConfig):
    """Achievement Distillation's settings (defaults: the authors' configs/ppo_ad.yaml)."""

    n_pi: int = 8
    """N_pi (aux_freq): policy-phase rollouts per auxiliary phase"""
    aux_epochs: int = 6
    """E_aux (aux_nepoch): epochs of matching + prediction per auxiliary phase"""
    aux_minibatch_size: int = 512
    """largest minibatch of the auxiliary phase (max_batch_size)"""
    beta_clone: float = 1.0
    """weight of KL(pi_theta || pi_old) in both auxiliary objectives (pi_dist_coef)"""
    aux_value_coef: float = 0.0
    """not used: AD has no auxiliary value head (its value head is distilled: vf_dist_coef)"""
    vf_dist_coef: float = 1.0
    """c_vd: weight of the value distillation (V - V_targ)^2 in both auxiliary objectives"""
    temperature: float = 0.1
    """tau of the contrastive logits"""
    use_memory: bool = True
    """the heads and the predictor read the memory m_t (false: the paper's ablation)"""
    match_episodes: int = 16
    """K: other episodes each episode's achievements are matched against"""
    ot_reg: float = 0.05
    """entropic regularisation of the partial optimal transport"""
    ot_iterations: int = 100
    """Bregman-projection iterations of the partial optimal transport"""
    match_threshold: float = 0.5
    """transport mass above which two achievements count as the same"""
    predictor_layers: int = 1
    """hidden layers (width: the trunk's features) of the FiLM and predictor MLPs"""

    def validate(self) -> None:
        super().validate()
        require(self.temperature > 0, "temperature", "must be > 0")
        require(self.match_episodes >= 1, "match_episodes", "must be >= 1")
        require(self.ot_reg > 0, "ot_reg", "must be > 0")
        require(self.ot_iterations >= 1, "ot_iterations", "must be >= 1")
        require(0.0 < self.match_threshold < 1.0, "match_threshold", "must be in (0, 1)")
        require(self.predictor_layers >= 1, "predictor_layers", "must be >= 1")


def entropic_partial_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    cost: np.ndarray,
    reg: float,
    iterations: int = 100,
    mass: np.ndarray | float | None = None,
) -> np.ndarray:
    """Entropic partial optimal transport (Benamou, Carlier, Cuturi, Nenna, Peyre 2015,
    "Iterative Bregman projections for regularized transportation problems", section 5.2):
    the plan ``T[n, m]`` minimising ``<T, cost> - reg H(T)`` subject to ``T 1 <= a``,
    ``T^T 1 <= b`` and ``1^T T 1 = mass`` (default ``min(sum a, sum b)``), by Dykstra's
    iterated KL projections onto the three constraint sets. Batched over leading axes
    (``a[..., n]``, ``b[..., m]``, ``cost[..., n, m]``); entries with ``a`` or ``b`` 0
    carry no mass (padding). NumPy float64: the matrices are achievements x achievements."""
    a, b, cost = (np.asarray(x, dtype=np.float64) for x in (a, b, cost))
    mass = np.minimum(a.sum(-1), b.sum(-1)) if mass is None else np.asarray(mass, dtype=np.float64)
    mass = np.asarray(mass)[..., None, None]
    tiny = np.finfo(np.float64).tiny
    plan = np.exp(-cost / reg) * ((a[..., :, None] > 0) & (b[..., None, :] > 0))
    plan = plan * mass / np.maximum(plan.sum((-2, -1), keepdims=True), tiny)
    q1, q2, q3 = np.ones_like(plan), np.ones_like(plan), np.ones_like(plan)
    for _ in range(iterations):
        prev, plan = plan, plan * q1  # rows: T 1 <= a
        rows = plan * np.minimum(a[..., :, None] / np.maximum(plan.sum(-1, keepdims=True), tiny), 1.0)
        q1 = q1 * prev / np.maximum(rows, tiny)
        prev, plan = rows, rows * q2  # columns: T^T 1 <= b
        cols = plan * np.minimum(b[..., None, :] / np.maximum(plan.sum(-2, keepdims=True), tiny), 1.0)
        q2 = q2 * prev / np.maximum(cols, tiny)
        prev, plan = cols, cols * q3  # total mass
        plan = plan * mass / np.maximum(plan.sum((-2, -1), keepdims=True), tiny)
        q3 = q3 * prev / np.maximum(plan, tiny)
    return plan


def _mlp(in_features: int, hidden: int, layers: int, out_features: int, network: NetworkConfig) -> nn.Sequential:
    """The authors' MLP: ``layers`` x ([LayerNorm] -> Linear -> ReLU), then Linear ``out_features``
    (fan-in init: 1.4 hidden, 1.0 out, with ``weight_init: fan_in``)."""
    modules: list[nn.Module] = []
    for _ in range(layers):
        layer = NormLinearReLU(in_features, hidden, network.dense_layer_norm)
        init_linear(layer.linear, network.weight_init, 1.4)
        modules.append(layer)
        in_features = hidden
    out = nn.Linear(in_features, out_features)
    if network.weight_init == "fan_in":
        fan_in_init(out, 1.0)
    else:
        layer_init(out, gain=1.0)
    return nn.Sequential(*modules, out)


class AchievementActorCritic(ActorCritic):
    """One trunk phi; heads on [phi(s), m]; the FiLM achievement predictor. The policy's
    *state* is the memory m, ``float32[B, H]`` (H = the trunk's features)."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        network: NetworkConfig,
        norm_value_beta: float,
        norm_value_std_floor: float,
        config: AchievementDistillationConfig,
    ):
        super().__init__(observation_space, action_space, network, True, norm_value_beta, norm_value_std_floor)
        hidden = self.features
        self.use_memory = config.use_memory
        head_in = 2 * hidden if config.use_memory else hidden
        self.num_actions = int(action_space.n)
        self.policy_head = layer_init(nn.Linear(head_in, self.num_actions), gain=network.policy_init_gain)
        self.value_head = layer_init(nn.Linear(head_in, 1), gain=network.value_init_gain)
        self.action_film = _mlp(self.num_actions, hidden, config.predictor_layers, 2 * hidden, network)
        self.predictor = _mlp(head_in, hidden, config.predictor_layers, hidden, network)

    @property
    def stateful(self) -> bool:
        return True

    def initial_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.features, device=self.value_head.weight.device)

    def index_state(self, state: torch.Tensor, idx: np.ndarray | torch.Tensor) -> torch.Tensor:
        return state[idx]

    def latent(self, obs: torch.Tensor) -> torch.Tensor:
        """phi(s): ``[B, H]``."""
        return self.actor_encoder(obs)

    def with_memory(self, latent: torch.Tensor, memory: torch.Tensor | None) -> torch.Tensor:
        """The heads' input: ``[phi(s), m]`` (``[phi(s)]`` without use_memory)."""
        if not self.use_memory:
            return latent
        return torch.cat([latent, torch.zeros_like(latent) if memory is None else memory], -1)

    def encode(self, obs: torch.Tensor, state: Any = None, episode_start: torch.Tensor | None = None):
        memory = state
        if memory is not None and episode_start is not None:  # a new episode forgets
            memory = memory * (1.0 - episode_start.float())[:, None]
        features = self.with_memory(self.latent(obs), memory)
        return features, features, memory

    def value(self, obs: torch.Tensor, state: Any = None, episode_start: torch.Tensor | None = None) -> torch.Tensor:
        return self.value_from_features(self.encode(obs, state, episode_start)[1])

    def embed(self, obs: torch.Tensor, next_obs: torch.Tensor, has_next: torch.Tensor | None = None) -> torch.Tensor:
        """Achievement embeddings e(s, s') = normalize(phi(s') - phi(s)), ``[B, H]``; where
        ``has_next`` is 0 (the episode's end), phi(s') counts as 0."""
        phi, phi_next = self.latent(obs), self.latent(next_obs)
        if has_next is not None:
            phi_next = phi_next * has_next.float()[:, None]
        return F.normalize(phi_next - phi, dim=-1)

    def predict(self, latent: torch.Tensor, actions: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """The next achievement's predicted embedding from phi(s_t), a_t (FiLM) and m_t: ``[B, H]``."""
        gamma, beta = self.action_film(F.one_hot(actions.long(), self.num_actions).float()).chunk(2, -1)
        x = self.with_memory((1 + gamma) * latent + beta, memory)
        return F.normalize(self.predictor(x), dim=-1)


class Episode(NamedTuple):
    """One complete episode of B (views into B's tensors)."""

    obs: torch.Tensor
    actions: torch.Tensor
    memory: torch.Tensor
    returns: torch.Tensor
    old_logits: torch.Tensor
    """pi_old's logits, ``[L, A]``"""
    goal_steps: torch.Tensor
    """g: the step g - 1 -> g unlocked an achievement, ``long[G]``"""
    goal_ids: torch.Tensor
    """which achievement (index into the env's names), ``long[G]``"""


class AchievementDistillation(PPG):
    """PPG + achievement matching, achievement prediction and the achievement memory."""

    name = "achievement_distillation"
    Config = AchievementDistillationConfig
    config: AchievementDistillationConfig
    policy: AchievementActorCritic

    def __init__(self, config: AchievementDistillationConfig, envs, device="cpu", seed: int = 0):
        self.achievement_names = _achievement_names(envs)
        if not isinstance(envs.action_space, gym.spaces.Discrete):
            raise ConfigError(
                f"algorithm 'achievement_distillation' needs Discrete actions, env '{envs.id}' has {envs.action_space}"
            )
        super().__init__(config, envs, device, seed)
        self._achieved: np.ndarray | None = None
        """per env: which achievements this episode has unlocked so far"""

    def build_policy(self, shared: bool) -> AchievementActorCritic:
        beta = self.config.norm_value_beta if self.config.norm_value else 0.0
        return AchievementActorCritic(
            self.observation_space,
            self.action_space,
            self.config.network,
            beta,
            self.config.norm_value_std_floor,
            self.config,
        )

    def build_aux_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr = self.config.aux_learning_rate or self.config.learning_rate
        return {
            name: torch.optim.Adam(self.policy.parameters(), lr=lr, eps=self.config.adam_eps)
            for name in ("match", "pred")
        }

    # ------------------------------------------------------- rollouts: memory

    def make_rollout_buffer(self, num_envs: int) -> RolloutBuffer:
        buffer = super().make_rollout_buffer(num_envs)
        T, N, H = self.config.num_steps, num_envs, self.policy.features
        buffer.extra["memory"] = torch.zeros(T, N, H, device=self.device)
        """m_t, the memory the policy acted with"""
        buffer.extra["unlocked"] = torch.zeros(T, N, device=self.device)
        """1 where step t unlocked an achievement for the first time in its episode (and went on)"""
        buffer.extra["unlock_id"] = torch.full((T, N), -1, dtype=torch.long, device=self.device)
        return buffer

    def after_env_step(
        self,
        buffer: RolloutBuffer,
        t: int,
        obs: torch.Tensor,
        next_obs: torch.Tensor,
        next_state: Any,
        info: dict[str, Any],
        done: np.ndarray,
    ) -> torch.Tensor:
        memory = next_state
        buffer.extra["memory"][t] = memory
        achieved = self._achieved_now(info, len(done))
        if self._achieved is None:
            self._achieved = np.zeros_like(achieved)
        new = achieved & ~self._achieved
        new[done] = False  # the last step of an episode has no next observation in it
        self._achieved = achieved  # the envs that finished report their new episode's (none)
        unlocked = new.any(1)
        buffer.extra["unlocked"][t] = torch.as_tensor(unlocked, dtype=torch.float32, device=self.device)
        buffer.extra["unlock_id"][t] = torch.as_tensor(np.where(unlocked, new.argmax(1), -1), device=self.device)
        memory = memory.clone()
        if unlocked.any():  # m <- e(s_t, s_t+1) of the achievement just unlocked
            idx = torch.as_tensor(np.flatnonzero(unlocked), device=self.device)
            memory[idx] = self.policy.embed(obs[idx], next_obs[idx])
        if done.any():
            memory[torch.as_tensor(np.flatnonzero(done), device=self.device)] = 0.0
        return memory

    def _achieved_now(self, info: dict[str, Any], n: int) -> np.ndarray:
        """``bool[N, K]``: achievements unlocked so far in each env's current episode."""
        counts = info.get("achievements")
        if counts is None:
            raise ConfigError(
                f"algorithm 'achievement_distillation' needs info['achievements'] at every step; "
                f"env '{self.envs.id}' stopped reporting it"
            )
        return np.stack([np.asarray(counts[name]).reshape(n) > 0 for name in self.achievement_names], 1)

    def policy_state(self, batch: RolloutBufferSamples) -> tuple[Any, torch.Tensor | None]:
        return batch.extra["memory"], None  # each sample's memory as it acted

    # ------------------------------------------------- playing: the same memory

    @torch.inference_mode()
    def act(
        self, obs: Any, state: Any = None, episode_start: np.ndarray | None = None, deterministic: bool = True
    ) -> tuple[np.ndarray, Any]:
        """Acting outside training (``eval``, ``watch``) keeps the memory as rollouts do:
        ``state`` holds m, phi(s) of the last observation, the achievements seen and which
        envs :meth:`observe` saw unlock one; m <- e(s, s') once s' is here."""
        self.policy.eval()
        obs_t = self._obs_tensor(np.asarray(obs))
        latent = self.policy.latent(obs_t)
        n = len(latent)
        if state is None:
            state = {
                "memory": torch.zeros_like(latent),
                "latent": latent,
                "achieved": None,
                "unlocked": torch.zeros(n, dtype=torch.bool, device=self.device),
            }
        memory, achieved = state["memory"].clone(), state["achieved"]
        if state["unlocked"].any():
            idx = state["unlocked"]
            memory[idx] = F.normalize(latent[idx] - state["latent"][idx], dim=-1)
        if episode_start is not None and np.any(episode_start):
            start = torch.as_tensor(np.asarray(episode_start, dtype=bool), device=self.device)
            memory[start] = 0.0
            if achieved is not None:
                achieved = achieved.copy()
                achieved[np.asarray(episode_start, dtype=bool)] = False
        dist = self.policy.distribution(self.policy.with_memory(latent, memory))
        action = dist.probs.argmax(-1) if deterministic else dist.sample()
        return action.cpu().numpy(), {
            "memory": memory,
            "latent": latent,
            "achieved": achieved,
            "unlocked": torch.zeros(n, dtype=torch.bool, device=self.device),
        }

    def observe(self, state: Any, info: dict[str, Any]) -> Any:
        """Note which envs unlocked an achievement for the first time in this episode."""
        if state is None or not isinstance(info, dict) or "achievements" not in info:
            return state
        n = len(state["latent"])
        achieved = self._achieved_now(info, n)
        before = np.zeros_like(achieved) if state["achieved"] is None else state["achieved"]
        new = (achieved & ~before).any(1)
        return {**state, "achieved": achieved, "unlocked": torch.as_tensor(new, device=self.device)}

    # --------------------------------------------------------- auxiliary phase

    def aux_record(self, buffer: RolloutBuffer) -> dict[str, torch.Tensor]:
        return {
            "obs": buffer.obs,
            "actions": buffer.actions,
            "returns": buffer.returns,
            "episode_starts": buffer.episode_starts,
            "memory": buffer.extra["memory"],
            "unlocked": buffer.extra["unlocked"],
            "unlock_id": buffer.extra["unlock_id"],
        }

    def episodes(self, old_logits: torch.Tensor | None = None) -> list[Episode]:
        """B's complete episodes (from one episode start to the next, per env), with pi_old's
        logits (``old_logits``: ``[|B|, A]`` in :meth:`AuxiliaryBuffer.flat`'s order; default:
        the policy's now)."""
        B = self.aux_buffer
        obs, memory = B.along_time("obs"), B.along_time("memory")
        L, N = obs.shape[:2]
        if old_logits is None:
            flat_obs, flat_returns, flat_memory = (B.flat(k) for k in ("obs", "returns", "memory"))
            old_logits = self.evaluate_buffer(flat_obs, flat_returns, flat_memory).outputs["head"]
        old_logits = old_logits.reshape(L, N, -1)
        actions, returns = B.along_time("actions"), B.along_time("returns")
        starts, unlocked, unlock_id = (
            B.along_time("episode_starts"),
            B.along_time("unlocked"),
            B.along_time("unlock_id"),
        )
        out = []
        for n in range(N):
            bounds = torch.nonzero(starts[:, n]).flatten().tolist()
            for a, b in zip(bounds[:-1], bounds[1:]):
                steps = torch.nonzero(unlocked[a : b - 1, n]).flatten()
                out.append(
                    Episode(
                        obs[a:b, n],
                        actions[a:b, n],
                        memory[a:b, n],
                        returns[a:b, n],
                        old_logits[a:b, n],
                        steps + 1,
                        unlock_id[a:b, n][steps],
                    )
                )
        return out

    def auxiliary_phase(self) -> dict[str, float]:
        cfg = self.config
        flat_obs, flat_returns, flat_memory = (self.aux_buffer.flat(k) for k in ("obs", "returns", "memory"))
        old_all, before, _ = self.evaluate_buffer(flat_obs, flat_returns, flat_memory)  # pi_old, V's error
        episodes = [e for e in self.episodes(old_all["head"]) if len(e.goal_steps) > 0]
        stats: dict[str, list[float]] = {}
        for _epoch in range(cfg.aux_epochs):
            for loss, terms in self.match_losses(episodes):
                self.aux_step(self.aux_optimizers["match"], loss)
                for key, value in terms.items():
                    stats.setdefault(key, []).append(value)
            for loss, terms in self.prediction_losses(episodes):
                self.aux_step(self.aux_optimizers["pred"], loss)
                for key, value in terms.items():
                    stats.setdefault(key, []).append(value)
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        out["aux_episodes"] = float(len(episodes))
        after = self.evaluate_buffer(flat_obs, flat_returns, flat_memory, old=old_all)
        out["aux_value_error_before"] = before
        out["aux_value_error_after"] = after.value_error
        out["aux_kl"] = float(after.kl or 0.0)
        return out

    def _cloning_terms(
        self, obs: torch.Tensor, memory: torch.Tensor, old_logits: torch.Tensor, returns: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """phi(s), and the two terms that keep the rest in place: KL(pi_theta || pi_old) and the
        value distillation (V - V_targ)^2 (value head units)."""
        latent = self.policy.latent(obs)
        features = self.policy.with_memory(latent, memory)
        new_log_p = F.log_softmax(self.policy.policy_head(features), -1)
        old_log_p = F.log_softmax(old_logits, -1)
        kl = (new_log_p.exp() * (new_log_p - old_log_p)).sum(-1).mean()
        self.observe_returns(returns)  # norm_value_update: minibatch
        value = self.policy.value_head(features).squeeze(-1)
        value_loss = self.value_loss_scale * ((value - self.policy.normalize_value(returns)) ** 2).mean()
        return latent, kl, value_loss

    def _contrastive(
        self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CE([a . p, a . n] / tau, 0) and the two logits ``[B, 2]``."""
        logits = torch.stack([(anchor * positive).sum(-1), (anchor * negative).sum(-1)], -1) / self.config.temperature
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device)), logits

    def _shuffled(self, n: int) -> Iterator[torch.Tensor]:
        return self.aux_minibatches(n)

    def prediction_losses(self, episodes: list[Episode]) -> Iterator[tuple[torch.Tensor, dict[str, float]]]:
        """Intra-trajectory achievement prediction, one episode at a time."""
        cfg = self.config
        for i in self.np_rng.permutation(len(episodes)):
            ep = episodes[int(i)]
            L = len(ep.obs)
            goals = next_goals(ep.goal_steps, ep.goal_ids, L)
            next_id = goals.goal_ids[goals.segment]
            negative = torch.from_numpy(self.np_rng.permutation(L)).to(self.device)
            for mb in self._shuffled(L):
                neg = negative[mb]
                with torch.no_grad():  # each goal's embedding once (G + 1 pairs), not once per step
                    goal_emb = self.policy.embed(ep.obs[goals.obs], ep.obs[goals.next_obs], goals.has_next)
                anchor = goal_emb[goals.segment[mb]]  # g_t
                both = torch.cat([mb, neg])
                latent, kl, value_loss = self._cloning_terms(
                    ep.obs[both], ep.memory[both], ep.old_logits[both], ep.returns[both]
                )
                predicted = self.policy.predict(latent, ep.actions[both], ep.memory[both])
                pred_loss, logits = self._contrastive(anchor, *predicted.chunk(2))
                differ = next_id[mb] != next_id[neg]
                terms = {
                    "pred_loss": float(pred_loss.detach()),
                    "aux_clone_kl": float(kl.detach()),
                    "aux_distill_value_loss": float(value_loss.detach()),
                }
                if differ.any():
                    terms["pred_accuracy"] = float((logits[differ, 0] > logits[differ, 1]).float().mean())
                yield pred_loss + cfg.beta_clone * kl + cfg.vf_dist_coef * value_loss, terms

    def match_losses(self, episodes: list[Episode]) -> Iterator[tuple[torch.Tensor, dict[str, float]]]:
        """Cross-trajectory achievement matching, one source episode at a time."""
        cfg = self.config
        if len(episodes) < 2:
            return
        for i in self.np_rng.permutation(len(episodes)):
            src = episodes[int(i)]
            with torch.no_grad():
                src_emb = self.policy.embed(src.obs[src.goal_steps - 1], src.obs[src.goal_steps])
            others = [
                int(j) + (int(j) >= int(i))  # up to K episodes other than the source
                for j in self.np_rng.permutation(len(episodes) - 1)[: cfg.match_episodes]
            ]
            with torch.no_grad():
                tgt_embs = [
                    self.policy.embed(
                        episodes[j].obs[episodes[j].goal_steps - 1], episodes[j].obs[episodes[j].goal_steps]
                    )
                    for j in others
                ]
            # all K transports at once, padded to the most achievements (padding carries no mass)
            width = max(len(e) for e in tgt_embs)
            cost = np.ones((len(others), len(src_emb), width))
            capacity = np.zeros((len(others), width))
            for k, emb in enumerate(tgt_embs):
                cost[k, :, : len(emb)] = (1 - src_emb @ emb.T).cpu().numpy()
                capacity[k, : len(emb)] = 1.0
            plans = entropic_partial_wasserstein(
                np.ones((len(others), len(src_emb))), capacity, cost, cfg.ot_reg, cfg.ot_iterations
            )
            anchors, positives, negatives, same = [], [], [], []
            for k, j in enumerate(others):
                tgt, tgt_emb = episodes[j], tgt_embs[k]
                rows_np, cols_np = np.nonzero(plans[k] > cfg.match_threshold)
                if len(rows_np) == 0:
                    continue
                rows = torch.as_tensor(rows_np, device=self.device)
                cols = torch.as_tensor(cols_np, device=self.device)
                rand = torch.from_numpy(self.np_rng.integers(len(tgt_emb), size=len(cols))).to(self.device)
                anchors.append(torch.stack([src.obs[src.goal_steps[rows] - 1], src.obs[src.goal_steps[rows]]]))
                positives.append(tgt_emb[cols])
                negatives.append(tgt_emb[rand])
                same.append((src.goal_ids[rows] == tgt.goal_ids[cols]).float())
            if not anchors:
                continue
            anchor_pairs = torch.cat(anchors, 1)  # [2, n, ...]: s, s' of the source's achievements
            positive, negative, precision = torch.cat(positives), torch.cat(negatives), float(torch.cat(same).mean())
            n = anchor_pairs.shape[1]
            states = torch.from_numpy(self.np_rng.integers(len(src.obs), size=n)).to(self.device)
            for mb in self._shuffled(n):
                anchor = self.policy.embed(anchor_pairs[0][mb], anchor_pairs[1][mb])  # with gradient
                match_loss, _ = self._contrastive(anchor, positive[mb], negative[mb])
                s = states[mb]
                _, kl, value_loss = self._cloning_terms(src.obs[s], src.memory[s], src.old_logits[s], src.returns[s])
                terms = {
                    "match_loss": float(match_loss.detach()),
                    "match_precision": precision,
                    "aux_clone_kl": float(kl.detach()),
                    "aux_distill_value_loss": float(value_loss.detach()),
                }
                yield match_loss + cfg.beta_clone * kl + cfg.vf_dist_coef * value_loss, terms


class NextGoals(NamedTuple):
    """Where each step's next achievement g_t is, for one episode of length L with G unlocks."""

    obs: torch.Tensor
    """``long[G + 1]``: goal k's pair is (s_obs[k], s_next_obs[k]); goal G is the episode's end"""
    next_obs: torch.Tensor
    """``long[G + 1]``"""
    has_next: torch.Tensor
    """``long[G + 1]``: 0 for the end (its embedding is normalize(-phi(s_T)))"""
    goal_ids: torch.Tensor
    """``long[G + 1]``: which achievement each goal is (-1: the end)"""
    segment: torch.Tensor
    """``long[L]``: step t's goal, the first unlock after it (G after the last unlock)"""


def next_goals(goal_steps: torch.Tensor, goal_ids: torch.Tensor, length: int) -> NextGoals:
    """The prediction's targets: step t's goal is the first unlock s_g - 1 -> s_g with g > t, or
    the episode's end after the last one (``goal_steps``: the g, increasing, in 1..L - 1)."""
    G, device = len(goal_steps), goal_steps.device
    end = goal_steps.new_tensor([length - 1])
    lengths = torch.diff(torch.cat([goal_steps.new_tensor([0]), goal_steps, goal_steps.new_tensor([length])]))
    return NextGoals(
        obs=torch.cat([goal_steps - 1, end]),
        next_obs=torch.cat([goal_steps, end]),
        has_next=(torch.arange(G + 1, device=device) < G).long(),
        goal_ids=torch.cat([goal_ids, goal_ids.new_tensor([-1])]),
        segment=torch.repeat_interleave(torch.arange(G + 1, device=device), lengths),
    )


def _achievement_names(envs) -> list[str]:
    """The names in an env's ``info["achievements"]`` (from one reset), or a ConfigError."""
    env = envs.make()
    try:
        _, info = env.reset(seed=0)
    finally:
        env.close()
    counts = info.get("achievements") if isinstance(info, dict) else None
    if not counts:
        raise ConfigError(
            f"algorithm 'achievement_distillation' needs an env that reports its achievements in "
            f"info['achievements'] (e.g. crafter); env '{envs.id}' does not: use ppg or ppo"
        )
    return sorted(str(k) for k in counts if not str(k).startswith("_"))
