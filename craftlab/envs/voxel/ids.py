"""The voxel world's env ids and their craftlab registration (no heavy imports).

``envs/registry.py`` calls :func:`register_voxel` at import time, so this
module must stay import-cheap: no numpy, no numba.
"""

from __future__ import annotations

from typing import Callable

VOXEL_PREFIX = "voxel/"
"""``voxel/<MineRL id>`` is the voxel world with that MineRL id's task and spaces"""

MIRRORED: tuple[tuple[str, str], ...] = (
    ("MineRLTreechop-v0", "chop trees, +1 per log, 64 logs or 8000 steps"),
    ("MineRLNavigate-v0", "reach a diamond block ~64 blocks away by compass, +100 (sparse)"),
    ("MineRLNavigateDense-v0", "Navigate with a dense reward for getting closer"),
    ("MineRLNavigateExtreme-v0", "Navigate over steep hills"),
    ("MineRLNavigateExtremeDense-v0", "NavigateExtreme with the dense reward"),
    ("MineRLObtainIronPickaxe-v0", "log -> ... -> iron pickaxe, MineRL's milestone rewards once each"),
    ("MineRLObtainIronPickaxeDense-v0", "ObtainIronPickaxe, milestone rewards for every item gained"),
    ("MineRLObtainDiamond-v0", "log -> ... -> diamond, milestone rewards once each"),
    ("MineRLObtainDiamondDense-v0", "ObtainDiamond, milestone rewards for every item gained"),
)
"""MineRL id -> what its voxel twin is"""

VOXEL_IDS: tuple[str, ...] = tuple(VOXEL_PREFIX + i for i, _ in MIRRORED)


def register_voxel(register_env: Callable[..., None]) -> None:
    """Register ``voxel/<MineRL id>`` for every mirrored task."""
    for minerl_id, text in MIRRORED:
        register_env(
            VOXEL_PREFIX + minerl_id,
            "craftlab.envs.voxel.env:make_voxel",
            f"voxel world, MineRL's {minerl_id} interface, no Minecraft: {text}",
            minerl_id=minerl_id,
        )
