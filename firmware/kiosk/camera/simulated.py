"""A frame source without a camera: image files, a folder, or generated scenes.

Installers replay frames captured on site through the same decoder the kiosk runs; tests
play generated scenes (simulators/scenes.py) through it. `pause()` and `resume()` stand in
for a camera that stops delivering frames (a loose ribbon cable, a crashed driver), the one
sensor behaviour a test cannot get from real hardware here.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from firmware.kiosk.camera.source import Frame

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm"}


def load_grey(path: str | Path) -> np.ndarray:
    """An image file as uint8 grey; a clear error for anything that is not one."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: not a readable image file")
    return image


def image_files(folder: str | Path) -> list[Path]:
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths


class SimulatedSource:
    """Plays images at `fps` (None: as fast as they are read), optionally looping."""

    def __init__(
        self,
        images: Iterable[np.ndarray] | Callable[[], Iterator[np.ndarray]],
        fps: float | None = 15.0,
        loop: bool = False,
    ) -> None:
        self._make = images if callable(images) else None
        self._images = None if callable(images) else list(images)
        self.fps = fps
        self.loop = loop
        self._iter: Iterator[np.ndarray] | None = None
        self._index = 0
        self._next_at = 0.0
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], **kwargs) -> SimulatedSource:
        return cls([load_grey(p) for p in paths], **kwargs)

    @classmethod
    def from_folder(cls, folder: str | Path, **kwargs) -> SimulatedSource:
        return cls.from_files(image_files(folder), **kwargs)

    def start(self) -> None:
        with self._lock:
            if self._iter is None:
                self._iter = self._frames()
                self._next_at = time.monotonic()

    def _frames(self) -> Iterator[np.ndarray]:
        if self._make is not None:
            return self._make()
        assert self._images is not None
        return itertools.cycle(self._images) if self.loop else iter(self._images)

    def pause(self) -> None:
        """The camera stops delivering frames (reads time out) until `resume`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def read(self, timeout: float) -> Frame | None:
        self.start()
        deadline = time.monotonic() + timeout
        if not self._running.wait(timeout):
            return None
        if self.fps:
            wait = self._next_at - time.monotonic()
            if wait > deadline - time.monotonic():
                time.sleep(max(0.0, deadline - time.monotonic()))
                return None
            if wait > 0:
                time.sleep(wait)
            self._next_at = max(self._next_at + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        with self._lock:
            assert self._iter is not None
            image = next(self._iter, None)
            if image is None:  # played out: behaves like a camera that went silent
                time.sleep(max(0.0, deadline - time.monotonic()))
                return None
            self._index += 1
            return Frame(image, time.monotonic(), self._index)

    def bracket(self, on: bool) -> None:
        """Recorded frames have the exposure they were taken with."""

    def close(self) -> None:
        with self._lock:
            self._iter = None
