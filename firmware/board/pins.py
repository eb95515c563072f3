"""The RP2040's real pins: the only module of the firmware that imports `machine`.

Pin numbers are the ones in hardware/pins.md. The serial link is the USB CDC port the
REPL normally uses; main.py turns Ctrl-C off so a 0x03 byte inside a frame cannot stop
the firmware (hold the MAINT jumper at boot to get the REPL back).
"""

import os
import select
import sys

import machine
import micropython
from machine import I2C, PWM, WDT, Pin

PIN_MAP = {
    "red": 2, "amber": 3, "green": 4,  # ring segments via ULN2003A, active high
    "buzzer": 6,  # PWM into a transistor-driven piezo
    "relay": 7,  # relay module input, active high; pulled down on the board
    "beam_a": 10, "beam_b": 11,  # IR receivers, open collector, LOW = beam broken
    "tamper": 12,  # micro switch to GND, closed while the lid is shut
    "maint": 15,  # jumper to GND at boot: skip the firmware, keep the REPL
    "i2c_sda": 8, "i2c_scl": 9,  # I2C0 to the MLX90614 thermometer (optional), 4.7k pull-ups
}
I2C_HZ = 100000  # the MLX90614's SMBus limit
RESET_CAUSES = {
    getattr(machine, "PWRON_RESET", -1): "power_on",
    getattr(machine, "WDT_RESET", -2): "watchdog",
    getattr(machine, "SOFT_RESET", -3): "soft",
}


def maintenance_jumper():
    return Pin(PIN_MAP["maint"], Pin.IN, Pin.PULL_UP).value() == 0


def boot_id():
    if hasattr(os, "urandom"):
        return int.from_bytes(os.urandom(4), "little") or 1
    import random

    return random.getrandbits(32) or 1


def reset_cause():
    return RESET_CAUSES.get(machine.reset_cause(), "unknown")


class Pins:
    def __init__(self, watchdog_ms=2000):
        # outputs first and off: the relay must not chatter while we start
        self._relay = Pin(PIN_MAP["relay"], Pin.OUT, value=0)
        self._lamps = {c: Pin(PIN_MAP[c], Pin.OUT, value=0) for c in ("red", "amber", "green")}
        self._pwm = PWM(Pin(PIN_MAP["buzzer"]))
        self._pwm.duty_u16(0)
        self._beam_a = Pin(PIN_MAP["beam_a"], Pin.IN, Pin.PULL_UP)
        self._beam_b = Pin(PIN_MAP["beam_b"], Pin.IN, Pin.PULL_UP)
        self._tamper = Pin(PIN_MAP["tamper"], Pin.IN, Pin.PULL_UP)
        micropython.kbd_intr(-1)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._wdt = WDT(timeout=watchdog_ms)

    def light(self, colour):
        for name, pin in self._lamps.items():
            pin.value(1 if name == colour else 0)

    def buzzer(self, freq):
        if freq:
            self._pwm.freq(freq)
            self._pwm.duty_u16(32768)
        else:
            self._pwm.duty_u16(0)

    def relay(self, on):
        self._relay.value(1 if on else 0)

    def beams(self):
        return self._beam_a.value() == 0, self._beam_b.value() == 0

    def tamper_open(self):
        return self._tamper.value() == 1

    def i2c(self):
        """The thermometer's bus, made when the board's settings say one is fitted."""
        return I2C(0, sda=Pin(PIN_MAP["i2c_sda"]), scl=Pin(PIN_MAP["i2c_scl"]), freq=I2C_HZ)

    def feed_watchdog(self):
        self._wdt.feed()

    def uart_read(self):
        data = b""
        while len(data) < 128 and self._poll.poll(0):
            data += sys.stdin.buffer.read(1)
        return data or None

    def uart_write(self, data):
        sys.stdout.buffer.write(data)
