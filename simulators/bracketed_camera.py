"""A kiosk camera with exposure bracketing, on generated scenes: the model behind the
benchmark of multi-exposure capture (bench/decode.py --camera).

Each presentation (a scene from simulators/scenes.py: category, strength, seed) is held in
front of the camera for `hold` frames. Every frame is rendered through the sensor model
at the camera's normal exposure or, while the kiosk asks for a bracket, alternately at
the short one (`CameraConfig.short_ev` below normal). As on the Pi, a change of exposure
reaches the sensor `latency` frames after it was asked for, and a frame is labelled with
the exposure it actually got. Implements the kiosk's FrameSource.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace

import numpy as np

from firmware.kiosk.camera.config import KIOSK, CameraConfig
from firmware.kiosk.camera.source import Frame
from simulators.scenes import Scene, make_scene
from simulators.scenes_camera import Hood

Presentation = tuple[str, float, int]  # (category, strength, seed)


class BracketedSceneSource:
    def __init__(
        self,
        presentations: list[Presentation],
        size: tuple[int, int] = (1280, 720),
        camera: CameraConfig = KIOSK,
        hood: Hood | None = None,
        hold: int = 6,
        latency: int = 2,
        bracketing: bool = True,
    ) -> None:
        self.presentations = presentations
        self.size = size
        self.camera = camera
        self.short_camera = replace(camera, exposure_value=camera.exposure_value + camera.short_ev)
        self.hood = hood
        self.hold = hold
        self.bracketing = bracketing  # False: a camera that ignores bracket() (the baseline)
        self._pending: deque[bool] = deque([False] * latency)  # short? per frame to come
        self._bracket = False
        self._short_next = False
        self._index = 0
        self._cache: dict[tuple[int, bool], Scene] = {}

    @property
    def current(self) -> int:
        """Index of the presentation the next frame shows."""
        return self._index // self.hold

    def scene(self, presentation: int, short: bool) -> Scene:
        key = (presentation, short)
        if key not in self._cache:
            category, strength, seed = self.presentations[presentation]
            camera = self.short_camera if short else self.camera
            self._cache.clear() if len(self._cache) > 8 else None
            self._cache[key] = make_scene(category, strength, seed, self.size, camera, self.hood)
        return self._cache[key]

    def start(self) -> None:
        pass

    def bracket(self, on: bool) -> None:
        if self.bracketing:
            self._bracket = on
            self._short_next = False

    def read(self, timeout: float) -> Frame | None:
        if self.current >= len(self.presentations):
            return None
        if self._bracket:
            self._short_next = not self._short_next
        self._pending.append(self._bracket and self._short_next)
        short = self._pending.popleft()
        image = self.scene(self.current, short).image
        self._index += 1
        return Frame(
            np.ascontiguousarray(image),
            time.monotonic(),
            self._index,
            "short" if short else "normal",
        )

    def close(self) -> None:
        self._cache.clear()
