"""One SAM_V ID-card reader on one serial port: commands in, typed answers or errors out.

Every command has a deadline (base time from public SDKs plus the answer's wire time at
the current baud rate), and no call waits past it: the driver waits with select() on the
port for exactly the time left. Whatever the line does — noise, a frame cut short, a bad
checksum, the cable pulled — the caller gets one of the package's errors, never a hang
and never a stray exception from the serial layer. Logs carry commands, status codes and
sizes only, never the bytes of a card.
"""

from __future__ import annotations

import logging
import select
import termios
import time
from dataclasses import dataclass
from typing import Self

import serial

from firmware.kiosk.idcard.errors import (
    ChecksumError,
    MalformedFrame,
    ReaderDisconnected,
    ReaderTimeout,
    TruncatedFrame,
)
from firmware.kiosk.idcard.frame import FrameReader, Response, build_request, parse_response
from firmware.kiosk.idcard.record import Card, parse_text
from firmware.kiosk.idcard.status import Outcome, StatusError, status_for

log = logging.getLogger("firmware.kiosk.idcard.driver")

BAUD_RATES = (115200, 57600, 38400, 19200, 9600)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds the reader may think before answering (reference §7, Synjones SDK values);
    the answer's own wire time at the port's baud rate is added per command."""

    status: float = 0.3  # reset, SAM status, SAM id, set RF bytes
    find: float = 0.5
    select: float = 0.5
    read: float = 3.5
    read_address: float = 1.0


# name -> (CMD, PARA, largest answer in bytes, Timeouts attribute)
COMMANDS: dict[str, tuple[int, int, int, str]] = {
    "reset": (0x10, 0xFF, 11, "status"),
    "status": (0x11, 0xFF, 11, "status"),
    "sam_id": (0x12, 0xFF, 27, "status"),
    "find": (0x20, 0x01, 15, "find"),
    "select": (0x20, 0x02, 19, "select"),
    "read": (0x30, 0x01, 1295, "read"),
    "read_fp": (0x30, 0x10, 2321, "read"),
    "read_address": (0x30, 0x03, 81, "read_address"),
    "set_rf": (0x61, 0xFF, 11, "status"),
}


@dataclass(frozen=True, slots=True, repr=False)
class CardData:
    """What a read command returned: the text block, the encrypted photo, fingerprints."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""

    def record(self) -> Card:
        return parse_text(self.text)

    def __repr__(self) -> str:
        return (
            f"CardData(text={len(self.text)} B, photo={len(self.photo)} B,"
            f" fingerprint={len(self.fingerprint)} B)"
        )


# The success status each command answers with; an answer with another success status
# (and data) belongs to an earlier command that timed out, and is skipped.
SUCCESS = {"find": 0x9F, "read_address": 0x90}


def answers(name: str, response: Response) -> bool:
    """Could this response be the answer to command `name`? Error statuses fit any command."""
    if response.sw3 not in (0x90, 0x9F) or name == "raw":
        return True
    if response.sw3 != SUCCESS.get(name, 0x90):
        return False
    card_sized = len(response.data) >= 4 + 256  # only the read commands carry a text block
    return card_sized == (name in ("read", "read_fp"))


def card_data(data: bytes, fingerprint: bool = False) -> CardData:
    """Split a read answer's data: BE lengths (text, photo[, fingerprint]), then the parts."""
    fields = 3 if fingerprint else 2
    if len(data) < 2 * fields:
        raise MalformedFrame("read answer too short for its length fields")
    sizes = [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(fields)]
    if sizes[0] != 256 or 2 * fields + sum(sizes) != len(data):
        raise MalformedFrame(f"read answer: length fields {sizes} do not match {len(data)} bytes")
    pos = 2 * fields
    text, photo = data[pos : pos + 256], data[pos + 256 : pos + 256 + sizes[1]]
    return CardData(text, photo, data[pos + 256 + sizes[1] :] if fingerprint else b"")


def wire_seconds(nbytes: int, baudrate: int) -> float:
    return nbytes * 10 / baudrate


