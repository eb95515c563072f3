"""The Pi's end of the board link: handshake, heartbeats, commands that arrive, door counts
that are neither lost nor counted twice.

The board is a safety device that can reset at any moment (watchdog, brown-out, someone
pulling the USB cable), and the kiosk process can restart too. So:
- every command is retried until acknowledged, and carries a duration recomputed from the
  kiosk's own deadline, so a retry or a re-send never keeps a light or the gate on longer
  than first asked;
- a board restart is seen from its new boot id (its HELLO, or any frame of an unknown
  session), and whatever was still meant to be showing is sent again for the time left;
- a door event is written to SQLite before it is acknowledged, keyed by (board boot id,
  event number): a board re-sending after a lost ack, or to a freshly restarted kiosk,
  finds the key already there and is acknowledged without being counted again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Self

import serial

from firmware import board_link as link
from firmware.kiosk.board_counts import DoorCount, DoorEventStore
from firmware.kiosk.health import Health
from firmware.kiosk.ports import Measurement
from firmware.timeouts import event_set_within, within

log = logging.getLogger(__name__)
PART = "board"
EVENT_KINDS = {link.PASSED: "passed", link.TAMPER: "tamper", link.RESTARTED: "restarted"}


__all__ = ["BoardError", "BoardLink", "DoorCount", "DoorEventStore", "Measurement"]
THERMOMETER = "thermometer"  # its own health part: a faulty sensor is not a faulty board


class BoardError(RuntimeError):
    pass


@dataclass
class _Active:
    """A command that should still be in effect: re-sent after a board restart."""

    msg_type: int
    fields: Callable[[int], tuple[int, ...]]  # remaining ms -> payload fields
    deadline: float | None  # monotonic seconds; None: in effect until replaced


class BoardLink:
    """Talks to one board over a serial port (the RP2040's USB CDC, or the simulator's pty)."""

    def __init__(self, port: str, store: DoorEventStore, health: Health | None = None, *,
                 heartbeat_s: float = 0.5, ack_timeout_s: float = 0.25, attempts: int = 4,
                 silence_s: float = 2.0) -> None:
        self.port = port
        self.store = store
        self.health = health or Health()
        self.heartbeat_s = heartbeat_s
        self.ack_timeout_s = ack_timeout_s
        self.attempts = attempts
        self.silence_s = silence_s
        self.session = link.Session(link.ROLE_KIOSK)
        self.counters: dict[str, int] = link.new_counters() | {
            "board_restarts": 0, "resent_after_restart": 0, "retries": 0}
        self.session.counters = self.counters
        self.reader = link.FrameReader(self.counters)
        self.beat: dict[str, int] = {}  # the board's last BEAT
        self.tamper_open = False
        self._serial: serial.Serial | None = None
        self._ready = asyncio.Event()
        self._waiting: dict[int, asyncio.Future[str]] = {}
        self._measures: dict[int, asyncio.Future[Measurement]] = {}
        self._active: dict[str, _Active] = {}
        self._new_event = asyncio.Event()
        self._last_heard = 0.0
        self._last_hello = 0.0
        self._met_board = False
        self._refused_version: tuple[int, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- life cycle -----------------------------------------------------------------------

    async def start(self, timeout: float = 3.0) -> None:
        try:
            self._open_port()
        except (serial.SerialException, OSError) as err:
            self.health.report(PART, False, "no port")
            raise BoardError(f"cannot open board port {self.port}: {err}") from err
        self._tasks.append(asyncio.create_task(self._keep_alive(), name="board-heartbeat"))
        self._hello()
        if not await event_set_within(self._ready, timeout):
            await self.close()
            if self._refused_version:
                theirs = ".".join(map(str, self._refused_version))
                raise BoardError(f"board on {self.port} speaks protocol {theirs}, this kiosk "
                                 f"{link.MAJOR}.{link.MINOR}: update one of them") from None
            self.health.report(PART, False, "no answer")
            raise BoardError(f"board on {self.port} did not answer the handshake") from None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._close_port()

    def _open_port(self) -> None:
        self._serial = serial.Serial(self.port, 115200, timeout=0, write_timeout=1)
        self._serial.reset_input_buffer()
        asyncio.get_running_loop().add_reader(self._serial.fileno(), self._readable)

    def _close_port(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            asyncio.get_running_loop().remove_reader(port.fileno())
            port.close()

    def _port_lost(self, err: Exception) -> None:
        # An RP2040 that resets takes its USB port with it; it comes back after
        # enumeration, and the keep-alive task reopens it.
        log.warning("board port %s lost: %s", self.port, err)
        self._close_port()
        self._ready.clear()
        self.health.report(PART, False, "port lost")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- commands -------------------------------------------------------------------------

    async def show(self, light: str, pattern: str, tone: str, ms: int) -> None:
        """Light + pattern + tone for `ms` milliseconds, then the idle look."""
        ids = (link.LIGHTS.index(light), link.PATTERNS.index(pattern), link.TONES.index(tone))
        await self._command("show", link.SHOW, lambda left: (*ids, left), ms)

    async def open_gate(self, ms: int) -> None:
        await self._command("gate", link.GATE, lambda left: (left,), ms)

    async def set_idle(self, mode: str) -> None:
        index = link.IDLE_MODES.index(mode)
        await self._command("idle", link.IDLE, lambda _left: (index,), None)

    async def measure(self, timeout_s: float = 0.3) -> Measurement:  # the Thermometer port
        """Ask the board for the thermometer's reading now. Never raises: a door whose
        sensor fails goes on without a temperature, and the fault shows on the kiosk's
        health (part `thermometer`)."""
        if not self._ready.is_set():
            return self._measured(Measurement(None, "no_reply"))
        future: asyncio.Future[Measurement] = asyncio.get_running_loop().create_future()
        try:
            seq, data = self.session.frame(link.MEASURE)
            self._measures[seq] = future
            self._write(data)
            return self._measured(await within(future, timeout_s))
        except (TimeoutError, BoardError):
            return self._measured(Measurement(None, "no_reply"))
        finally:
            self._measures = {s: f for s, f in self._measures.items() if f is not future}

    def _measured(self, got: Measurement) -> Measurement:
        if got.status == "ok":
            self.health.report(THERMOMETER, True)
        else:
            self.counters["thermometer_faults"] = self.counters.get("thermometer_faults", 0) + 1
            self.health.report(THERMOMETER, False, got.status.replace("_", " "))
        return got

    async def _command(self, name: str, msg_type: int,
                       fields: Callable[[int], tuple[int, ...]], ms: int | None) -> None:
        deadline = None if ms is None else time.monotonic() + ms / 1000
        active = _Active(msg_type, fields, deadline)
        self._active[name] = active
        await self._deliver(active)

    def _left_ms(self, active: _Active) -> int:
        if active.deadline is None:
            return 0
        return max(0, int((active.deadline - time.monotonic()) * 1000))

    async def _deliver(self, active: _Active) -> None:
        for attempt in range(self.attempts):
            if attempt:
                self.counters["retries"] += 1
            if not await event_set_within(self._ready, self.ack_timeout_s * self.attempts):
                break  # no board to talk to: fail now, the door must not wait on us
            left = self._left_ms(active)
            if active.deadline is not None and left == 0:
                return  # its time is over: nothing left to show
            seq, data = self.session.frame(active.msg_type, *active.fields(left))
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._waiting[seq] = future
            self._write(data)
            try:
                status = await within(future, self.ack_timeout_s)
            except TimeoutError:
                continue
            finally:
                self._waiting.pop(seq, None)
            if status == "ok":
                return
            if status == "no_session":
                self._ready.clear()
                self._hello()
                continue
            raise BoardError(f"board refused {link.NAMES[active.msg_type]}: {status}")
        self.health.report(PART, False, "commands unacknowledged")
        raise BoardError(f"board did not acknowledge {link.NAMES[active.msg_type]}")

    async def _resend_active(self) -> None:
        for name, active in list(self._active.items()):
            if active.deadline is not None and self._left_ms(active) < 50:
                continue
            self.counters["resent_after_restart"] += 1
            log.info("board restarted: re-sending %s", name)
            try:
                await self._deliver(active)
            except BoardError as err:
                log.warning("re-send after board restart failed: %s", err)

    # --- door counts ----------------------------------------------------------------------

    async def door_counts(self) -> AsyncIterator[DoorCount]:
        """Every person counted, once, in order; also those stored before a kiosk restart.

        An event is marked handed over when the consumer asks for the next one, so one
        being processed when the kiosk stops comes again after the restart (at least
        once: de-duplicate downstream on `DoorCount.key`).
        """
        while True:
            batch = self.store.not_handed_over()
            if not batch:
                self._new_event.clear()
                batch = self.store.not_handed_over()
                if not batch:
                    await self._new_event.wait()
                    continue
            for count in batch:
                yield count
                self.store.hand_over(count)

    # --- the wire -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            raise BoardError(f"board port {self.port} is not open")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as err:
            self._port_lost(err)
            raise BoardError(f"cannot write to {self.port}: {err}") from err

    def _hello(self) -> None:
        self._last_hello = time.monotonic()
        self._write(self.session.hello()[1])

    def _safe_hello(self) -> None:
        try:
            self._hello()
        except BoardError as err:
            log.warning("HELLO not sent: %s", err)

    def _send_ack(self, seq: int) -> None:
        self._write(self.session.ack(seq))

    def _readable(self) -> None:
        if self._serial is None:
            return
        try:
            data = self._serial.read(4096)
        except (serial.SerialException, OSError) as err:
            self._port_lost(err)
            return
        for frame in self.reader.feed(data):
            self._receive(frame)

    def _receive(self, frame: link.Frame) -> None:
        try:
            verdict = self.session.check(frame)
        except link.LinkError as err:
            log.debug("board frame rejected: %s", err.reason)
            if err.reason in ("stale", "no_session") and time.monotonic() - self._last_hello > 0.5:
                self._safe_hello()  # a board we have not met: introduce ourselves
            elif err.reason == "version":
                if frame.type == link.HELLO:
                    self._refused_version = frame.fields()[:2]
                self.health.report(PART, False, "protocol version mismatch")
            return
        self._heard()
        if frame.type == link.HELLO:
            if verdict == link.RESTART:
                self._board_restarted(frame)
            elif not self._ready.is_set():  # same board, after a reopened port or no_session
                self._ready.set()
                self.health.report(PART, True)
            return
        fields = frame.fields()
        if frame.type == link.ACK:
            future = self._waiting.get(fields[0])
            if future is not None and not future.done():
                future.set_result(link.ACK_STATUS[fields[1]] if fields[1] < len(link.ACK_STATUS)
                                  else "unknown")
        elif frame.type == link.BEAT:
            keys = ("mode", "failsafe", "tamper", "relay", "pending", "in", "out")
            self.beat = dict(zip(keys, fields, strict=True))
        elif frame.type == link.TEMPERATURE:
            request, status, body, _ambient = fields
            waiting = self._measures.get(request)
            if waiting is not None and not waiting.done():
                name = link.TEMP_STATUS[status] if status < len(link.TEMP_STATUS) else "unknown"
                waiting.set_result(Measurement(
                    link.centi_celsius(body) if name == "ok" else None, name))
        elif frame.type in EVENT_KINDS:
            self._event(frame, fields)

    def _board_restarted(self, frame: link.Frame) -> None:
        first = not self._met_board
        self._met_board = True
        major, minor, _role, cause = frame.fields()
        if not first:
            self.counters["board_restarts"] += 1
            log.warning("board restarted (boot %08x, %s)", frame.boot,
                        link.RESET_CAUSES[cause] if cause < len(link.RESET_CAUSES) else cause)
        # the board obeys nobody until it has our HELLO; sent before anything else
        self._hello()
        self._ready.set()
        self.health.report(PART, True)
        log.info("board link up: protocol %d.%d, boot %08x", major, minor, frame.boot)
        if not first:
            self._tasks.append(asyncio.create_task(self._resend_active(), name="board-resend"))

    def _event(self, frame: link.Frame, fields: tuple[Any, ...]) -> None:
        event_no, value, uptime = fields
        kind = EVENT_KINDS[frame.type]
        if frame.type == link.PASSED:
            text = link.DIRECTIONS[value] if value < len(link.DIRECTIONS) else str(value)
        elif frame.type == link.TAMPER:
            text = "open" if value else "closed"
        else:
            text = link.RESET_CAUSES[value] if value < len(link.RESET_CAUSES) else str(value)
        new = self.store.record(frame.boot, event_no, kind, text, uptime)  # before the ack
        self._send_ack(frame.seq)
        if not new:
            return
        if frame.type == link.PASSED:
            self._new_event.set()
        elif frame.type == link.TAMPER:
            self.tamper_open = bool(value)
            self.health.report("board_lid", not value, "enclosure open")

    def _heard(self) -> None:
        if time.monotonic() - self._last_heard > self.silence_s and self._ready.is_set():
            self.health.report(PART, True)
        self._last_heard = time.monotonic()

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self._serial is None:
                try:
                    self._open_port()
                except (serial.SerialException, OSError):
                    continue  # not back yet
                log.info("board port %s reopened", self.port)
                self._last_hello = 0.0  # say HELLO now
            try:
                if self._ready.is_set():
                    self._write(self.session.frame(link.HEARTBEAT)[1])
                elif time.monotonic() - self._last_hello > 1.0:
                    self._hello()
            except BoardError as err:
                log.warning("heartbeat not sent: %s", err)
            if self._last_heard and time.monotonic() - self._last_heard > self.silence_s:
                self.health.report(PART, False, "silent")
                if time.monotonic() - self._last_hello > 1.0:
                    self._safe_hello()  # perhaps it restarted and we missed its HELLO
