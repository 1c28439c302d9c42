"""Silver's UCL course (and Sutton & Barto), from scratch: tabular and linear agents.

:mod:`craftlab.agents.tabular.base` holds what they share (tables, epsilon-greedy, the
episode loop, checkpoints); each algorithm's module holds only its update.
Configs live in ``configs/silver/``.
"""