class SamReader:
    def __init__(
        self, port: str, baudrate: int = 115200, timeouts: Timeouts | None = None
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeouts = timeouts or Timeouts()
        self._ser: serial.Serial | None = None
        self._frames = FrameReader()
        self.bytes_out = 0
        self.bytes_in = 0
        self._last_find = -1  # SW3 of the last logged find answer

    # ---- port ---------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> SamReader:
        """Open (or reopen, after an unplug) the port by its path; 8N1, no flow control."""
        self.close()
        try:
            self._ser = serial.Serial(
                self.port,
                self.baudrate,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=0,
                write_timeout=1.0,
                xonxoff=False,
                rtscts=False,
                dsrdtr=False,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            raise ReaderDisconnected(f"cannot open {self.port}: {exc}") from None
        self._frames.clear()
        log.info("reader port %s open at %d baud", self.port, self.baudrate)
        return self

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError, termios.error):
                pass

    def __enter__(self) -> Self:
        if not self.is_open:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lost(self, exc: BaseException) -> ReaderDisconnected:
        self.close()
        log.warning("reader port %s lost: %s", self.port, exc)
        return ReaderDisconnected(f"reader on {self.port} disconnected ({exc})")

    # ---- one exchange -------------------------------------------------------------------
    def transact(self, name: str, data: bytes = b"", timeout: float | None = None) -> Response:
        """Send one command and return its answer; errors for silence, noise, bad frames."""
        cmd, para, answer_size, timeout_kind = COMMANDS[name]
        if timeout is None:
            timeout = getattr(self.timeouts, timeout_kind) + wire_seconds(
                answer_size, self.baudrate
            )
        return self.transact_raw(build_request(cmd, para, data), timeout, name)

    def transact_raw(self, request: bytes, timeout: float, name: str = "raw") -> Response:
        ser = self._ser
        if ser is None:
            raise ReaderDisconnected(f"reader port {self.port} is not open")
        frames = self._frames
        started = time.monotonic()
        deadline = started + timeout
        try:
            ser.reset_input_buffer()  # stale bytes belong to an earlier, failed exchange
            frames.clear()
            ser.write(request)
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._lost(exc) from None
        self.bytes_out += len(request)
        bad_before, truncated_before = frames.bad_checksums, frames.truncated
        fd = ser.fileno()
        while True:
            body = frames.next_body()
            if body is not None:
                if len(body) < 3:  # a request-shaped frame (echo?): not an answer
                    continue
                response = parse_response(body)
                self.bytes_in += len(body) + 8
                if not answers(name, response):
                    log.debug("%s: skipped a late answer (SW3 0x%02X)", name, response.sw3)
                    continue
                if name != "find" or response.sw3 != self._last_find:  # idle polls: once
                    self._last_find = response.sw3 if name == "find" else -1
                    log.debug(
                        "%s -> SW3 0x%02X, %d data bytes, %.1f ms",
                        name,
                        response.sw3,
                        len(response.data),
                        (time.monotonic() - started) * 1000,
                    )
                return response
            if frames.bad_checksums > bad_before and not frames.has_candidate:
                break  # the one answer this command gets was corrupted: say so now
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                ready, _, _ = select.select([fd], [], [], remaining)
                chunk = ser.read(max(1, ser.in_waiting)) if ready else b""
            except (serial.SerialException, OSError, termios.error, ValueError) as exc:
                raise self._lost(exc) from None
            if chunk:
                frames.feed(chunk)
        if frames.bad_checksums > bad_before:
            raise ChecksumError(f"{name}: answer failed its checksum (line noise?)")
        if frames.pending or frames.truncated > truncated_before:
            raise TruncatedFrame(
                f"{name}: answer cut short ({frames.pending} bytes) within {timeout:.2f} s"
            )
        raise ReaderTimeout(f"{name}: no answer within {timeout:.2f} s")

    def _expect(self, name: str, response: Response, ok: int = 0x90) -> Response:
        if response.sw3 != ok:
            raise StatusError(status_for(response.sw3), name)
        return response

    # ---- commands -----------------------------------------------------------------------
    def reset(self) -> None:
        self._expect("reset", self.transact("reset"))

    def sam_status(self) -> None:
        """Returns if the SAM is usable; StatusError (outcome SAM_FAULT for 0x60) if not."""
        self._expect("status", self.transact("status"))

    def sam_id(self) -> str:
        data = self._expect("sam_id", self.transact("sam_id")).data
        if len(data) < 16:
            raise MalformedFrame(f"SAM id answer has {len(data)} data bytes, need 16")

        def le(a: int, b: int) -> int:
            return int.from_bytes(data[a:b], "little")

        return f"{le(0, 2):02d}.{le(2, 4):02d}-{le(4, 8)}-{le(8, 12):09d}-{le(12, 16):09d}"

    def set_max_rf_bytes(self, count: int = 0x50) -> None:
        self._expect("set_rf", self.transact("set_rf", bytes([count])))

    def find_card(self) -> bool:
        """True if a card answers on the antenna (9F), False for none (80)."""
        response = self.transact("find")
        if response.sw3 == 0x9F:
            return True
        status = status_for(response.sw3)
        if status.outcome is Outcome.NO_CARD:
            return False
        raise StatusError(status, "find")

    def select_card(self) -> None:
        self._expect("select", self.transact("select"))

    def read_base(self, fingerprint: bool = False) -> CardData:
        name = "read_fp" if fingerprint else "read"
        return card_data(self._expect(name, self.transact(name)).data, fingerprint)

    def read_appended_address(self) -> str | None:
        """The latest address endorsement, or None if the card holds none (SW3 0x91)."""
        response = self.transact("read_address")
        if response.sw3 == 0x91:
            return None
        data = self._expect("read_address", response).data
        return data[:70].decode("utf-16-le", errors="replace").strip(" \x00\u3000")

    def read_card(self, fingerprint: bool = False) -> CardData | None:
        """find → select → read. None if no card is on the reader."""
        if not self.find_card():
            return None
        self.select_card()
        return self.read_base(fingerprint)
