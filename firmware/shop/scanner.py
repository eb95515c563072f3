"""GM65/GM805-class QR scanner engine on a UART: its command protocol and its code lines.

The module reads a phone screen with its own illumination and sends each decoded code as
one line of text ending in CR (its default tail). It is configured through "zone bits":
a write frame 7E 00 | 08 | len | addr(2) | data | CRC16-XMODEM(2) over type..data, with
AB CD in place of the CRC meaning "do not check"; it answers 02 00 | status | len | data |
CRC. Zone 0x0000 holds the mode, illumination, aiming and beep bits (ZONE0_* below, as in
the GM65 manual; check them against the module's own manual revision), zone 0x0002 bit 0
starts one read in command-trigger mode, and type 09 saves the zones to its EEPROM.

Codes and command answers share the line. A line is accepted only if it ends with CR
and/or LF, is at most `max_len` bytes, decodes as UTF-8 and holds no control characters;
anything else is dropped and counted by reason, and a line that stops arriving for
`partial_ms` is dropped as partial. The driver never raises on what the module sends.
"""



try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython (tests, simulators)
    from firmware.board.ticks import ticks_diff, ticks_ms

HEAD_COMMAND = b"\x7e\x00"
HEAD_ANSWER = 0x02
WRITE = 0x08
READ = 0x07
SAVE = 0x09
NO_CRC = b"\xab\xcd"

ZONE_SETTINGS = 0x0000
ZONE_TRIGGER = 0x0002
# zone 0x0000: bit 7 decode LED, bit 6 mute, bits 5-4 illumination, 3-2 aiming, 1-0 mode
MODES = {"manual": 0, "trigger": 1, "continuous": 2, "sensing": 3}
LIGHTING = {"off": 0, "normal": 1, "always": 2}
ZONE0_MUTE = 0x40
ZONE0_DECODE_LED = 0x80

REASONS = ("too_long", "not_utf8", "garbage", "partial", "bad_answer")
ANSWER_OK = 0x00


def crc16(data, crc=0):
    """CRC-16/XMODEM (poly 0x1021, init 0), the module's frame check."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def command(kind, address, data=b""):
    """One command frame with its CRC."""
    body = bytes((kind, len(data), address >> 8, address & 0xFF)) + bytes(data)
    crc = crc16(body)
    return HEAD_COMMAND + body + bytes((crc >> 8, crc & 0xFF))


def settings_byte(mode="continuous", light="normal", aim="normal", beep=False,
                  decode_led=True):
    return (
        (ZONE0_DECODE_LED if decode_led else 0)
        | (0 if beep else ZONE0_MUTE)
        | LIGHTING[light] << 4
        | LIGHTING[aim] << 2
        | MODES[mode]
    )


def answer(status=ANSWER_OK, data=b"\x00"):
    """The module's answer frame (the simulator sends it; the driver checks it)."""
    body = bytes((status, len(data))) + bytes(data)
    crc = crc16(body)
    return bytes((HEAD_ANSWER, 0)) + body + bytes((crc >> 8, crc & 0xFF))


class Scanner:
    """Reads code lines from the module's UART and sends it commands.

    `uart` needs read(n) -> bytes or None, any(), write(b). Poll often: each call reads
    what the UART holds and returns the codes completed by it."""

    def __init__(self, uart, max_len=512, partial_ms=200, clock=ticks_ms):
        self.uart = uart
        self.max_len = max_len
        self.partial_ms = partial_ms
        self.clock = clock
        self.rejected = {}
        for reason in REASONS:
            self.rejected[reason] = 0
        self.codes = 0
        self.answers = 0
        self._line = bytearray()
        self._drop = None  # the rest of this line is dropped: the reason to count, or ""
        self._answer = None  # bytearray while an answer frame is arriving
        self._last_byte = 0

    # --- commands -----------------------------------------------------------------------

    def configure(self, mode="continuous", light="normal", aim="normal", beep=False,
                  save=False):
        """Mode, illumination, aiming and the module's own beep (off by default: the unit
        beeps the verdict, not the read). `save` writes the zones to the module's EEPROM."""
        self.uart.write(command(WRITE, ZONE_SETTINGS, bytes((settings_byte(
            mode, light, aim, beep),))))
        if save:
            self.uart.write(command(SAVE, 0, b"\x00"))

    def trigger(self):
        """In trigger mode: read one code now (the module times out by itself)."""
        self.uart.write(command(WRITE, ZONE_TRIGGER, b"\x01"))

    # --- reading ------------------------------------------------------------------------

    def _reject(self, reason):
        self.rejected[reason] += 1

    def poll(self):
        """Codes (str) completed by the bytes now waiting; [] if none."""
        now = self.clock()
        pending = self._line or self._answer is not None or self._drop is not None
        if pending and ticks_diff(now, self._last_byte) >= self.partial_ms:
            if self._answer is not None:
                self._reject("bad_answer")
            elif self._drop:
                self._reject(self._drop)
            elif self._drop is None:
                self._reject("partial")
            self._line = bytearray()
            self._answer = None
            self._drop = None
        data = self.uart.read(256) if self.uart.any() else None
        if not data:
            return []
        self._last_byte = now
        codes = []
        for byte in data:
            code = self._feed(byte)
            if code is not None:
                codes.append(code)
        return codes

    def _feed(self, byte):
        if self._answer is not None:
            self._answer.append(byte)
            self._answer_done()
            return None
        if byte in (0x0D, 0x0A):
            return self._end_line()
        if not self._line and self._drop is None and byte == HEAD_ANSWER:
            self._answer = bytearray((byte,))
            return None
        if self._drop is not None:
            return None
        if len(self._line) >= self.max_len:
            self._drop = "too_long"
            self._line = bytearray()
            return None
        self._line.append(byte)
        return None

    def _answer_done(self):
        frame = self._answer
        if len(frame) >= 2 and frame[1] != 0:
            # 02 then not 00: a line that starts with STX, which no code does
            self._answer = None
            self._drop = ""  # counted now; the rest of that line goes too
            self._reject("garbage")
            return
        if len(frame) < 4 or len(frame) < 6 + frame[3]:
            return
        body = bytes(frame[2:-2])
        crc = frame[-2] << 8 | frame[-1]
        self._answer = None
        if crc != crc16(body) or body[0] != ANSWER_OK:
            self._reject("bad_answer")
        else:
            self.answers += 1

    def _end_line(self):
        line = self._line
        drop = self._drop
        self._line = bytearray()
        self._drop = None
        if drop is not None:
            if drop:
                self._reject(drop)
            return None
        if not line:
            return None  # the LF of a CRLF tail, or a blank line
        for byte in line:
            if byte < 0x20 or byte == 0x7F:
                self._reject("garbage")
                return None
        try:
            text = bytes(line).decode("utf-8")
        except UnicodeError:
            self._reject("not_utf8")
            return None
        self.codes += 1
        return text
