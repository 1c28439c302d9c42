"""MineRL environment ids and their craftlab registration (no heavy imports).

``envs/registry.py`` calls :func:`register_minerl` at import time, so this
module must stay import-cheap: no numpy, no minerl, no gym.
"""

from __future__ import annotations

from typing import Callable

_BASE_044 = (
    "Treechop",
    "Navigate",
    "NavigateDense",
    "NavigateExtreme",
    "NavigateExtremeDense",
    "ObtainDiamond",
    "ObtainDiamondDense",
    "ObtainIronPickaxe",
    "ObtainIronPickaxeDense",
)
BASALT_TASKS: tuple[str, ...] = (
    "FindCave",
    "MakeWaterfall",
    "CreatePlainsAnimalPen",
    "CreateVillageAnimalPen",
    "BuildVillageHouse",
)
_BASALT_STEPS = {
    "FindCave": 3600,
    "MakeWaterfall": 6000,
    "CreatePlainsAnimalPen": 6000,
    "CreateVillageAnimalPen": 6000,
    "BuildVillageHouse": 14400,
}

MINERL_044_IDS: tuple[str, ...] = (
    *(f"MineRL{b}-v0" for b in _BASE_044),
    *(f"MineRL{b}VectorObf-v0" for b in _BASE_044),
    "MineRLObtainDiamondSurvivalVectorObf-v0",
    "MineRLObtainTest-v0",
    "MineRLObtainTestVector-v0",
    "MineRLObtainTestDense-v0",
    "MineRLObtainTestDenseVector-v0",
    *(f"MineRLBasalt{t}-v0" for t in BASALT_TASKS),
    *(f"MineRLBasalt{t}HighRes-v0" for t in BASALT_TASKS),
)
"""every id minerl 0.4.4 registers (33)"""

MINERL_10_IDS: tuple[str, ...] = (
    "MineRLBasaltFindCave-v0",
    "MineRLBasaltMakeWaterfall-v0",
    "MineRLBasaltCreateVillageAnimalPen-v0",
    "MineRLBasaltBuildVillageHouse-v0",
    "MineRLObtainDiamondShovel-v0",
    "MineRLEquipWeapon-v0",
    "MineRLHumanSurvival-v0",
    "MineRLTreechop-v0",
    "MineRLNavigate-v0",
    "MineRLNavigateExtreme-v0",
    "MineRLNavigateDense-v0",
    "MineRLNavigateExtremeDense-v0",
)
"""the ids MineRL 1.0 registers"""

ALL_IDS: tuple[str, ...] = tuple(dict.fromkeys(MINERL_044_IDS + MINERL_10_IDS))

STANDIN_PREFIX = "minerl-standin/"
"""``minerl-standin/<MineRL id>`` is the stand-in env with that id's spaces"""


def max_episode_steps(env_id: str, version: str = "0.4.4") -> int | None:
    """The ``max_episode_steps`` gym.make applies to ``env_id`` (None: no limit)."""
    name = env_id.split("-")[0].removeprefix("MineRL")
    if name.startswith("Basalt"):
        return _BASALT_STEPS[name.removeprefix("Basalt").removesuffix("HighRes")]
    if name.startswith("Treechop"):
        return 8000
    if name.startswith("Navigate") or name.startswith("ObtainIronPickaxe"):
        return 6000
    if name in ("ObtainDiamondShovel",) or name.startswith("ObtainDiamond") or name.startswith("ObtainTest"):
        return 18000
    if name == "EquipWeapon":
        return 1200
    if name == "HumanSurvival":
        return None
    raise KeyError(env_id)


def register_minerl(register_env: Callable[..., None], register_wrapper: Callable[..., None]) -> None:
    """Register every MineRL id, its stand-in and the MineRL wrappers with craftlab."""
    adapter = "craftlab.envs.minerl.adapter:make_minerl"
    for env_id in ALL_IDS:
        register_env(
            env_id, adapter, f"MineRL {env_id} (needs the minerl package; standin: true to fake it)", minerl_id=env_id
        )
        register_env(
            STANDIN_PREFIX + env_id,
            adapter,
            f"stand-in with the interface of {env_id}, no Minecraft (tests)",
            minerl_id=env_id,
            standin=True,
        )
    w = "craftlab.envs.minerl."
    for name, target, text in (
        (
            "minerl_discrete",
            "actions:SerialDiscreteActions",
            "MineRL Dict action -> Discrete action table (PFRL recipe)",
        ),
        ("minerl_multidiscrete", "actions:MultiDiscreteActions", "MineRL Dict action -> MultiDiscrete, binned camera"),
        ("minerl_kmeans", "actions:KMeansActions", "MineRL VectorObf action -> Discrete k-means centres"),
        ("minerl_pov", "observations:PovOnly", "MineRL observation -> pov image only"),
        (
            "minerl_pov_vector",
            "observations:PovWithVector",
            "MineRL observation -> {pov, vector of inventory/compass/item}",
        ),
        ("minerl_pov_transform", "observations:PovTransform", "grayscale and/or resize the pov"),
        ("minerl_frame_skip", "observations:FrameSkip", "repeat each action k steps, sum rewards"),
        ("minerl_frame_stack", "observations:FrameStack", "stack the last k povs along the channel axis"),
        ("minerl_crash_recovery", "crash:CrashRecovery", "restart a crashed or hung env, end the episode truncated"),
    ):
        register_wrapper(name, w + target, text)
