"""A small sensor model, so the benchmark can measure what camera settings and the hood buy.

Glare is a bright reflection added on top of the screen. Whether it destroys modules
depends on the camera: with average metering a bright screen is already near clipping,
so the reflection pushes black and white modules alike to 255 and they are gone. With
the highlight constraint (libcamera's "Highlight" mode: the top 2 % of the metered area
held at or below 80 %) and capped exposure/gain the same reflection stays below clipping
over most of its area, and a local-threshold decoder still sees contrast under it. A
region of interest meters on the presentation window only and reads it at full output
resolution (sensor crop, not a digital upscale). The hood blocks light sources more than
its cut-off angle off the camera axis from reaching the screen at all.

Units: scene radiance is relative (lit paper white = 0.8 at normal indoor light); an
exposure of 1.0 is the plain camera's longest exposure at unity gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware.kiosk.camera.config import CameraConfig

FULL_WELL = 4000.0  # electrons at clipping, unity gain (small-pixel sensor)
READ_NOISE = 3.0  # electrons
AE_TARGET = 0.18  # linear mean the auto-exposure aims for (middle grey)
PLAIN_MAX_EXPOSURE_US = 33_333


@dataclass(frozen=True, slots=True)
class Hood:
    """A matte-black tunnel in front of the camera: opening half-width and depth, mm."""

    half_opening_mm: float = 100.0
    depth_mm: float = 180.0
    residual: float = 0.05  # glare left from light scattered inside the hood

    @property
    def cutoff_deg(self) -> float:
        return float(np.degrees(np.arctan2(self.half_opening_mm, self.depth_mm)))

    def glare_factor(self, source_angle_deg: float) -> float:
        """Share of a light source's reflection that still reaches the screen."""
        edge = 4.0  # penumbra, degrees either side of the cut-off
        cut = self.cutoff_deg
        if source_angle_deg <= cut - edge:
            return 1.0
        if source_angle_deg >= cut + edge:
            return self.residual
        share = (cut + edge - source_angle_deg) / (2 * edge)
        return self.residual + (1 - self.residual) * share


@dataclass(frozen=True, slots=True)
class Exposure:
    exposure: float  # relative exposure time x gain
    gain: float
    clipped_share: float  # share of metered pixels at 255


def choose_exposure(
    radiance: np.ndarray, metered: np.ndarray, config: CameraConfig
) -> tuple[float, float]:
    """Auto-exposure as libcamera's AGC does it, within the config's limits."""
    sub, mask = radiance[::4, ::4], metered[::4, ::4]  # metering statistics on a 1/16 sample
    sample = sub[mask] if mask.any() else sub.ravel()
    wanted = AE_TARGET / max(float(sample.mean()), 1e-4) * 2.0**config.exposure_value
    if config.protect_highlights:
        top = float(np.percentile(sample, 98))
        wanted = min(wanted, 0.8 / max(top, 1e-4))
    max_time = config.max_exposure_us / PLAIN_MAX_EXPOSURE_US
    time = min(wanted, max_time)
    gain = float(np.clip(wanted / time, 1.0, config.max_gain))
    return time * gain, gain


def expose(
    radiance: np.ndarray, metered: np.ndarray, config: CameraConfig, rng: np.random.Generator
) -> tuple[np.ndarray, Exposure]:
    """Radiance -> 8-bit luma: exposure, shot and read noise, clipping, output gamma."""
    exposure, gain = choose_exposure(radiance, metered, config)
    signal = radiance * np.float32(exposure)
    sigma = np.sqrt(
        np.maximum(signal, 0) * (gain / FULL_WELL) + (gain * READ_NOISE / FULL_WELL) ** 2
    )
    noisy = signal + rng.standard_normal(signal.shape, dtype=np.float32) * sigma.astype(np.float32)
    np.clip(noisy, 0.0, 1.0, out=noisy)
    image = (np.power(noisy, 1 / 2.2) * 255.0 + 0.5).astype(np.uint8)
    clipped = float((image[metered] >= 255).mean()) if metered.any() else 0.0
    return image, Exposure(exposure, gain, clipped)
