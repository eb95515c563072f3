"""The serial link between the Pi kiosk and the door board, declared once for both ends.

Both the board's MicroPython firmware and the kiosk's pyserial driver import this module,
so a frame can never mean one thing on one side and another on the other. It runs
unchanged on MicroPython: only struct and os, no typing, no dataclasses, no f-strings.
docs/board-protocol.md is the prose contract; this module is its only implementation.

Why each piece exists:
- sync + length + CRC16: USB CDC delivers bytes, not messages, and a glitch or a half
  written frame at reset must be found and skipped, never acted on.
- boot id + sequence number in every frame: a frame from an earlier session or an old
  frame played back must not open the gate again. The receiver accepts only the current
  session of its peer and only sequence numbers higher than the last it accepted.
- acknowledgements: commands and door events are retried until acknowledged; a retry
  that arrives twice is recognised (same sequence number) and acknowledged, not redone.
- HELLO with a major/minor version: a board and a kiosk of different majors refuse to
  work together instead of misreading each other's payloads.
CRC16 is no signature: the link is a cable inside the kiosk housing, and this protects
against noise and replays of stale frames, not against someone who can write to the cable.
"""

import os
import struct

if hasattr(os, "urandom"):

    def random_u32():
        value = 0
        while value == 0:
            value = int.from_bytes(os.urandom(4), "little")
        return value

else:  # ports without os.urandom (the WebAssembly one); rp2 seeds random from its ROSC
    import random

    def random_u32():
        return random.getrandbits(32) or 1


MAJOR = 1
MINOR = 1  # 1: MEASURE / TEMPERATURE (the door's thermometer)

SYNC = b"\xa5\x5a"
HEADER = "<BBII"  # length of payload, type, sender boot id, sequence number
HEADER_LEN = 10
MAX_PAYLOAD = 64
OVERHEAD = len(SYNC) + HEADER_LEN + 2  # sync, header, CRC16

ROLE_KIOSK = 1
ROLE_BOARD = 2

# --- message types ---------------------------------------------------------------------
HELLO = 0x01  # both ways: version handshake; a new boot id means the sender restarted
ACK = 0x02  # both ways: acknowledges one sequence number, with a status
HEARTBEAT = 0x03  # kiosk -> board: "the Pi is alive"; the board answers with BEAT
BEAT = 0x04  # board -> kiosk: state snapshot, answer to HEARTBEAT
MEASURE = 0x05  # kiosk -> board: read the thermometer now; answered by TEMPERATURE
TEMPERATURE = 0x06  # board -> kiosk: the reading (or why there is none), answer to MEASURE
SHOW = 0x10  # kiosk -> board: light + pattern + tone for N ms
GATE = 0x11  # kiosk -> board: energise the gate relay for N ms
IDLE = 0x12  # kiosk -> board: what the ring shows between verdicts
PASSED = 0x20  # board -> kiosk: a person went through the door (direction)
TAMPER = 0x21  # board -> kiosk: enclosure opened/closed
RESTARTED = 0x22  # board -> kiosk: the board booted (reset cause)

NAMES = {
    HELLO: "hello", ACK: "ack", HEARTBEAT: "heartbeat", BEAT: "beat", MEASURE: "measure",
    TEMPERATURE: "temperature", SHOW: "show",
    GATE: "gate", IDLE: "idle", PASSED: "passed", TAMPER: "tamper", RESTARTED: "restarted",
}
COMMANDS = (SHOW, GATE, IDLE)  # acknowledged, retried by the kiosk
EVENTS = (PASSED, TAMPER, RESTARTED)  # acknowledged, retried by the board

# --- enumerations carried as one byte ----------------------------------------------------
LIGHTS = ("off", "red", "amber", "green")
PATTERNS = ("steady", "blink", "slow_blink")
TONES = ("none", "pass", "attention", "deny", "manual")
IDLE_MODES = ("ready", "closed", "manual")
DIRECTIONS = ("none", "in", "out")
RESET_CAUSES = ("power_on", "watchdog", "soft", "unknown")
ACK_STATUS = ("ok", "bad_args", "unknown_type", "no_session", "version")
# a TEMPERATURE's status: a reading, no thermometer fitted, or the sensor's fault
TEMP_STATUS = ("ok", "no_sensor", "no_answer", "bad_crc", "sensor_flag")

