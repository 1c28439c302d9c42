"""Published Crafter results that craftlab's reports draw beside a run's own.

These are other people's numbers, copied here with their sources so reports
work offline. They are reference lines in plots, never results of craftlab.

Protocol behind every number (Hafner 2021, "Benchmarking the Spectrum of
Agent Capabilities"): 1M environment steps of training; the success rate of
each of the 22 achievements over *all training episodes* in that budget; the
Crafter score is ``exp(mean_i ln(1 + s_i)) - 1`` with ``s_i`` in percent;
``± std`` is across seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

CRAFTER_BUDGET_STEPS = 1_000_000
"""training budget (env steps) of the published Crafter protocol"""


@dataclass(frozen=True)
class PublishedScore:
    """One method's published Crafter score (percent) at 1M steps."""

    method: str
    score: float
    """Crafter score, % (geometric mean of success rates)"""
    std: float
    """standard deviation across seeds, %"""
    source: str
    kind: str = "agent"
    """'human', 'random' or 'agent' (how a plot styles it)"""


CRAFTER_SCORES: tuple[PublishedScore, ...] = (
    PublishedScore("Human experts", 50.5, 6.8, "crafter README (danijar/crafter)", "human"),
    PublishedScore("Achievement Distillation", 21.8, 1.4, "Moon et al., NeurIPS 2023"),
    PublishedScore("Curious Replay", 19.4, 1.6, "crafter README"),
    PublishedScore("PPO, IMPALA-ResNet (AD baseline)", 15.6, 1.7, "Moon et al., NeurIPS 2023"),
    PublishedScore("DreamerV3", 14.5, 1.6, "crafter README"),
    PublishedScore("LSTM-SPCNN", 12.1, 0.8, "crafter README"),
    PublishedScore("DreamerV2", 10.0, 1.2, "crafter README"),
    PublishedScore("PPO (SB3 defaults, NatureCNN)", 4.6, 0.3, "crafter README"),
    PublishedScore("Rainbow", 4.3, 0.2, "crafter README"),
    PublishedScore("Random", 1.6, 0.0, "crafter README", "random"),
)
"""Crafter scores at 1M steps, best first."""

# Per-achievement success rates (%) of human experts and of a uniformly random
# policy, from the crafter repository's published scores (danijar/crafter,
# scores/crafter_reward-human.json and crafter_reward-random.json, as summarised
# in the crafter README's figure). Human: score 50.53 ± 6.79; random: 1.55 ± 0.01.
HUMAN_SUCCESS_RATES: dict[str, float] = {
    "collect_coal": 86.0,
    "collect_diamond": 12.0,
    "collect_drink": 92.0,
    "collect_iron": 53.0,
    "collect_sapling": 67.0,
    "collect_stone": 100.0,
    "collect_wood": 100.0,
    "defeat_skeleton": 31.0,
    "defeat_zombie": 84.0,
    "eat_cow": 89.0,
    "eat_plant": 8.0,
    "make_iron_pickaxe": 26.0,
    "make_iron_sword": 22.0,
    "make_stone_pickaxe": 78.0,
    "make_stone_sword": 78.0,
    "make_wood_pickaxe": 100.0,
    "make_wood_sword": 45.0,
    "place_furnace": 32.0,
    "place_plant": 24.0,
    "place_stone": 90.0,
    "place_table": 100.0,
    "wake_up": 73.0,
}
RANDOM_SUCCESS_RATES: dict[str, float] = {
    "collect_coal": 0.0,
    "collect_diamond": 0.0,
    "collect_drink": 9.32,
    "collect_iron": 0.0,
    "collect_sapling": 50.19,
    "collect_stone": 0.01,
    "collect_wood": 24.38,
    "defeat_skeleton": 0.02,
    "defeat_zombie": 0.14,
    "eat_cow": 0.38,
    "eat_plant": 0.01,
    "make_iron_pickaxe": 0.0,
    "make_iron_sword": 0.0,
    "make_stone_pickaxe": 0.0,
    "make_stone_sword": 0.0,
    "make_wood_pickaxe": 0.32,
    "make_wood_sword": 0.32,
    "place_furnace": 0.0,
    "place_plant": 44.61,
    "place_stone": 0.01,
    "place_table": 4.36,
    "wake_up": 93.6,
}
REFERENCE_SUCCESS_RATES: dict[str, dict[str, float]] = {
    "Human experts": HUMAN_SUCCESS_RATES,
    "Random": RANDOM_SUCCESS_RATES,
}
"""per-achievement success rates (%) drawn beside ours in the bar chart"""
