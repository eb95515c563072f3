"""People counter: two break beams a hand's width apart tell in from out.

Beam A is on the street side, beam B inside. Someone walking in breaks A first and
clears B last; walking out is the reverse. A person who steps into A and turns back
never breaks both, and someone blocking both then backing out clears the beam they
broke first last: neither is counted.
"""

from .debounce import Debounced


class DoorCounter:
    def __init__(self, debounce_ms):
        self.a = Debounced(debounce_ms)
        self.b = Debounced(debounce_ms)
        self.counts = {"in": 0, "out": 0}
        self._first = None
        self._last_cleared = None
        self._both = False

    def update(self, now, a_broken, b_broken):
        """Feed one sample of both beams; returns "in", "out" or None."""
        changed_a = self.a.update(now, a_broken)
        changed_b = self.b.update(now, b_broken)
        if not (changed_a or changed_b):
            return None
        a, b = self.a.value, self.b.value
        if self._first is None:
            if a and b:
                self._first = "both"  # no direction can be known
            elif a or b:
                self._first = "a" if a else "b"
            self._both = a and b
            return None
        if a and b:
            self._both = True
        if changed_a and not a:
            self._last_cleared = "a"
        if changed_b and not b:
            self._last_cleared = "b"
        if a or b:
            return None
        direction = None
        if self._both and self._first == "a" and self._last_cleared == "b":
            direction = "in"
        elif self._both and self._first == "b" and self._last_cleared == "a":
            direction = "out"
        self._first = None
        self._last_cleared = None
        self._both = False
        if direction:
            self.counts[direction] += 1
        return direction
