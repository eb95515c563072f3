"""The board's behaviour, one tick at a time: what the Pi asked for, what the door sensed,
and what must happen when the Pi goes silent.

The board obeys a few timed primitives (show a look for N ms, energise the gate for N ms,
set the idle look); every decision about *which* verdict stays on the Pi. What the board
owns is safety: if no valid frame arrives from the Pi for heartbeat_timeout_ms it shows
"manual check" (amber, slow blink) and puts the gate in its configured safe state on its
own, and it leaves that state the moment the Pi is heard again. Door events are kept
until the Pi acknowledges them, so a busy or restarting Pi loses no count.

`tick(now)` takes the time as an argument and touches hardware only through `pins`, so
the same object runs on the RP2040, in the simulator and in tests under two interpreters.
"""

try:
    from firmware import board_link as link  # CPython and the test runners: repo layout
except ImportError:  # on the board: board_link.py sits beside main.py
    import board_link as link

from .buzzer import Buzzer
from .config import make_config
from .counter import DoorCounter
from .debounce import Debounced
from .gate import Gate
from .lights import LightRing
from .mlx90614 import MLX90614, SensorError
from .ticks import reached, ticks_add, ticks_diff

IDLE_LOOKS = {
    "ready": ("off", "steady"),
    "closed": ("red", "steady"),
    "manual": ("amber", "slow_blink"),
}
FAILSAFE_LOOK = ("amber", "slow_blink")
EVENTS_PER_RETRY = 4
INTRO_MS = 250  # at most this often, a HELLO to a Pi that speaks to an unknown session


