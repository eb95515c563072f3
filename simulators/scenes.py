"""Kiosk camera scenes: codes as the camera at the door sees them, reproducible by seed.

The decoder and the camera settings are chosen by measurement, so the frames they are
measured on must carry the real failure modes from the checkpoints: bright and reflective
phone screens, dark mode, glare, shaking hands, tilted phones, dim doorways, creased
paper, codes held too far away, and two people's codes at once. Every category has a
strength in [0, 1] that grades it from easy to hard, and every frame is a pure function
of (category, strength, seed, size, camera, hood), so a failing frame can be regenerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from firmware.kiosk.camera.config import PLAIN, CameraConfig
from simulators import scenes_payloads as payloads
from simulators import scenes_render as render
from simulators.scenes_camera import Exposure, Hood, expose

CATEGORIES = (
    "screen",
    "dark_mode",
    "glare",
    "motion_blur",
    "defocus",
    "tilt",
    "low_light",
    "paper",
    "small",
    "two_codes",
)
SIZES = ((640, 480), (1280, 720))
# Where people hold codes (full-view fractions); the kiosk ROI covers it.
PRESENTATION = (0.35, 0.35, 0.65, 0.65)


@dataclass(frozen=True, slots=True)
class Scene:
    image: np.ndarray  # uint8 grey, H x W
    payloads: tuple[str, ...]  # every code in the frame, the nearest (largest) first
    category: str
    strength: float
    seed: int
    medium: str  # screen | paper
    facts: dict = field(default_factory=dict)  # what makes it hard, for failure diagnosis


@dataclass(slots=True)
class _Code:
    payload: str
    medium: str
    centre: tuple[float, float]  # full-view px
    size: float  # code width incl. quiet zone, full-view px
    tilt: tuple[float, float, float]
    carrier_args: dict


def _rng(category: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, CATEGORIES.index(category) + 1])


def make_scene(
    category: str,
    strength: float,
    seed: int,
    size: tuple[int, int] = (640, 480),
    camera: CameraConfig = PLAIN,
    hood: Hood | None = None,
    payload: str | None = None,
) -> Scene:
    """One frame. `camera` is the sensor configuration; `hood` shades the presentation area."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown scene category {category!r}; known: {', '.join(CATEGORIES)}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength {strength} must be within [0, 1]")
    rng = _rng(category, seed)
    s = float(strength)
    w, h = size
    codes = _codes(category, s, rng, size, payload)
    facts: dict = {}

    view = np.eye(3)
    if camera.roi is not None:  # sensor crop: read the window at full output resolution
        x0, y0, x1, y1 = camera.roi
        view = np.array(
            [
                [1 / (x1 - x0), 0, -x0 * w / (x1 - x0)],
                [0, 1 / (y1 - y0), -y0 * h / (y1 - y0)],
                [0, 0, 1],
            ]
        )
    zoom = float(view[0, 0])

    ambient = 1.0
    if category == "low_light":
        ambient = 0.2 * (1 - s) ** 2 + 0.008
    radiance = render.background(
        rng, size, view, 0.35 * (1 - 0.5 * s if category == "screen" else 1) * ambient
    )
    code_quads = []
    glass_mask = np.zeros((h, w), np.float32)
    for code in codes:
        modules = payloads.qr_modules(code.payload)
        module_px = code.size / modules.shape[0] * zoom
        k = int(np.clip(np.ceil(1.5 * module_px), 3, 8))
        if code.medium == "screen":
            args = dict(code.carrier_args)
            if category == "low_light":
                args["brightness"] = 0.25  # the phone dims itself in the dark
            else:
                args["brightness"] *= ambient
            carrier = render.screen(modules, k, rng, floor=0.04 * ambient, **args)
        else:
            carrier = render.paper(modules, k, rng, **code.carrier_args)
            carrier = render.Carrier(carrier.image * 0.85 * ambient, carrier.code, carrier.glass)
        place = view @ render.placement(
            carrier, code.centre, code.size, render.rotation(*code.tilt), 1.3 * w
        )
        ones = np.ones_like(carrier.image)
        warped = cv2.warpPerspective(carrier.image, place, size, flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(ones, place, size, flags=cv2.INTER_LINEAR)
        radiance = radiance * (1 - mask) + warped
        if carrier.glass:
            glass_mask = np.maximum(glass_mask, mask)
        q = render.quad(place, carrier.code)
        code_quads.append(q)
    primary = code_quads[0]
    sides = np.linalg.norm(primary - np.roll(primary, 1, axis=0), axis=1)
    n_modules = payloads.qr_modules(codes[0].payload).shape[0]
    facts["module_px"] = round(float(sides.min() / n_modules), 2)

    if category == "glare":
        peak = (0.6 + 3.0 * s) * codes[0].carrier_args["brightness"]
        angle_deg = float(rng.uniform(10, 70))
        factor = hood.glare_factor(angle_deg) if hood else 1.0
        facts["glare_source_deg"] = round(angle_deg, 1)
        facts["glare_factor"] = round(factor, 3)
        u, v = rng.uniform(0.25, 0.75, 2)
        top = primary[0] + (primary[1] - primary[0]) * u
        bottom = primary[3] + (primary[2] - primary[3]) * u
        centre = top + (bottom - top) * v
        radius = (0.1 + 0.25 * s) * float(sides.mean())
        blob = render.glare(
            size, centre, radius, peak * factor, rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)
        )
        radiance = radiance + blob * np.maximum(glass_mask, 0.15)

    if category == "motion_blur":
        length = facts["module_px"] * (0.3 + 1.4 * s)
        facts["blur_px"] = round(length, 1)
        radiance = cv2.filter2D(radiance, -1, render.motion_kernel(length, rng.uniform(0, np.pi)))
    elif category == "defocus":
        radius = facts["module_px"] * (0.2 + 0.8 * s)
        facts["defocus_px"] = round(radius, 1)
        radiance = cv2.filter2D(radiance, -1, render.disk_kernel(radius))
    else:  # every lens blurs a little
        radiance = cv2.GaussianBlur(radiance, (0, 0), 0.6)

    metered = _metering(size, view)
    image, exposure = expose(radiance, metered, camera, rng)
    facts.update(_exposure_facts(image, primary, exposure))
    return Scene(image, tuple(c.payload for c in codes), category, s, seed, codes[0].medium, facts)


