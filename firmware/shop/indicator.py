"""The unit's red/green LED, buzzer and optional door relay, showing one verdict's Look.

The looks are firmware/verdict.py's LOOKS, the same the kiosk's light ring shows; a
two-colour LED shows amber as red and green together. Patterns and tones run from
update(now), called every loop turn, so nothing here sleeps. The relay (optional) closes
only for a Look whose gate opens, for at most `relay_ms`, and every output is off again
when the look's time is up.
"""



try:
    from time import ticks_diff
except ImportError:  # CPython
    from firmware.board.ticks import ticks_diff

# light -> (red, green) LED state
LEDS = {"green": (0, 1), "amber": (1, 1), "red": (1, 0)}
# pattern -> (on ms, off ms); steady is on throughout
PATTERNS = {"steady": (1, 0), "blink": (150, 150), "slow_blink": (500, 500)}
# tone -> [(frequency Hz, ms)]; frequency 0 is a pause
TONES = {
    "pass": [(2700, 120)],
    "attention": [(2000, 150), (0, 100), (2000, 150)],
    "deny": [(800, 300), (0, 100), (800, 300), (0, 100), (800, 300)],
    "manual": [(1200, 150), (0, 100), (1200, 150), (0, 100), (1200, 150)],
}
SHOW_MS = 3000
RELAY_MS = 2500


class Indicator:
    """`pins` needs led(red, green), tone(frequency) and relay(on)."""

    def __init__(self, pins, show_ms=SHOW_MS, relay_ms=RELAY_MS):
        self.pins = pins
        self.show_ms = show_ms
        self.relay_ms = relay_ms
        self.look = None
        self._since = 0
        self._leds = None
        self._freq = None
        self._relay = None  # unknown until off() drives every output
        self.off()

    def off(self):
        self.look = None
        self._set_leds((0, 0))
        self._set_tone(0)
        self._set_relay(False)

    def show(self, look, now):
        self.look = look
        self._since = now
        if look.gate and self.relay_ms:
            self._set_relay(True)
        self.update(now)

    def busy(self):
        return self.look is not None

    def update(self, now):
        look = self.look
        if look is None:
            return
        age = ticks_diff(now, self._since)
        if age >= self.show_ms:
            self.off()
            return
        if self._relay and age >= self.relay_ms:
            self._set_relay(False)
        on, off = PATTERNS[look.pattern]
        lit = off == 0 or age % (on + off) < on
        self._set_leds(LEDS[look.light] if lit else (0, 0))
        self._set_tone(self._tone_at(look.tone, age))

    @staticmethod
    def _tone_at(tone, age):
        for freq, ms in TONES[tone]:
            if age < ms:
                return freq
            age -= ms
        return 0

    def _set_leds(self, state):
        if state != self._leds:
            self._leds = state
            self.pins.led(state[0], state[1])

    def _set_tone(self, freq):
        if freq != self._freq:
            self._freq = freq
            self.pins.tone(freq)

    def _set_relay(self, on):
        if on != self._relay:
            self._relay = on
            self.pins.relay(on)