# payload layouts (little-endian); events share one: event number, value, board uptime ms
LAYOUTS = {
    HELLO: "<BBBB",  # major, minor, role, reset cause (board) / 0 (kiosk)
    ACK: "<IB",  # acknowledged sequence number, status
    HEARTBEAT: "<",
    BEAT: "<BBBBHII",  # mode, failsafe, tamper open, relay on, pending events, in, out
    MEASURE: "<",
    # the MEASURE's sequence number, status, object and ambient temperature in hundredths
    # of a kelvin (unsigned; 0 without a reading): 36.50 °C is 30965
    TEMPERATURE: "<IBHH",
    SHOW: "<BBBI",  # light, pattern, tone, duration ms
    GATE: "<I",  # duration ms
    IDLE: "<B",  # idle mode
    PASSED: "<IBI",
    TAMPER: "<IBI",
    RESTARTED: "<IBI",
}


class LinkError(ValueError):
    """A frame or payload that breaks the contract; `reason` is a short code for counters."""

    def __init__(self, reason, detail=""):
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason


# --- CRC16/CCITT-FALSE (poly 0x1021, init 0xFFFF) -----------------------------------------


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data, crc=0xFFFF):
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


# --- payloads ---------------------------------------------------------------------------


_LIMIT = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}


def pack(msg_type, *fields):
    layout = LAYOUTS.get(msg_type)
    if layout is None:
        raise LinkError("unknown_type", str(msg_type))
    if len(fields) != len(layout) - 1:
        raise LinkError("bad_args", NAMES[msg_type])
    # MicroPython's struct wraps out-of-range values silently; refuse them here instead
    for code, value in zip(layout[1:], fields):
        if not isinstance(value, int) or not 0 <= value <= _LIMIT[code]:
            raise LinkError("bad_args", "%s %r" % (NAMES[msg_type], value))
    try:
        return struct.pack(layout, *fields)
    except (struct.error, OverflowError, TypeError, ValueError):
        raise LinkError("bad_args", NAMES[msg_type]) from None  # MicroPython warns on `from err`


def unpack(msg_type, payload):
    layout = LAYOUTS.get(msg_type)
    if layout is None:
        raise LinkError("unknown_type", str(msg_type))
    if len(payload) != struct.calcsize(layout):
        raise LinkError("bad_payload", NAMES[msg_type])
    return struct.unpack(layout, payload)


def encode(msg_type, boot, seq, payload=b""):
    if len(payload) > MAX_PAYLOAD:
        raise LinkError("too_long", str(len(payload)))
    body = struct.pack(HEADER, len(payload), msg_type, boot, seq) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


class Frame:
    """One checked frame: type, sender boot id, sequence number, raw payload."""

    def __init__(self, msg_type, boot, seq, payload):
        self.type = msg_type
        self.boot = boot
        self.seq = seq
        self.payload = payload

    def fields(self):
        return unpack(self.type, self.payload)

    def __repr__(self):
        return "Frame(%s boot=%08x seq=%d)" % (NAMES.get(self.type, "?"), self.boot, self.seq)


