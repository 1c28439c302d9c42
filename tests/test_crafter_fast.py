"""FastCrafter (envs/crafter_fast.py) against the crafter package: bit-identical episodes.

Stock crafter is not reproducible on its own: it keeps each chunk's creatures
in a ``set`` hashed by memory address and picks the creature to despawn by
indexing a list made from that set, so two ``crafter.Env(seed=0)`` given the
same actions diverge within a hundred steps. The reference here is therefore
stock crafter with insertion-ordered chunk sets (the ``stock`` fixture patches
``engine.World.reset``), which is what FastCrafter does; everything else of
crafter runs unpatched.
"""

from __future__ import annotations

import collections

import crafter
import numpy as np
import pytest
from crafter import engine
from PIL import Image, ImageEnhance

from craftlab.envs import crafter_render
from craftlab.envs.crafter import CrafterEnv, OrderedSet
from craftlab.envs.crafter_fast import FastCrafter

HUMAN = (576, 576)


@pytest.fixture
def stock(monkeypatch):
    """Make stock crafter's chunk sets iterate in insertion order (see the module doc)."""
    reset = engine.World.reset

    def ordered_reset(self, seed=None):
        reset(self, seed)
        self._chunks = collections.defaultdict(OrderedSet)

    monkeypatch.setattr(engine.World, "reset", ordered_reset)


def _assert_same_step(ref, out, where):
    obs_a, rew_a, done_a, info_a = ref
    obs_b, rew_b, done_b, info_b = out
    assert obs_b.dtype == np.uint8 and obs_b.shape == obs_a.shape, where
    assert np.array_equal(obs_a, obs_b), f"observation differs at {where}"
    assert rew_a == rew_b and done_a == done_b, where
    assert info_a.keys() == info_b.keys(), where
    for key in ("inventory", "achievements", "discount", "reward"):
        assert info_a[key] == info_b[key], f"info[{key!r}] differs at {where}"
    assert np.array_equal(info_a["player_pos"], info_b["player_pos"]), where
    assert np.array_equal(info_a["semantic"], info_b["semantic"]), f"semantic map differs at {where}"


def test_matches_stock_over_thousands_of_steps_and_resets(stock):
    steps, seed = 2500, 7
    ref, fast = crafter.Env(seed=seed), FastCrafter(seed=seed)
    actions = np.random.RandomState(seed).randint(0, 17, steps)
    assert np.array_equal(ref.reset(), fast.reset())
    resets = night = asleep = renders = 0
    for t, action in enumerate(actions):
        out_a, out_b = ref.step(action), fast.step(action)
        _assert_same_step(out_a, out_b, f"step {t}")
        night += ref._world.daylight < 0.5
        asleep += ref._player.sleeping
        if t % 97 == 0:  # the human-sized view (at night it also draws world.random)
            assert np.array_equal(ref.render(HUMAN), fast.render(HUMAN)), f"render at step {t}"
            renders += 1
        if out_a[2]:
            assert np.array_equal(ref.reset(), fast.reset()), f"reset after step {t}"
            resets += 1
    # The run covered what the fast paths distinguish.
    assert resets >= 5 and night >= 50 and asleep >= 20 and renders >= 20, (resets, night, asleep)


def test_matches_stock_with_other_sizes(stock):
    """A non-square world and view, and big units (the uncached lighting path)."""
    kwargs = dict(area=(48, 80), view=(11, 9), size=(200, 160), length=300)
    ref, fast = crafter.Env(seed=9, **kwargs), FastCrafter(seed=9, **kwargs)
    assert np.array_equal(ref.reset(), fast.reset())
    for t, action in enumerate(np.random.RandomState(2).randint(0, 17, 400)):
        out_a, out_b = ref.step(action), fast.step(action)
        _assert_same_step(out_a, out_b, f"step {t}")
        if out_a[2]:
            assert np.array_equal(ref.reset(), fast.reset()), f"reset after step {t}"


def test_fast_is_reproducible_unpatched():
    """Unlike stock crafter, two FastCrafters with one seed play the same episode."""
    envs = [FastCrafter(seed=0), FastCrafter(seed=0)]
    assert np.array_equal(envs[0].reset(), envs[1].reset())
    for t, action in enumerate(np.random.RandomState(0).randint(0, 17, 600)):
        out_a, out_b = (env.step(action) for env in envs)
        _assert_same_step(out_a, out_b, f"step {t}")
        if out_a[2]:
            assert np.array_equal(envs[0].reset(), envs[1].reset())


