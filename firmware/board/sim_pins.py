"""A pin layer made of plain attributes: the board's stand-in wherever there is no RP2040.

Tests and simulators/board.py drive the real Board against it. Inputs (beams, tamper
switch, serial bytes) are set from outside; every output change is recorded with the
time it happened, so a test can read back exactly what a person at the door would
have seen and heard, and when.
"""


class SimPins:
    def __init__(self):
        self.now = 0  # set by the driver before each tick: stamps the timeline
        self.beam_a = False  # True while beam A (street side) is broken
        self.beam_b = False  # True while beam B (inside) is broken
        self.tamper = False  # True while the enclosure is open
        self.timeline = []  # (ms, "light"|"buzzer"|"relay", value)
        self.state = {"light": "off", "buzzer": 0, "relay": False}
        self.watchdog_feeds = 0
        self._rx = b""
        self._tx = []

    # --- outputs ----------------------------------------------------------------------
    def light(self, colour):
        self._record("light", colour)

    def buzzer(self, freq):
        self._record("buzzer", freq)

    def relay(self, on):
        self._record("relay", on)

    def _record(self, name, value):
        self.state[name] = value
        self.timeline.append((self.now, name, value))

    def feed_watchdog(self):
        self.watchdog_feeds += 1

    # --- inputs -----------------------------------------------------------------------
    def beams(self):
        return self.beam_a, self.beam_b

    def tamper_open(self):
        return self.tamper

    # --- serial -----------------------------------------------------------------------
    def deliver(self, data):
        """Bytes arriving from the Pi."""
        self._rx = self._rx + data

    def uart_read(self):
        data, self._rx = self._rx, b""
        return data or None

    def uart_write(self, data):
        self._tx.append(bytes(data))

    def take_sent(self):
        """Everything the board wrote since the last call, as one bytes object."""
        data = b"".join(self._tx)
        self._tx = []
        return data

    def changes(self, name, since=0):
        """The recorded values of one output from `since` on: [(ms, value), ...]."""
        return [(t, v) for t, n, v in self.timeline if n == name and t >= since]
