"""The one thing the kiosk asks of a camera: the next grey frame, or None if none came.

`read` blocks for at most `timeout` seconds. A camera that stops delivering frames must
be noticed (it is a fault at the door), so a source never blocks forever: it returns None
and the caller decides when silence has lasted long enough to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray  # uint8 grey (luma), H x W
    timestamp: float  # time.monotonic() seconds when captured
    index: int  # running frame number from the source
    exposure: str = "normal"  # "short": an underexposed frame of a bracket (see below)

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, shape={self.image.shape}, exposure={self.exposure})"


class FrameSource(Protocol):
    def start(self) -> None:
        """Open the device (idempotent)."""
        ...

    def read(self, timeout: float) -> Frame | None:
        """The next frame, or None if none arrived within `timeout` seconds."""
        ...

    def close(self) -> None:
        """Release the device (idempotent)."""
        ...

    def bracket(self, on: bool) -> None:
        """Alternate short and normal exposure frames (on) or only normal ones (off), while
        codes fail to read: glare that clips a screen's white at the normal exposure often
        leaves the modules readable two stops darker. A source that cannot change its
        exposure (recorded frames) ignores it."""
        ...
