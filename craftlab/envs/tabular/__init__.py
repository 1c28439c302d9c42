"""Small environments with a known model, for Silver's course (configs/silver/).

Each one exposes its full transition model as ``env.unwrapped.P`` in the form
Gymnasium's toy-text environments use::

    P[s][a] = [(probability, next_state, reward, terminated), ...]

so dynamic programming (``craftlab.agents.tabular.dp``) can solve it exactly, and each
renders as text with ``render_mode="ansi"``.

* :mod:`craftlab.envs.tabular.random_walk` -- the n-state random walk (S&B Example 6.2, 7.1)
* :mod:`craftlab.envs.tabular.windy_gridworld` -- windy gridworld (S&B Example 6.5)
* :mod:`craftlab.envs.tabular.bandit` -- the k-armed testbed (S&B Section 2.3)
* :mod:`craftlab.envs.tabular.crafting_world` -- a tiny Minecraft tech tree (wood, table, pickaxe, stone)
* :mod:`craftlab.envs.tabular.chain_walk` -- the chain walk of the LSPI paper (Lagoudakis & Parr 2003)
"""