def _metering(size: tuple[int, int], view: np.ndarray) -> np.ndarray:
    w, h = size
    mask = np.zeros((h, w), bool)
    if np.allclose(view, np.eye(3)):
        mask[:] = True  # average metering over the whole frame
    else:
        mask[h // 8 : h - h // 8, w // 8 : w - w // 8] = True  # the ROI is the whole output
    return mask


def _exposure_facts(image: np.ndarray, code_quad: np.ndarray, exposure: Exposure) -> dict:
    mask = np.zeros(image.shape, np.uint8)
    cv2.fillConvexPoly(mask, code_quad.astype(np.int32), 1)
    inside = image[mask.astype(bool)]
    clipped = float((inside >= 254).mean()) if inside.size else 0.0
    return {
        "code_clipped": round(clipped, 3),
        "gain": round(exposure.gain, 2),
        "exposure": round(exposure.exposure, 3),
    }


def _codes(
    category: str, s: float, rng: np.random.Generator, size: tuple[int, int], payload: str | None
) -> list[_Code]:
    w, h = size
    medium = "paper" if category == "paper" else "screen"
    if category in ("low_light", "two_codes", "tilt", "motion_blur", "defocus", "small"):
        medium = (
            "paper" if rng.random() < (0.65 if category == "low_light" else 0.35) else "screen"
        )
    fraction = rng.uniform(0.2, 0.3)
    if category == "small":
        fraction = 0.17 - 0.105 * s * rng.uniform(0.9, 1.0)
    px, py, qx, qy = PRESENTATION
    centre = (rng.uniform(px, qx) * w, rng.uniform(py, qy) * h)
    tilt = (rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-25, 25))
    if category == "tilt":
        total = 12 + 33 * s
        split = rng.uniform(0, 1)
        tilt = (
            total * split * rng.choice([-1, 1]),
            total * (1 - split) * rng.choice([-1, 1]),
            rng.uniform(-25, 25),
        )
    first = _Code(
        payload or payloads.health_payload(rng, 0.7 if medium == "paper" else 0.3),
        medium,
        centre,
        fraction * w,
        tilt,
        _carrier(category, medium, s, rng),
    )
    if category != "two_codes":
        return [first]
    # A second person's code beside the first: smaller (further away), closer with strength.
    first.size = 0.2 * w
    first.centre = (0.36 * w, 0.5 * h)
    second_medium = "paper" if rng.random() < 0.35 else "screen"
    gap = (0.34 - 0.12 * s) * w
    second = _Code(
        payloads.health_payload(rng),
        second_medium,
        (first.centre[0] + gap, 0.5 * h + rng.uniform(-0.1, 0.1) * h),
        rng.uniform(0.12, 0.16) * w,
        (rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(-25, 25)),
        _carrier(category, second_medium, s, rng),
    )
    return [first, second]


def _carrier(category: str, medium: str, s: float, rng: np.random.Generator) -> dict:
    if medium == "paper":
        hard = s if category == "paper" else 0.15
        return {
            "creases": round(1 + 3 * hard),
            "fold_shade": 0.15 + 0.45 * hard,
            "shadow": 0.65 * hard * rng.uniform(0.5, 1.0),
            "wrinkle": 0.6 * hard,
        }
    hard = s if category in ("screen", "dark_mode") else 0.2
    boost = 4.5 if category == "screen" else 1.5
    return {
        "brightness": float(1.6 + boost * hard * rng.uniform(0.6, 1.0)),
        "gamma": float(2.2 + rng.uniform(-0.4, 0.4) * hard),
        "grid": 0.1 + 0.5 * hard,
        "dark_mode": category == "dark_mode",
    }


def frames(
    category: str,
    count: int,
    size: tuple[int, int],
    first_seed: int = 0,
    camera: CameraConfig = PLAIN,
    hood: Hood | None = None,
) -> list[Scene]:
    """`count` scenes with strengths spread evenly over [0, 1], seeds first_seed.."""
    strengths = np.linspace(0.0, 1.0, count) if count > 1 else np.array([0.5])
    return [
        make_scene(category, float(st), first_seed + i, size, camera, hood)
        for i, st in enumerate(strengths)
    ]
