"""The kiosk camera on a Raspberry Pi, set up for reading codes rather than for pictures.

picamera2 exists only on the Pi (installed with apt, matched to the system libcamera),
so it is imported here and only when the camera starts. The settings (config.py) turn
into libcamera controls: the auto-exposure protects highlights so a bright screen does
not clip, the frame duration bounds exposure time against hand shake, a gain cap keeps
the AE from boosting a dim doorway until the screen in front of it burns out, and
ScalerCrop reads only the presentation window at full output resolution. libcamera has no
control for a gain ceiling under AE, so it is enforced from each frame's metadata.

Exposure bracketing (`bracket(True)`, asked for by the kiosk while frames read nothing)
alternates the AE's EV bias between normal and `short_ev` every frame. Controls reach the
sensor a few frames late, so a frame is not labelled by what was asked but by what its
metadata says it got: "short" when its exposure x gain is well below that of the last
normal frames.

Not exercised on hardware in this repository's CI (no sensor here); `controls_for` is
pure and tested.
"""

from __future__ import annotations

import time
from typing import Any

from firmware.kiosk.camera.config import KIOSK, CameraConfig
from firmware.kiosk.camera.source import Frame


def scaler_crop(
    config: CameraConfig, sensor_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The ROI in sensor pixels (x, y, width, height), even-aligned as the ISP wants."""
    if config.roi is None:
        return None
    sw, sh = sensor_size
    x0, y0, x1, y1 = config.roi
    x, y = int(x0 * sw) & ~1, int(y0 * sh) & ~1
    return (x, y, int((x1 - x0) * sw) & ~1, int((y1 - y0) * sh) & ~1)


def controls_for(config: CameraConfig, sensor_size: tuple[int, int]) -> dict[str, Any]:
    """libcamera control values (plain numbers; enum members are resolved at start)."""
    frame_us = int(1_000_000 / config.frame_rate)
    controls: dict[str, Any] = {
        "AeEnable": True,
        # exposure can never exceed the frame duration: bound both ends
        "FrameDurationLimits": (min(frame_us, config.max_exposure_us), frame_us),
        "ExposureValue": config.exposure_value,
        "AeMeteringMode": "CentreWeighted",
        "AeConstraintMode": "Highlight" if config.protect_highlights else "Normal",
        "AeExposureMode": "Short",  # prefer short exposure + gain over long exposure
    }
    crop = scaler_crop(config, sensor_size)
    if crop is not None:
        controls["ScalerCrop"] = crop
    return controls


class Picamera2Source:
    def __init__(self, config: CameraConfig = KIOSK, camera_index: int = 0) -> None:
        self.config = config
        self.camera_index = camera_index
        self._camera: Any = None
        self._job: Any = None
        self._index = 0
        self._capped_at: float | None = None
        self._bracket = False
        self._short_next = False
        self._normal_level: float | None = None  # exposure x gain of recent normal frames

    def start(self) -> None:
        if self._camera is not None:
            return
        from libcamera import controls as lc
        from picamera2 import Picamera2

        camera = Picamera2(self.camera_index)
        video = camera.create_video_configuration(
            main={"size": self.config.resolution, "format": "YUV420"}, buffer_count=4, queue=False
        )
        camera.configure(video)
        wanted = controls_for(self.config, camera.camera_properties["PixelArraySize"])
        wanted["AeMeteringMode"] = getattr(lc.AeMeteringModeEnum, wanted["AeMeteringMode"])
        wanted["AeConstraintMode"] = getattr(lc.AeConstraintModeEnum, wanted["AeConstraintMode"])
        wanted["AeExposureMode"] = getattr(lc.AeExposureModeEnum, wanted["AeExposureMode"])
        camera.set_controls(wanted)
        camera.start()
        self._camera = camera

    def read(self, timeout: float) -> Frame | None:
        self.start()
        if self._job is None:
            self._job = self._camera.capture_request(wait=False)
        try:
            request = self._job.get_result(timeout=timeout)
        except TimeoutError:
            return None  # keep the job: the next read waits for the same request
        self._job = None
        try:
            height = self.config.resolution[1]
            luma = request.make_array("main")[:height].copy()  # Y plane of YUV420
            metadata = request.get_metadata()
            self._cap_gain(metadata)
        finally:
            request.release()
        self._index += 1
        exposure = self._label(metadata)
        if self._bracket:
            self._short_next = not self._short_next
            ev = self.config.exposure_value + (self.config.short_ev if self._short_next else 0.0)
            self._camera.set_controls({"ExposureValue": ev})
        return Frame(luma, time.monotonic(), self._index, exposure)

    def bracket(self, on: bool) -> None:
        if on == self._bracket:
            return
        self._bracket = on
        self._short_next = False
        if not on and self._camera is not None:
            self._camera.set_controls({"ExposureValue": self.config.exposure_value})

    def _label(self, metadata: dict) -> str:
        level = float(metadata.get("ExposureTime", 0)) * float(metadata.get("AnalogueGain", 1.0))
        if level <= 0:
            return "normal"
        if self._normal_level is not None and level < self._normal_level * 2 ** (
            self.config.short_ev / 2
        ):
            return "short"
        self._normal_level = (
            level if self._normal_level is None else 0.7 * self._normal_level + 0.3 * level
        )
        return "normal"

    def _cap_gain(self, metadata: dict) -> None:
        """Hold analogue gain at the cap while AE asks for more; every 2 s let AE decide again."""
        now = time.monotonic()
        if self._capped_at is None:
            if float(metadata.get("AnalogueGain", 1.0)) > self.config.max_gain:
                self._camera.set_controls({"AnalogueGain": self.config.max_gain})
                self._capped_at = now
        elif now - self._capped_at > 2.0:
            self._camera.set_controls({"AnalogueGain": 0.0})  # 0: gain back under AE control
            self._capped_at = None

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
            finally:
                self._camera.close()
                self._camera = None
                self._job = None
