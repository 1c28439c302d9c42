"""Offline data for imitation and offline RL: a common batch format
(:class:`craftlab.datasets.batch.TransitionBatch`) and loaders (MineRL
demonstrations in :mod:`craftlab.datasets.minerl`)."""
