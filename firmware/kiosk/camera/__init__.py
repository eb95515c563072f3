"""Camera frame sources: the sensor on the Pi, or recorded and generated frames anywhere.

The decoder and presentation logic only see `FrameSource`; `picamera2_source` imports
picamera2 (which exists only on a Raspberry Pi) inside its own module, so nothing else
in the kiosk needs the camera stack to import or to be tested.
"""

from firmware.kiosk.camera.config import KIOSK, PLAIN, CameraConfig
from firmware.kiosk.camera.source import Frame, FrameSource

__all__ = ["KIOSK", "PLAIN", "CameraConfig", "Frame", "FrameSource"]
