"""A contact or light beam only counts as changed once it has held still for a while.

Beams flicker as a coat edge passes and tamper switches bounce; without this the
people counter would count a flutter as two people.
"""

from .ticks import ticks_diff


class Debounced:
    def __init__(self, hold_ms, value=False):
        self.hold_ms = hold_ms
        self.value = value  # the stable value
        self._raw = value
        self._since = None

    def update(self, now, raw):
        """Feed one sample; returns True when the stable value changed on this sample."""
        if raw != self._raw or self._since is None:
            self._raw = raw
            self._since = now
        if raw != self.value and ticks_diff(now, self._since) >= self.hold_ms:
            self.value = raw
            return True
        return False
