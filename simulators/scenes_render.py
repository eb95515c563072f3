"""Drawing blocks for kiosk scenes: the phone or paper that carries a code, and where it lands.

Carriers are drawn flat at a few pixels per module, then projected into the frame with a
real perspective transform. Downsampling a phone's pixel grid through that warp aliases
against the sensor grid, which is where screen moiré comes from; it is not painted on.
Everything is linear radiance (float32) until the sensor model in scenes_camera.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Carrier:
    image: np.ndarray  # float32 radiance
    code: tuple[float, float, float, float]  # code box in carrier px, quiet zone included
    glass: bool  # a screen reflects specular glare; paper far less


def _code_image(modules: np.ndarray, k: int) -> np.ndarray:
    light = 1.0 - modules.astype(np.float32)
    return np.kron(light, np.ones((k, k), np.float32))


def screen(
    modules: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    brightness: float,
    gamma: float,
    grid: float,
    dark_mode: bool,
    floor: float,
) -> Carrier:
    """A phone: bezel, screen with app chrome, the code, display gamma, pixel grid."""
    code = _code_image(modules, k)
    if dark_mode:
        code = 1.0 - code * 0.92  # light modules on a dark page; quiet zone dark
    code = cv2.GaussianBlur(code, (0, 0), 0.35 * k)  # display scaling softens edges
    cw = code.shape[1]
    sw, sh = int(cw / 0.8), int(cw / 0.8 * 2.0)
    page = np.full((sh, sw), 0.08 if dark_mode else 1.0, np.float32)
    page[: sh // 9] = 0.45 if not dark_mode else 0.2  # app title bar
    for row in range(int(sh * 0.62), int(sh * 0.9), max(4, k * 3)):
        width = int(sw * rng.uniform(0.3, 0.8))
        page[row : row + max(2, k), sw // 10 : sw // 10 + width] = 0.55
    top, left = int(sh * 0.16), (sw - cw) // 2
    page[top : top + cw, left : left + cw] = code
    page = np.power(np.clip(page, 0, 1), gamma / 2.2)
    if grid > 0:  # dark gaps between display pixels, pitch 3 carrier px
        lines = np.ones(3, np.float32)
        lines[2] = 1.0 - grid
        page *= lines[np.arange(sh) % 3][:, None] * lines[np.arange(sw) % 3][None, :]
    emitted = brightness * page + floor
    side, cap = int(sw * 0.05), int(sw * 0.14)
    body = np.full((sh + 2 * cap, sw + 2 * side), 0.02, np.float32)
    body[cap : cap + sh, side : side + sw] = emitted
    x0, y0 = side + left, cap + top
    return Carrier(body, (x0, y0, x0 + cw, y0 + cw), glass=True)


def paper(
    modules: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    creases: int,
    fold_shade: float,
    shadow: float,
    wrinkle: float,
) -> Carrier:
    """A printed health code: folds with shaded facets, a cast shadow, a wavy sheet."""
    code = _code_image(modules, k) * 0.9 + 0.06  # ink is not black, paper not white
    cw = code.shape[1]
    pw, ph = int(cw / 0.62), int(cw / 0.62 * 1.35)
    sheet = np.full((ph, pw), 0.96, np.float32)
    top, left = int(ph * 0.22), (pw - cw) // 2
    sheet[top : top + cw, left : left + cw] = code
    for row in range(int(ph * 0.06), int(ph * 0.18), max(4, k * 3)):
        sheet[row : row + max(2, k), pw // 8 : pw // 8 + int(pw * rng.uniform(0.4, 0.75))] = 0.35
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    for _ in range(creases):
        angle = rng.uniform(0, np.pi)
        nx, ny = np.cos(angle), np.sin(angle)
        offset = rng.uniform(0.3, 0.7) * (pw * abs(nx) + ph * abs(ny))
        dist = xx * nx + yy * ny - offset
        facet = 1.0 - fold_shade * rng.uniform(0.5, 1.0)
        sheet *= np.where(dist > 0, facet, 1.0).astype(np.float32)
        sheet *= 1.0 - 0.5 * np.exp(-((dist / (0.4 * k + 1)) ** 2))  # the crease line itself
    if shadow > 0:
        angle = rng.uniform(0, 2 * np.pi)
        dist = (xx - pw / 2) * np.cos(angle) + (yy - ph / 2) * np.sin(angle)
        edge = 1 / (1 + np.exp(-dist / (0.04 * pw)))
        sheet *= 1.0 - shadow * edge
    if wrinkle > 0:
        amp = wrinkle * k
        fx, fy = rng.uniform(1, 3, 2) * 2 * np.pi
        mapx = xx + amp * np.sin(yy / ph * fy + rng.uniform(0, 6))
        mapy = yy + amp * np.sin(xx / pw * fx + rng.uniform(0, 6))
        sheet = cv2.remap(
            sheet.astype(np.float32),
            mapx.astype(np.float32),
            mapy.astype(np.float32),
            cv2.INTER_LINEAR,
            borderValue=0.96,
        )
    return Carrier(sheet.astype(np.float32), (left, top, left + cw, top + cw), glass=False)


def rotation(tilt_x: float, tilt_y: float, roll: float) -> np.ndarray:
    ax, ay, az = np.radians([tilt_x, tilt_y, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def placement(
    carrier: Carrier,
    centre: tuple[float, float],
    code_px: float,
    rot: np.ndarray,
    distance_px: float,
) -> np.ndarray:
    """Homography carrier px -> full-view px: code centred at `centre`, `code_px` wide."""
    x0, y0, x1, y1 = carrier.code
    uc, vc = (x0 + x1) / 2, (y0 + y1) / 2
    scale = code_px / (x1 - x0)
    h, w = carrier.image.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    pts = np.column_stack([(src[:, 0] - uc) * scale, (src[:, 1] - vc) * scale, np.zeros(4)])
    moved = pts @ rot.T
    persp = distance_px / (distance_px + moved[:, 2])
    dst = np.column_stack([centre[0] + moved[:, 0] * persp, centre[1] + moved[:, 1] * persp])
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def quad(matrix: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    pts = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float32)
    return cv2.perspectiveTransform(pts, matrix)[0]


def background(
    rng: np.random.Generator, size: tuple[int, int], view: np.ndarray, level: float
) -> np.ndarray:
    """A dim doorway: smooth light falloff plus a few large dark and light shapes."""
    w, h = size
    coarse = rng.uniform(0.3, 1.0, (6, 8)).astype(np.float32)
    full = cv2.resize(coarse, (64 * 8, 48 * 8), interpolation=cv2.INTER_CUBIC)
    for _ in range(3):
        x, y = rng.integers(0, 512), rng.integers(0, 384)
        cv2.rectangle(
            full,
            (int(x), int(y)),
            (int(x + rng.integers(40, 200)), int(y + rng.integers(40, 200))),
            float(rng.uniform(0.1, 1.2)),
            -1,
        )
    warped = cv2.warpPerspective(
        full, _bg_map(view, w, h), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return np.clip(warped, 0.05, 1.5) * level


def _bg_map(view: np.ndarray, w: int, h: int) -> np.ndarray:
    """Background px (512x384 over the full view) -> output px."""
    return view @ np.diag([w / 512, h / 384, 1.0])


def glare(
    size: tuple[int, int],
    centre: np.ndarray,
    radius: float,
    peak: float,
    aspect: float,
    angle: float,
) -> np.ndarray:
    """A specular highlight: a flat-topped blob (super-Gaussian) with soft shoulders."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = xx - centre[0], yy - centre[1]
    u = (dx * c + dy * s) / radius
    v = (-dx * s + dy * c) / (radius * aspect)
    return (peak * np.exp(-((u * u + v * v) ** 2))).astype(np.float32)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    n = max(3, int(np.ceil(length)) | 1)
    kernel = np.zeros((n, n), np.float32)
    c = n // 2
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    cv2.line(
        kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA
    )
    return kernel / kernel.sum()


def disk_kernel(radius: float) -> np.ndarray:
    n = int(np.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[0:n, 0:n] - n // 2
    kernel = np.clip(radius + 0.5 - np.sqrt(xx * xx + yy * yy), 0, 1).astype(np.float32)
    return kernel / kernel.sum()