class FrameReader:
    """Turns a byte stream into checked frames; skips and counts everything garbled."""

    def __init__(self, counters=None):
        self._buf = b""
        self.counters = counters if counters is not None else new_counters()

    def feed(self, data):
        """Add bytes; return the list of complete, CRC-checked frames now available."""
        frames = []  # type: list[Frame]
        self._buf = self._buf + data
        while True:
            start = self._buf.find(SYNC)
            if start < 0:
                # keep a trailing first sync byte: the second may be in the next read
                if self._buf:
                    keep = self._buf[-1:] if self._buf[-1:] == SYNC[:1] else b""
                    if len(self._buf) > len(keep):
                        self.counters["noise_bytes"] += len(self._buf) - len(keep)
                    self._buf = keep
                return frames
            if start:
                self.counters["noise_bytes"] += start
                self._buf = self._buf[start:]
            if len(self._buf) < len(SYNC) + HEADER_LEN:
                return frames
            length = self._buf[2]
            if length > MAX_PAYLOAD:
                self._reject("garbled")
                continue
            total = len(SYNC) + HEADER_LEN + length + 2
            if len(self._buf) < total:
                return frames
            body = self._buf[2 : total - 2]
            (crc,) = struct.unpack("<H", self._buf[total - 2 : total])
            if crc16(body) != crc:
                self._reject("garbled")
                continue
            _, msg_type, boot, seq = struct.unpack(HEADER, body[:HEADER_LEN])
            self._buf = self._buf[total:]
            frames.append(Frame(msg_type, boot, seq, bytes(body[HEADER_LEN:])))

    def _reject(self, reason):
        # drop this sync and look for the next one: the real frame may start inside
        self.counters[reason] += 1
        self._buf = self._buf[1:]


def centi_kelvin(centi_celsius):
    return centi_celsius + 27315


def centi_celsius(centi_kelvin_value):
    return centi_kelvin_value - 27315


def new_counters():
    return {
        "garbled": 0, "noise_bytes": 0, "replay": 0, "duplicate": 0, "stale": 0,
        "no_session": 0, "version": 0, "bad_payload": 0, "unknown_type": 0,
    }


# --- sessions ---------------------------------------------------------------------------

NEW = "new"
DUPLICATE = "duplicate"
RESTART = "restart"  # a HELLO from a boot id not seen before: the peer restarted


class Session:
    """This end of the link: own boot id and sequence numbers, and what the peer sent.

    `check(frame)` decides whether a received frame may be acted on: it returns NEW (act),
    RESTART (a HELLO of a new peer boot: act and start over), DUPLICATE (already acted
    on: acknowledge again, do nothing) or raises LinkError with the reason counted.
    """

    def __init__(self, role, boot=None, counters=None):
        self.role = role
        self.boot = boot or random_u32()
        self.counters = counters if counters is not None else new_counters()
        self._seq = 0
        self.peer_boot = None
        self.peer_version = None
        self._peer_seq = 0

    def next_seq(self):
        self._seq += 1
        return self._seq

    def frame(self, msg_type, *fields):
        """Encode a message with the next sequence number; returns (seq, bytes)."""
        seq = self.next_seq()
        return seq, encode(msg_type, self.boot, seq, pack(msg_type, *fields))

    def hello(self, reset_cause=0):
        return self.frame(HELLO, MAJOR, MINOR, self.role, reset_cause)

    def ack(self, seq, status="ok"):
        return self.frame(ACK, seq, ACK_STATUS.index(status))[1]

    @property
    def established(self):
        return self.peer_boot is not None

    def check(self, frame):
        try:
            fields = frame.fields()
        except LinkError as err:
            self.counters[err.reason] += 1
            raise
        if frame.type == HELLO:
            major, minor, role, _cause = fields
            if major != MAJOR or role == self.role:
                self.counters["version"] += 1
                raise LinkError("version", "peer %d.%d role %d" % (major, minor, role))
            if frame.boot == self.peer_boot:
                return self._advance(frame)
            self.peer_boot = frame.boot
            self.peer_version = (major, minor)
            self._peer_seq = frame.seq
            return RESTART
        if self.peer_boot is None:
            self.counters["no_session"] += 1
            raise LinkError("no_session", NAMES.get(frame.type, "?"))
        if frame.boot != self.peer_boot:
            self.counters["stale"] += 1
            raise LinkError("stale", "boot %08x" % frame.boot)
        return self._advance(frame)

    def _advance(self, frame):
        if frame.seq == self._peer_seq:
            self.counters["duplicate"] += 1
            return DUPLICATE
        if frame.seq < self._peer_seq:
            self.counters["replay"] += 1
            raise LinkError("replay", "seq %d <= %d" % (frame.seq, self._peer_seq))
        self._peer_seq = frame.seq
        return NEW
