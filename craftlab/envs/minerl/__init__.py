"""MineRL (Guss et al. 2019) for craftlab, usable without MineRL installed.

Modules, one job each (none imports ``minerl`` or ``gym`` at import time):

* :mod:`craftlab.envs.minerl.ids` -- the MineRL env ids and their registration.
* :mod:`craftlab.envs.minerl.minerl_spaces` -- MineRL-compatible space classes (Enum, Dict...).
* :mod:`craftlab.envs.minerl.specs` -- every MineRL 0.4.4 env's spaces and limits, as tables.
* :mod:`craftlab.envs.minerl.spaces` -- MineRL spaces/values -> Gymnasium spaces/values.
* :mod:`craftlab.envs.minerl.adapter` -- old-gym MineRL env -> Gymnasium env.
* :mod:`craftlab.envs.minerl.standin` -- a MineRL-interface env with a tiny scripted world, for tests.
* :mod:`craftlab.envs.minerl.actions` -- Dict action -> Discrete / MultiDiscrete / k-means wrappers.
* :mod:`craftlab.envs.minerl.observations` -- pov-only, pov+vector, grayscale/resize, frame skip/stack.
* :mod:`craftlab.envs.minerl.crash` -- crash and hang recovery.
* :mod:`craftlab.envs.minerl.launch` -- a Minecraft that cannot start: one line of diagnosis, the log in a file.
* :mod:`craftlab.envs.minerl.remote` -- a MineRL env in another Python interpreter (``env.kwargs.python``),
  served by ``envs/minerl/server.py`` (a standalone Python 3.7+ script, run by that interpreter).

Demonstrations live in :mod:`craftlab.datasets.minerl`; see docs/minerl.md.
"""
