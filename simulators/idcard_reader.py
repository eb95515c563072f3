"""A second-generation ID-card reader (SAM_V) on a pseudo-terminal, byte for byte.

The kiosk's driver opens the simulator exactly as it opens a USB-serial reader: by a
path. Answers follow the frames captured from real readers (reference §2, §8), and reach
the driver no faster than the configured baud rate allows (each chunk is released when
its last byte would have left a real UART: bytes × 10 / baud), so timing measured against
the simulator is timing on a real line. The card's RF exchange adds a configurable delay
(0 for benchmarks). Faults happen on demand: no card, card pulled mid-read, line noise,
truncated frames, bad checksums, forced status codes, silence, and the reader unplugged
and plugged back (the pty is closed and a new one is linked at the same path).

Run `python -m simulators.idcard_reader --link /tmp/idcard` and type commands on stdin:
place N | remove | unplug | plug | fault NAME [COMMAND] [COUNT] | status CMD SW3 [COUNT] |
sam ok|selftest_failed|unauthorised | quit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import select
import signal
import sys
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from simulators.cardholders import Cardholder, cardholders

log = logging.getLogger("simulators.idcard_reader")

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
CHUNK = 16  # bytes released together; a USB-serial bridge also delivers small bursts
INTERBYTE_TIMEOUT = 0.1  # a half-received request is dropped after this much silence
FAULTS = ("noise", "truncate", "bad_checksum", "silence", "remove_mid_read")
# (CMD, PARA) -> command name; PARA None = any
COMMANDS = {
    (0x10, 0xFF): "reset",
    (0x11, 0xFF): "status",
    (0x12, 0xFF): "sam_id",
    (0x20, 0x01): "find",
    (0x20, 0x02): "select",
    (0x30, 0x01): "read",
    (0x30, 0x10): "read_fp",
    (0x30, 0x03): "read_address",
    (0x61, 0xFF): "set_rf",
}
DATA_LEN = {"set_rf": 1}  # data bytes each command takes (others: none)
# Modelled RF/processing time per command in seconds. Our assumption (reference §7), kept
# below the client waits of public SDKs; scale it with `rf_scale` (0 = pure wire time).
RF_DELAY = {
    "find": 0.06,
    "select": 0.06,
    "read": 0.6,
    "read_fp": 0.8,
    "read_address": 0.1,
    "reset": 0.01,
    "status": 0.002,
    "sam_id": 0.002,
    "set_rf": 0.002,
}
SAM_ID = (
    bytes.fromhex("05000100")
    + (20220101).to_bytes(4, "little")
    + (123456789).to_bytes(4, "little")
    + (987654321).to_bytes(4, "little")
)


def xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def response_frame(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """`AA AA AA 96 69 · Len BE (= 3 + data + 1) · SW1 SW2 SW3 · data · XOR(Len..data)`."""
    body = (len(data) + 4).to_bytes(2, "big") + bytes([sw1, sw2, sw3]) + data
    return PREAMBLE + body + bytes([xor(body)])


def wire_seconds(nbytes: int, baudrate: int) -> float:
    return nbytes * 10 / baudrate  # 8N1: start + 8 data + stop bits per byte


@dataclass
class _Fault:
    name: str
    command: str | None  # None = the next answer to any command
    count: int
    sw3: int = 0


@dataclass
class SimStats:
    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    answers: dict[str, int] = field(default_factory=dict)


class ReaderSimulator:
    """One reader behind a pty whose slave is reachable at `path` (a symlink if `link`)."""

    def __init__(
        self,
        link: str | os.PathLike[str] | None = None,
        *,
        baudrate: int = 115200,
        rf_scale: float = 1.0,
        refind: str = "always",
        cards: Sequence[Cardholder] | None = None,
        seed: int = 1,
    ) -> None:
        if refind not in ("always", "once"):
            raise ValueError("refind must be 'always' or 'once'")
        self.link = Path(link) if link else None
        self.baudrate = baudrate
        self.rf_scale = rf_scale
        self.refind = refind  # 'always': find answers 9F while a card lies there
        self.cards = tuple(cards) if cards is not None else cardholders()
        self.stats = SimStats()
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._card: Cardholder | None = None
        self._found = False
        self._selected = False
        self._sam_state = "ok"
        self._faults: list[_Fault] = []
        self._master = self._slave = -1
        self._slave_name = ""
        self._plugged = threading.Event()
        self._running = False
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()

    # ---- life cycle --------------------------------------------------------------------
    @property
    def path(self) -> str:
        return str(self.link) if self.link else self._slave_name

    def start(self) -> ReaderSimulator:
        self._open_pty()
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="idcard-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        self._plugged.set()
        os.write(self._wake_w, b"x")
        if self._thread:
            self._thread.join(5)
        self._close_pty()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # raw before anyone opens it: no echo, no line editing
        os.set_blocking(master, False)
        self._master, self._slave, self._slave_name = master, slave, os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._slave_name)
            os.replace(tmp, self.link)
        self._plugged.set()
        log.info("reader plugged in at %s (%s)", self.path, self._slave_name)

    def _close_pty(self) -> None:
        self._plugged.clear()
        with self._lock:
            for fd in (self._master, self._slave):
                if fd >= 0:
                    os.close(fd)
            self._master = self._slave = -1
        if self.link:
            self.link.unlink(missing_ok=True)

    def unplug(self) -> None:
        """The USB cable pulled: the port disappears; open handles fail with EIO."""
        self._close_pty()
        os.write(self._wake_w, b"x")
        log.info("reader unplugged")

    def plug(self) -> None:
        """Plugged back: a new tty appears, linked at the same path."""
        if not self._plugged.is_set():
            self._open_pty()

    # ---- the card and faults -------------------------------------------------------------
    def place(self, card: int | Cardholder) -> Cardholder:
        with self._lock:
            self._card = self.cards[card] if isinstance(card, int) else card
            self._found = self._selected = False
            log.debug("card %d placed", self._card.index)
            return self._card

    def remove(self) -> None:
        with self._lock:
            self._card = None
            self._found = self._selected = False

    @property
    def card(self) -> Cardholder | None:
        return self._card

    def inject(self, name: str, command: str | None = None, count: int = 1) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(name, command, count))

    def force_status(self, command: str, sw3: int, count: int = 1) -> None:
        """Answer `command` with SW3 `sw3` (and no data) the next `count` times."""
        with self._lock:
            self._faults.append(_Fault("status", command, count, sw3))

    def set_sam(self, state: str) -> None:
        if state not in ("ok", "selftest_failed", "unauthorised"):
            raise ValueError("SAM state is ok, selftest_failed or unauthorised")
        self._sam_state = state

    def _take_fault(self, command: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.command in (None, command):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ---- serving ------------------------------------------------------------------------
    def _serve(self) -> None:
        buf = bytearray()
        last_rx = 0.0
        while self._running:
            if not self._plugged.wait(0.05):
                buf.clear()
                continue
            master = self._master
            try:
                ready, _, _ = select.select([master, self._wake_r], [], [], INTERBYTE_TIMEOUT)
            except (OSError, ValueError):
                continue
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            if master in ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if data:
                    buf += data
                    last_rx = time.monotonic()
                    self.stats.bytes_in += len(data)
            elif buf and time.monotonic() - last_rx > INTERBYTE_TIMEOUT:
                buf.clear()  # a request that stopped half-way: forget it, like the SAM
            while (request := self._take_request(buf)) is not None:
                self._answer(request, received=time.monotonic())

    def _take_request(self, buf: bytearray) -> tuple[bytes, int] | None:
        """Next complete request as (body-or-marker, frame length); bad ones answered here."""
        pos = buf.find(PREAMBLE)
        if pos == -1:
            del buf[: max(0, len(buf) - 4)]
            return None
        del buf[:pos]
        if len(buf) < 7:
            return None
        length = (buf[5] << 8) | buf[6]
        if not 3 <= length <= 0x100:
            del buf[:7]
            return (b"\x00LEN", 7)
        if len(buf) < 7 + length:
            return None
        frame = bytes(buf[: 7 + length])
        del buf[: 7 + length]
        if xor(frame[5:-1]) != frame[-1]:
            return (b"\x00SUM", len(frame))
        return (frame[7:-1], len(frame))

    def _answer(self, request: tuple[bytes, int], received: float) -> None:
        body, frame_len = request
        self.stats.requests += 1
        # the request's own bytes took this long on a real line
        start = received + wire_seconds(frame_len, self.baudrate)
        if body == b"\x00SUM":
            return self._send("bad_frame", response_frame(0x10), start)
        if body == b"\x00LEN":
            return self._send("bad_frame", response_frame(0x11), start)
        cmd, para, data = body[0], body[1] if len(body) > 1 else -1, body[2:]
        command = COMMANDS.get((cmd, para), "unknown")
        if command == "unknown":
            return self._send(command, response_frame(0x21), start)
        if len(data) != DATA_LEN.get(command, 0):
            return self._send(command, response_frame(0x11), start)
        start += RF_DELAY.get(command, 0.0) * self.rf_scale
        fault = self._take_fault(command)
        if fault and fault.name == "status":
            return self._send(command, response_frame(fault.sw3), start)
        if fault and fault.name == "remove_mid_read" and command.startswith("read"):
            self.remove()
            return self._send(command, response_frame(0x41), start)
        frame = self._execute(command, data)
        self._send(command, frame, start, fault.name if fault else None)

    def _execute(self, command: str, data: bytes) -> bytes:
        if self._sam_state == "unauthorised":
            return response_frame(0x66)
        if self._sam_state == "selftest_failed":
            return response_frame(0x60)
        with self._lock:
            card = self._card
            if command == "reset":
                self._selected = False
                return response_frame(0x90)
            if command == "status" or command == "set_rf":
                return response_frame(0x90)
            if command == "sam_id":
                return response_frame(0x90, SAM_ID)
            if command == "find":
                if card is None or (self.refind == "once" and self._found):
                    return response_frame(0x80)
                self._found = True
                return response_frame(0x9F, bytes(4))
            if command == "select":
                if card is None or not self._found:
                    return response_frame(0x81)
                self._selected = True
                return response_frame(0x90, bytes(8))
            if card is None or not self._selected:
                return response_frame(0x41)
            if command == "read_address":
                if not card.appended_address:
                    return response_frame(0x91)
                raw = card.appended_address.encode("utf-16-le")
                return response_frame(0x90, raw + b" \x00" * ((70 - len(raw)) // 2))
            text, photo = card.text_block(), card.photo()
            if command == "read":
                head = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
                return response_frame(0x90, head + text + photo)
            fp = card.fingerprint()
            head = b"".join(len(x).to_bytes(2, "big") for x in (text, photo, fp))
            return response_frame(0x90, head + text + photo + fp)

    def _send(self, command: str, frame: bytes, start: float, fault: str | None = None) -> None:
        self.stats.answers[command] = self.stats.answers.get(command, 0) + 1
        if fault == "silence":
            return
        if fault == "bad_checksum":
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if fault == "truncate":
            frame = frame[: max(7, len(frame) // 2)]
        if fault == "noise":
            noise = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(3, 40)))
            frame = noise + b"\xaa\xaa\x96" + PREAMBLE[:4] + frame  # false starts included
        sent = 0
        while sent < len(frame):
            chunk = frame[sent : sent + CHUNK]
            due = start + wire_seconds(sent + len(chunk), self.baudrate)
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._lock:  # unplug closes the fd under this lock: never write a stale fd
                if not self._plugged.is_set() or not self._running or self._master < 0:
                    return  # unplugged mid-answer: the rest never arrives
                try:
                    os.write(self._master, chunk)
                except OSError:
                    return  # nobody reading / pty gone: bytes are lost, as on a real line
            sent += len(chunk)
            self.stats.bytes_out += len(chunk)


def _control(sim: ReaderSimulator, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    verb, args = words[0], words[1:]
    if verb == "place":
        card = sim.place(int(args[0]) if args else 0)
        return f"placed {card.index} {card.kind}"
    if verb == "remove":
        sim.remove()
    elif verb == "unplug":
        sim.unplug()
    elif verb == "plug":
        sim.plug()
    elif verb == "fault":
        command = args[1] if len(args) > 1 and args[1] != "any" else None
        sim.inject(args[0], command, int(args[2]) if len(args) > 2 else 1)
    elif verb == "status":
        sim.force_status(args[0], int(args[1], 0), int(args[2]) if len(args) > 2 else 1)
    elif verb == "sam":
        sim.set_sam(args[0])
    elif verb == "stats":
        return json.dumps(sim.stats.__dict__)
    elif verb == "quit":
        raise EOFError
    else:
        return f"error: unknown command {verb!r}"
    return "ok"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--link",
        default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "idcard-reader"),
        help="symlink path the driver opens (stays the same across unplug/plug)",
    )
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument(
        "--rf-scale",
        type=float,
        default=1.0,
        help="multiply the modelled RF delays (0 = wire time only)",
    )
    parser.add_argument("--refind", choices=("always", "once"), default="always")
    parser.add_argument("--seed", type=int, default=2022, help="cardholder seed")
    parser.add_argument("--card", type=int, help="start with this cardholder on the reader")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr
    )
    sim = ReaderSimulator(
        args.link,
        baudrate=args.baud,
        rf_scale=args.rf_scale,
        refind=args.refind,
        cards=cardholders(args.seed, 64),
    ).start()
    if args.card is not None:
        sim.place(args.card)
    print(json.dumps({"port": sim.path, "tty": sim._slave_name, "baud": args.baud}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for line in sys.stdin:
            try:
                reply = _control(sim, line)
            except EOFError:
                return 0
            except (ValueError, IndexError) as exc:
                reply = f"error: {exc}"
            if reply:
                print(reply, flush=True)
        threading.Event().wait()  # stdin closed (run in the background): serve until killed
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
