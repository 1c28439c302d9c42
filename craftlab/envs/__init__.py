"""Gymnasium environments: Crafter, MineRL (adapter), lab and tabular envs."""

from craftlab.envs.factory import EnvFactory, make_env

__all__ = ["EnvFactory", "make_env"]
