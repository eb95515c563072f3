"""The red/amber/green ring: which colour is lit at a given moment for a given pattern.

Patterns are computed from the time they started, not toggled by a timer, so a missed
tick never leaves the ring in the wrong phase.
"""

from .ticks import ticks_diff

# pattern -> (period ms, lit ms at the start of each period)
PATTERNS = {
    "steady": (0, 0),
    "blink": (500, 250),  # 2 Hz, for "no entry"
    "slow_blink": (2000, 1000),  # 0.5 Hz, for "wait" and "manual check"
}


class LightRing:
    def __init__(self):
        self.colour = "off"
        self.pattern = "steady"
        self._since = 0

    def set(self, now, colour, pattern):
        if (colour, pattern) != (self.colour, self.pattern):
            self.colour = colour
            self.pattern = pattern
            self._since = now

    def lit(self, now):
        """The colour lit now, or "off"."""
        if self.colour == "off":
            return "off"
        period, on = PATTERNS[self.pattern]
        if not period:
            return self.colour
        return self.colour if ticks_diff(now, self._since) % period < on else "off"