class Board:
    def __init__(self, pins, now, config=None, boot=None, reset_cause="power_on"):
        self.config = make_config(config)
        self.pins = pins
        self.counters = link.new_counters()
        self.session = link.Session(link.ROLE_BOARD, boot, self.counters)
        self.reader = link.FrameReader(self.counters)
        self.ring = LightRing()
        self.buzzer = Buzzer()
        self.gate = Gate(self.config["max_gate_ms"], self.config["gate_safe_state"])
        self.door = DoorCounter(self.config["beam_debounce_ms"])
        self.tamper = Debounced(self.config["tamper_debounce_ms"])
        self.thermometer = None
        if self.config["thermometer"] == "mlx90614":
            self.thermometer = MLX90614(pins.i2c())
        self.thermometer_faults = 0
        self.idle_mode = "ready"
        self.failsafe = False
        self.failsafe_entered = 0
        self.commands = 0
        self.dropped_events = 0
        self._showing = None  # (colour, pattern, deadline) of the current SHOW
        self._boot_time = now
        self._last_heard = now  # silence is measured from boot until the Pi speaks
        self._pending = []  # unacknowledged events: [event_no, type, value, uptime]
        self._sent = {}  # sequence number of a transmission -> event_no
        self._event_no = 0
        self._next_retry = now
        self._written = {}
        self._last_intro = None
        self._cause = link.RESET_CAUSES.index(reset_cause)  # told in every HELLO
        self._emit(now, link.RESTARTED, self._cause)
        self._send(self.session.hello(self._cause)[1])
        self._drive(now)

    # --- the loop ---------------------------------------------------------------------

    def tick(self, now):
        data = self.pins.uart_read()
        if data:
            for frame in self.reader.feed(data):
                self._receive(now, frame)
        self._watch_heartbeat(now)
        self._sample(now)
        self._retry_events(now)
        self._drive(now)
        self.pins.feed_watchdog()

    @property
    def pending_events(self):
        return len(self._pending)

    # --- receiving --------------------------------------------------------------------

    def _receive(self, now, frame):
        try:
            verdict = self.session.check(frame)
        except link.LinkError as err:
            if err.reason in ("no_session", "stale"):
                # a Pi that does not know this boot (our boot HELLO lost, or it restarted):
                # refuse its command, and introduce ourselves so it can say HELLO back
                if frame.type in link.COMMANDS:
                    self._send(self.session.ack(frame.seq, "no_session"))
                if self._last_intro is None or ticks_diff(now, self._last_intro) >= INTRO_MS:
                    self._last_intro = now
                    self._send(self.session.hello(self._cause)[1])
            elif err.reason == "version":
                self._send(self.session.hello(self._cause)[1])  # let the Pi see what we speak
            return
        self._heard(now)
        if frame.type == link.HELLO:
            self._send(self.session.hello(self._cause)[1])
            self._next_retry = now  # a (new) Pi: hand it the pending events at once
            return
        if verdict == link.DUPLICATE:
            if frame.type in link.COMMANDS:
                self._send(self.session.ack(frame.seq))
            return
        fields = frame.fields()
        if frame.type == link.HEARTBEAT:
            self._send(self._beat(now))
        elif frame.type == link.MEASURE:
            self._send(self._measure(frame.seq))
        elif frame.type == link.ACK:
            self._acknowledged(fields[0])
        elif frame.type in link.COMMANDS:
            status = self._command(now, frame.type, fields)
            self._send(self.session.ack(frame.seq, status))

    def _heard(self, now):
        self._last_heard = now
        if self.failsafe:
            self.failsafe = False
            self.buzzer.play(now, "none")

    def _command(self, now, msg_type, fields):
        self.commands += 1
        if msg_type == link.SHOW:
            light, pattern, tone, ms = fields
            if light >= len(link.LIGHTS) or pattern >= len(link.PATTERNS):
                return "bad_args"
            if tone >= len(link.TONES):
                return "bad_args"
            ms = min(ms, self.config["max_show_ms"])
            deadline = ticks_add(now, ms)
            self._showing = (link.LIGHTS[light], link.PATTERNS[pattern], deadline) if ms else None
            self.buzzer.play(now, link.TONES[tone])
        elif msg_type == link.GATE:
            self.gate.open(now, fields[0])
        elif msg_type == link.IDLE:
            if fields[0] >= len(link.IDLE_MODES):
                return "bad_args"
            self.idle_mode = link.IDLE_MODES[fields[0]]
        return "ok"

    def _acknowledged(self, seq):
        event_no = self._sent.pop(seq, None)
        if event_no is None:
            return
        self._pending = [ev for ev in self._pending if ev[0] != event_no]

    def _beat(self, now):
        return self.session.frame(
            link.BEAT,
            link.IDLE_MODES.index(self.idle_mode),
            1 if self.failsafe else 0,
            1 if self.tamper.value else 0,
            1 if self._written.get("relay") else 0,
            min(len(self._pending), 0xFFFF),
            self.door.counts["in"],
            self.door.counts["out"],
        )[1]

    def _measure(self, seq):
        """Read the thermometer now (a few ms on the bus) and answer with the reading, or
        with why there is none; the Pi goes on without a temperature either way."""
        if self.thermometer is None:
            return self.session.frame(link.TEMPERATURE, seq, 1, 0, 0)[1]
        try:
            body = self.thermometer.object_cc()
            ambient = self.thermometer.ambient_cc()
        except SensorError as err:
            self.thermometer_faults += 1
            status = link.TEMP_STATUS.index(err.reason)
            return self.session.frame(link.TEMPERATURE, seq, status, 0, 0)[1]
        return self.session.frame(link.TEMPERATURE, seq, 0, link.centi_kelvin(body),
                                  link.centi_kelvin(ambient))[1]

    # --- safety -----------------------------------------------------------------------

    def _watch_heartbeat(self, now):
        if self.failsafe:
            return
        if ticks_diff(now, self._last_heard) >= self.config["heartbeat_timeout_ms"]:
            self.failsafe = True
            self.failsafe_entered += 1
            self._showing = None
            self.buzzer.play(now, "manual")

    # --- sensing and events -----------------------------------------------------------

    def _sample(self, now):
        a_broken, b_broken = self.pins.beams()
        direction = self.door.update(now, a_broken, b_broken)
        if direction:
            self._emit(now, link.PASSED, link.DIRECTIONS.index(direction))
        if self.tamper.update(now, self.pins.tamper_open()):
            self._emit(now, link.TAMPER, 1 if self.tamper.value else 0)

    def _emit(self, now, msg_type, value):
        self._event_no += 1
        uptime = ticks_diff(now, self._boot_time) & 0xFFFFFFFF
        self._pending.append([self._event_no, msg_type, value, uptime])
        if len(self._pending) > self.config["max_pending_events"]:
            self._pending.pop(0)
            self.dropped_events += 1
        self._next_retry = now

    def _retry_events(self, now):
        if not self._pending or not self.session.established:
            return
        if not reached(now, self._next_retry):
            return
        if len(self._sent) > 8 * EVENTS_PER_RETRY:
            waiting = [ev[0] for ev in self._pending]
            self._sent = {s: n for s, n in self._sent.items() if n in waiting}
        for event_no, msg_type, value, uptime in self._pending[:EVENTS_PER_RETRY]:
            seq, data = self.session.frame(msg_type, event_no, value, uptime)
            self._sent[seq] = event_no
            self._send(data)
        self._next_retry = ticks_add(now, self.config["event_retry_ms"])

    # --- outputs ----------------------------------------------------------------------

    def look(self, now):
        """(colour, pattern) the ring should show now."""
        if self.failsafe:
            return FAILSAFE_LOOK
        if self._showing is not None:
            colour, pattern, deadline = self._showing
            if not reached(now, deadline):
                return colour, pattern
            self._showing = None
        return IDLE_LOOKS[self.idle_mode]

    def _drive(self, now):
        colour, pattern = self.look(now)
        self.ring.set(now, colour, pattern)
        self._write("light", self.ring.lit(now), self.pins.light)
        self._write("buzzer", self.buzzer.frequency(now), self.pins.buzzer)
        self._write("relay", self.gate.energised(now, self.failsafe), self.pins.relay)

    def _write(self, name, value, setter):
        if self._written.get(name, None) != value:
            self._written[name] = value
            setter(value)

    def _send(self, data):
        self.pins.uart_write(data)
