"""The scene generator: reproducible frames whose difficulty grows with strength."""

from __future__ import annotations

import re

import numpy as np
import pytest

from firmware.kiosk.camera.config import KIOSK, PLAIN
from simulators import scenes_payloads as payloads
from simulators.scenes import CATEGORIES, SIZES, make_scene
from simulators.scenes_camera import Hood


@pytest.mark.parametrize("size", SIZES)
def test_every_category_renders_at_both_sizes(size: tuple[int, int]) -> None:
    for category in CATEGORIES:
        scene = make_scene(category, 0.5, 7, size)
        assert scene.image.shape == (size[1], size[0]) and scene.image.dtype == np.uint8
        assert scene.payloads and scene.category == category
        assert 20 < scene.image.mean() < 235  # an exposed picture, not black or white


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    a = make_scene("paper", 0.6, 11)
    assert np.array_equal(a.image, make_scene("paper", 0.6, 11).image)
    assert a.payloads == make_scene("paper", 0.6, 11).payloads
    assert not np.array_equal(a.image, make_scene("paper", 0.6, 12).image)


def test_two_codes_scene_has_two_payloads() -> None:
    scene = make_scene("two_codes", 0.5, 3)
    assert len(set(scene.payloads)) == 2


def test_payloads_look_like_real_health_codes() -> None:
    rng = np.random.default_rng(5)
    assert re.fullmatch(
        r"https://hc\.henan\.example/yk/v1\?t=[A-Za-z0-9]{32}", payloads.health_url(rng)
    )
    signed = payloads.signed_code(rng)
    assert signed.startswith("HC1:") and len(signed) == 200
    assert set(signed[4:]) <= set(payloads.BASE45)


@pytest.mark.parametrize(
    "category,fact",
    [("glare", "code_clipped"), ("motion_blur", "blur_px"), ("defocus", "defocus_px")],
)
def test_strength_grades_the_difficulty(category: str, fact: str) -> None:
    for seed in range(3):
        weak = make_scene(category, 0.1, seed).facts[fact]
        strong = make_scene(category, 1.0, seed).facts[fact]
        assert strong > weak, (seed, weak, strong)


def test_small_codes_get_fewer_pixels_per_module() -> None:
    assert (
        make_scene("small", 1.0, 1).facts["module_px"]
        < make_scene("small", 0.0, 1).facts["module_px"] / 2
    )


def test_tilt_reaches_45_degrees_of_foreshortening() -> None:
    flat, tilted = make_scene("tilt", 0.0, 2), make_scene("tilt", 1.0, 2)
    assert tilted.facts["module_px"] < flat.facts["module_px"]


def test_exposure_limits_roi_and_hood_reduce_clipped_glare() -> None:
    seeds = range(6)
    plain = [make_scene("glare", 0.8, s, camera=PLAIN).facts["code_clipped"] for s in seeds]
    kiosk = [
        make_scene("glare", 0.8, s, camera=KIOSK, hood=Hood()).facts["code_clipped"] for s in seeds
    ]
    assert sum(kiosk) < 0.5 * sum(plain)


def test_hood_blocks_oblique_light_and_passes_light_along_the_axis() -> None:
    hood = Hood()
    assert hood.glare_factor(10.0) == 1.0
    assert hood.glare_factor(70.0) == hood.residual
    assert hood.glare_factor(hood.cutoff_deg) < 1.0


def test_bad_arguments_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown scene category"):
        make_scene("fog", 0.5, 1)
    with pytest.raises(ValueError, match="strength"):
        make_scene("glare", 1.5, 1)
