"""The large-text status screen on the kiosk's small HDMI panel, Chinese first.

The kiosk serves one local page (app.py) that a full-screen browser on the Pi shows; the
page polls the current state (state.py) a few times a second. A page that cannot reach
the kiosk turns to "manual check" by itself, so a dead kiosk never leaves a stale green.
"""

from firmware.kiosk.screen.app import create_app
from firmware.kiosk.screen.state import ScreenState

__all__ = ["ScreenState", "create_app"]
