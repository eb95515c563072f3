"""How the kiosk camera is set up for reading codes, in one place for both implementations.

A camera left on its defaults meters the whole scene: a bright phone screen held in front
of a dim doorway is then overexposed, its white clips, and a reflection on the glass
burns out whole groups of modules that no decoder can get back. The settings here bound
exposure time and gain, ask the auto-exposure to protect highlights instead of the
average, and optionally read only the region where people hold their code. The picamera2
source applies them to the sensor; simulators/scenes_camera.py models the same settings,
so the benchmark measures what they buy.
"""

from __future__ import annotations

from dataclasses import dataclass

# (x0, y0, x1, y1) as fractions of the full sensor view.
Rect = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class CameraConfig:
    resolution: tuple[int, int] = (1280, 720)
    max_exposure_us: int = 10_000  # short enough to freeze a hand-held phone
    max_gain: float = 4.0  # analogue gain cap
    protect_highlights: bool = True  # AE constraint: keep the brightest 2 % below 80 %
    exposure_value: float = -0.5  # EV bias: rather too dark than clipped
    roi: Rect | None = (0.175, 0.175, 0.825, 0.825)  # presentation window under the hood
    frame_rate: float = 15.0
    short_ev: float = -2.0  # EV of the short frames of an exposure bracket, below normal

    def __post_init__(self) -> None:
        width, height = self.resolution
        if width < 160 or height < 120:
            raise ValueError(f"camera resolution {self.resolution} is too small to read codes")
        if self.max_exposure_us <= 0 or self.max_gain < 1.0:
            raise ValueError("max_exposure_us must be > 0 and max_gain >= 1.0")
        if self.roi is not None:
            x0, y0, x1, y1 = self.roi
            if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
                raise ValueError(f"roi {self.roi} must be fractions with x0<x1, y0<y1")


# What an unconfigured camera does: average metering, long exposure, high gain, full view.
PLAIN = CameraConfig(
    max_exposure_us=33_333,
    max_gain=16.0,
    protect_highlights=False,
    exposure_value=0.0,
    roi=None,
)

# What the kiosk uses.
KIOSK = CameraConfig()
