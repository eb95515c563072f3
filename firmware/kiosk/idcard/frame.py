"""SAM_V frames: `AA AA AA 96 69 · Len(2, BE) · body · XOR`, built and reassembled.

A serial line delivers bytes, not frames: noise before a frame, a frame cut short by a
card pulled away, a checksum broken by interference. `FrameReader` turns that stream back
into frames and never gives up on the line: it skips anything that is not a valid frame
and picks up at the next preamble, so one bad burst costs one command, not the session.
The same reader serves both directions (the simulator parses requests with it).
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.kiosk.idcard.errors import MalformedFrame

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2  # preamble + Len1 Len2
MIN_LEN = 3  # smallest Len: request CMD PARA CHK
MAX_LEN = 0x0A00  # largest real answer is 2321 bytes total (Len 0x090A); margin above it


def checksum(data: bytes | bytearray) -> int:
    """XOR of every byte from Len1 through the last data byte (reference §1)."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def build_frame(body: bytes) -> bytes:
    """Wrap a body (CMD PARA data, or SW1 SW2 SW3 data) into a complete frame."""
    length = len(body) + 1
    if not MIN_LEN <= length <= MAX_LEN:
        raise MalformedFrame(f"body of {len(body)} bytes cannot be framed")
    len_bytes = length.to_bytes(2, "big")
    return PREAMBLE + len_bytes + body + bytes([checksum(len_bytes + body)])


def build_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    return build_frame(bytes([cmd, para]) + data)


@dataclass(frozen=True, slots=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    def __repr__(self) -> str:  # data may hold a card's text block: never print it
        return (
            f"Response(sw1=0x{self.sw1:02X}, sw2=0x{self.sw2:02X}, sw3=0x{self.sw3:02X},"
            f" data={len(self.data)} B)"
        )


def parse_response(body: bytes) -> Response:
    if len(body) < 3:
        raise MalformedFrame(f"response body of {len(body)} bytes has no SW1 SW2 SW3")
    return Response(body[0], body[1], body[2], bytes(body[3:]))


class FrameReader:
    """Incremental reassembler. `feed()` bytes as they come, `next_body()` until None.

    Counters tell the driver what was thrown away: `garbage` bytes outside any frame,
    `bad_checksums` complete frames whose XOR failed, `truncated` frames abandoned because
    a later complete frame proved they had been cut short.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0
        self.bad_checksums = 0
        self.truncated = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> int:
        dropped = len(self._buf)
        self._buf.clear()
        return dropped

    @property
    def pending(self) -> int:
        """Bytes held that may still become a frame (0 when the buffer holds nothing useful)."""
        return len(self._buf)

    @property
    def has_candidate(self) -> bool:
        """True while a preamble is held whose frame has not been completed yet."""
        return self._buf.find(PREAMBLE) != -1

    def _drop(self, count: int) -> None:
        del self._buf[:count]

    def _check_at(self, pos: int) -> str:
        """'short' (need more bytes), 'bad_len', 'bad_sum' or 'ok' for a candidate at pos."""
        buf = self._buf
        if len(buf) - pos < HEADER_LEN:
            return "short"
        length = (buf[pos + 5] << 8) | buf[pos + 6]
        if not MIN_LEN <= length <= MAX_LEN:
            return "bad_len"
        end = pos + HEADER_LEN + length
        if len(buf) < end:
            return "short"
        if checksum(buf[pos + 5 : end - 1]) != buf[end - 1]:
            return "bad_sum"
        return "ok"

    def _body_at(self, pos: int) -> bytes:
        length = (self._buf[pos + 5] << 8) | self._buf[pos + 6]
        body = bytes(self._buf[pos + HEADER_LEN : pos + HEADER_LEN + length - 1])
        self._drop(pos + HEADER_LEN + length)
        return body

    def _later_complete_frame(self, start: int) -> int:
        pos = self._buf.find(PREAMBLE, start)
        while pos != -1:
            if self._check_at(pos) == "ok":
                return pos
            pos = self._buf.find(PREAMBLE, pos + 1)
        return -1

    def next_body(self) -> bytes | None:
        """The body (between Len and CHK) of the next valid frame, or None for now."""
        while True:
            pos = self._buf.find(PREAMBLE)
            if pos == -1:
                # keep a tail that may be the start of a preamble split across reads
                keep = 0
                for size in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1):
                    if self._buf.endswith(PREAMBLE[:size]):
                        keep = size
                        break
                self.garbage += len(self._buf) - keep
                self._drop(len(self._buf) - keep)
                return None
            if pos:
                self.garbage += pos
                self._drop(pos)
            state = self._check_at(0)
            if state == "ok":
                return self._body_at(0)
            if state == "short":
                later = self._later_complete_frame(1)
                if later == -1:
                    return None
                self.truncated += 1
                self.garbage += later
                self._drop(later)
                continue
            if state == "bad_sum":
                self.bad_checksums += 1
            # resynchronise: the real next frame may start inside the bad one
            self.garbage += 1
            self._drop(1)

    def wanted(self) -> int:
        """How many more bytes the earliest candidate frame needs (at least 1)."""
        pos = self._buf.find(PREAMBLE)
        if pos == -1 or len(self._buf) - pos < HEADER_LEN:
            return 1
        length = (self._buf[pos + 5] << 8) | self._buf[pos + 6]
        return max(1, pos + HEADER_LEN + length - len(self._buf))
