"""A small first-person voxel world with MineRL's exact interface (no Java, no OpenGL).

MineRL needs JDK 8 and a Gradle build that downloads Minecraft; Crafter is 2D.
This package is the middle: a 3D block world rendered first person by a numba
ray marcher, with the observation and action spaces of MineRL 0.4.4's
Treechop, Navigate and Obtain tasks, behind the *same* Gymnasium adapter as the
real MineRL (:class:`craftlab.envs.minerl.adapter.MineRLEnv`), so the MineRL
wrappers, agents, demonstrations and BC work unchanged. See docs/voxel.md.

Modules, one job each:

* :mod:`craftlab.envs.voxel.ids` -- the ``voxel/<MineRL id>`` ids and their registration
  (import-cheap).
* :mod:`craftlab.envs.voxel.blocks` -- block ids, names, colours, textures, hardness.
* :mod:`craftlab.envs.voxel.world` -- seeded world generation (terrain, trees, ores, water).
* :mod:`craftlab.envs.voxel.render` -- the first-person ray marcher (numba) and the overlay.
* :mod:`craftlab.envs.voxel.player` -- movement, gravity, collision, camera, reach ray.
* :mod:`craftlab.envs.voxel.items` -- inventory, tools, mining time, crafting and smelting.
* :mod:`craftlab.envs.voxel.tasks` -- Treechop, Navigate(Dense/Extreme), Obtain*: start,
  rewards, end, observations.
* :mod:`craftlab.envs.voxel.env` -- the MineRL-style (old gym API) env and
  :func:`~craftlab.envs.voxel.env.make_voxel`, craftlab's entry point.
* :mod:`craftlab.envs.voxel.expert` -- a scripted Treechop expert that writes
  demonstrations in MineRL's on-disk format.
"""
