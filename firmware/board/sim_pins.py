"""A pin layer made of plain attributes: the board's stand-in wherever there is no RP2040.

Tests and simulators/board.py drive the real Board against it. Inputs (beams, tamper
switch, serial bytes, the thermometer's reading) are set from outside; every output
change is recorded with the time it happened, so a test can read back exactly what a
person at the door would have seen and heard, and when.
"""

from .mlx90614 import ADDRESS, AMBIENT, OBJECT, crc8


class SimMLX90614:
    """The thermometer as the I2C bus sees it: two RAM registers answered with the PEC
    byte the real sensor computes. `object_cc`/`ambient_cc` are hundredths of a degree
    Celsius; `answering = False` is an unplugged sensor, `garble` a noisy cable,
    `flag` the sensor's own error bit."""

    def __init__(self, object_cc=3650, ambient_cc=2400, address=ADDRESS):
        self.address = address
        self.object_cc = object_cc
        self.ambient_cc = ambient_cc
        self.answering = True
        self.garble = False
        self.flag = False
        self.reads = 0

    def read(self, register):
        self.reads += 1
        value = self.object_cc if register == OBJECT else self.ambient_cc
        raw = (value + 27315) // 2 if register in (OBJECT, AMBIENT) else 0
        if self.flag:
            raw |= 0x8000
        low, high = raw & 0xFF, raw >> 8
        pec = crc8(bytes((self.address << 1, register, (self.address << 1) | 1, low, high)))
        return bytes((low, high, pec ^ 0x5A if self.garble else pec))


class SimI2C:
    """An I2C bus with the `readfrom_mem` of machine.I2C; a missing or silent device
    raises OSError as the RP2040's bus does when nothing acknowledges the address."""

    def __init__(self, *devices):
        self.devices = {d.address: d for d in devices}

    def readfrom_mem(self, address, register, n):
        device = self.devices.get(address)
        if device is None or not device.answering:
            raise OSError(19)  # ENODEV
        return device.read(register)[:n]


class SimPins:
    def __init__(self, thermometer=None):
        self.now = 0  # set by the driver before each tick: stamps the timeline
        self.thermometer = thermometer  # a SimMLX90614 on the I2C bus, or none fitted
        self.bus = SimI2C(*([thermometer] if thermometer else []))
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

    def i2c(self):
        return self.bus

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
