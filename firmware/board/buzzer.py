"""Buzzer tones: one distinct, short pattern per verdict, so people who cannot see the
ring (or do not look) still know the answer. A pattern is a list of (frequency Hz, ms);
frequency 0 is silence. Low and long means no; one high chirp means go.
"""

from .ticks import ticks_diff

TONES = {
    "none": [],
    "pass": [(2400, 120)],
    "attention": [(1200, 200), (0, 150), (1200, 200)],
    "deny": [(400, 400), (0, 150), (400, 400), (0, 150), (400, 400)],
    "manual": [(800, 300), (0, 300), (800, 300), (0, 300), (800, 300)],
}


class Buzzer:
    def __init__(self):
        self.tone = "none"
        self._since = 0

    def play(self, now, tone):
        self.tone = tone
        self._since = now

    def frequency(self, now):
        """Frequency to drive now; 0 when silent or the pattern has finished."""
        elapsed = ticks_diff(now, self._since)
        for freq, ms in TONES[self.tone]:
            if elapsed < ms:
                return freq
            elapsed -= ms
        return 0