def test_world_generation_matches_stock(stock):
    ref, fast = crafter.Env(seed=123), FastCrafter(seed=123)
    for episode in range(12):
        assert np.array_equal(ref.reset(), fast.reset())
        a, b = ref._world, fast._world
        assert np.array_equal(a._mat_map, b._mat_map), episode
        assert np.array_equal(a._obj_map, b._obj_map), episode
        assert [(type(o), tuple(o.pos)) for o in a.objects] == [(type(o), tuple(o.pos)) for o in b.objects]
        assert list(a.chunks) == list(b.chunks)
        # The world's random generator is left in the same state.
        state_a, state_b = a.random.get_state(), b.random.get_state()
        assert np.array_equal(state_a[1], state_b[1]) and state_a[2:] == state_b[2:], episode


def test_wrapper_fast_engine_matches_crafter_engine(stock):
    ref = CrafterEnv(engine="crafter", render_mode="rgb_array", render_size=HUMAN)
    fast = CrafterEnv(engine="fast", render_mode="rgb_array", render_size=HUMAN)
    rng = np.random.RandomState(3)
    for seed in (11, 12):
        (obs_a, info_a), (obs_b, info_b) = ref.reset(seed=seed), fast.reset(seed=seed)
        assert np.array_equal(obs_a, obs_b) and info_a == info_b
        for t in range(300):
            action = int(rng.randint(17))
            a, b = ref.step(action), fast.step(action)
            assert np.array_equal(a[0], b[0]), (seed, t)
            assert a[1:4] == b[1:4], (seed, t)
            assert a[4]["achievements"] == b[4]["achievements"] and a[4]["inventory"] == b[4]["inventory"]
            assert np.array_equal(a[4]["player_pos"], b[4]["player_pos"])
            if t % 50 == 0:
                assert np.array_equal(ref.render(), fast.render()), (seed, t)
            if a[2] or a[3]:
                (obs_a, _), (obs_b, _) = ref.reset(), fast.reset()
                assert np.array_equal(obs_a, obs_b)


def test_comparison_catches_a_texture_one_level_off(stock):
    """The checks above can fail: a grass texture one intensity level off is caught."""
    ref, fast = crafter.Env(seed=5), FastCrafter(seed=5)
    grass = fast._textures._originals["grass"]
    grass[..., 0] = np.where(grass[..., 0] < 255, grass[..., 0] + 1, grass[..., 0] - 1)
    assert not np.array_equal(ref.reset(), fast.reset())


def test_night_light_matches_stock_light_and_sleep():
    """The fused night kernel against engine.LocalView._light / _sleep on random canvases."""
    env = crafter.Env(seed=0)
    view = env._local_view
    luts = crafter_render.night_luts()
    assert luts is not None, "this PIL's RGB -> L conversion is not the one the kernel reproduces"
    rng = np.random.RandomState(0)
    for trial in range(40):
        shape = [(63, 49, 3), (576, 448, 3), (9, 5, 3)][trial % 3]
        canvas = rng.randint(0, 256, shape).astype(np.uint8)
        daylight, sleeping = np.float64(rng.uniform(0.0, 0.5)), bool(trial % 2)
        env._world.random = np.random.RandomState(trial)
        expected = view._light(canvas, daylight)
        if sleeping:
            expected = view._sleep(expected)
        noise = np.random.RandomState(trial).uniform(32, 127, shape[:2])
        out = np.empty_like(canvas)
        crafter_render.night_light(
            canvas,
            view._vignette(shape, 0.5),
            noise,
            float(2 * (0.5 - daylight)),
            float(daylight),
            sleeping,
            luts[0],
            luts[1],
            crafter_render.NIGHT_TINT,
            crafter_render.SLEEP_TINT,
            out,
        )
        assert np.array_equal(expected.astype(np.uint8), out), trial


def test_pil_conversions_reproduced_for_every_input():
    # RGB -> L for all 2^24 colours (one red value at a time: 256 x 256 images).
    green, blue = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8), indexing="ij")
    rgb = np.stack([np.zeros_like(green), green, blue], -1)
    for red in range(256):
        rgb[..., 0] = red
        assert np.array_equal(np.array(Image.fromarray(rgb).convert("L")), crafter_render.rgb_to_l(rgb)), red
    # The blend tables reproduce ImageEnhance.Color on images (RGB path, both factors).
    image = np.random.RandomState(1).randint(0, 256, (256, 256, 3)).astype(np.uint8)
    lum = crafter_render.rgb_to_l(image)[..., None]
    for factor, lut in zip((0.4, 0.0), crafter_render.night_luts()):
        expected = np.array(ImageEnhance.Color(Image.fromarray(image)).enhance(factor))
        assert np.array_equal(expected, lut[lum, image]), factor
