"""The gate relay: energised only until its command's deadline, or in the fail-safe
state the site configured. Nothing else may switch it on.

The deadline is fixed when the command arrives; the relay output is recomputed from it
on every tick, so a crashed or slow caller cannot leave it on (and the watchdog resets
the board, which starts with the relay off, if the tick loop itself stops).
"""

from .ticks import reached, ticks_add


class Gate:
    def __init__(self, max_ms, safe_state):
        self.max_ms = max_ms
        self.safe_state = safe_state
        self._deadline = None
        self.clamped = 0  # commands asking for longer than max_ms

    def open(self, now, ms):
        if ms > self.max_ms:
            ms = self.max_ms
            self.clamped += 1
        self._deadline = ticks_add(now, ms) if ms > 0 else None

    def cancel(self):
        self._deadline = None

    def energised(self, now, failsafe):
        if failsafe:
            self._deadline = None  # a silent Pi cancels any opening in progress
            return self.safe_state == "free"
        if self._deadline is None:
            return False
        if reached(now, self._deadline):
            self._deadline = None
            return False
        return True
