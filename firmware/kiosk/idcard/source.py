"""The ID-card reader as a kiosk input: a card laid on the reader becomes one Reading.

A card left lying on the reader must not be read again and again (the door would open
for the same person every second), yet the next person's card must be read at once. So
the source remembers that a card is present after reading it and only reads again once
the reader has reported "no card" for `absent_polls` polls in a row — whether the module
keeps answering "found" for a card that stays (some do) or answers "found" only once.

The serial work is blocking, so it runs in one thread per source; Readings and health
reports cross into the event loop with call_soon_threadsafe. The reader is reopened by
its path after an unplug, and `health.report("reader", ...)` follows every change.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from firmware.kiosk.health import Health
from firmware.kiosk.idcard.driver import SamReader, Timeouts
from firmware.kiosk.idcard.errors import (
    FrameError,
    ReaderDisconnected,
    ReaderTimeout,
    RecordError,
)
from firmware.kiosk.idcard.status import Outcome, StatusError
from firmware.kiosk.reading import Reading

log = logging.getLogger("firmware.kiosk.idcard.source")

PART = "reader"


@dataclass(frozen=True, slots=True)
class SourceSettings:
    baudrate: int = 115200
    poll_interval: float = 0.005  # idle gap between find polls; the find itself takes ~2 ms
    absent_polls: int = 2  # "no card" answers in a row before a card counts as removed
    max_attempts: int = 3  # failed reads of one placement before giving up on it
    reopen_interval: float = 0.5  # how often to look for an unplugged reader
    repeat_quiet: float = 2.0  # the same card again within this many seconds is ignored
    errors_before_fault: int = 3  # failed polls in a row before the reader is reported faulty
    timeouts: Timeouts = field(default_factory=Timeouts)


class IdCardSource:
    """`async for reading in IdCardSource(port, health): ...`"""

    def __init__(
        self,
        port: str,
        health: Health | None = None,
        settings: SourceSettings | None = None,
        on_read_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.port = port
        self.health = health
        self.settings = settings = settings or SourceSettings()
        self.on_read_failed = on_read_failed  # e.g. show PROMPT_TEXT["read_failed"]
        self.reader = SamReader(port, settings.baudrate, settings.timeouts)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Reading] | None = None
        self._health_state: tuple[bool, str] | None = None
        self.reads = 0  # cards read and queued
        self.card_present = False  # a card lies on the reader and has been dealt with

    def __aiter__(self) -> AsyncIterator[Reading]:
        return self._readings()

    async def _readings(self) -> AsyncIterator[Reading]:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stop.clear()
        self._thread = threading.Thread(target=self._guarded, name="idcard-source", daemon=True)
        self._thread.start()
        try:
            while True:
                yield await self._queue.get()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 10)

    # ---- into the event loop ------------------------------------------------------------
    def _call(self, fn: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # loop closing
                pass

    def _report(self, ok: bool, detail: str = "") -> None:
        if self._health_state == (ok, detail):
            return
        self._health_state = (ok, detail)
        if ok:
            log.info("reader %s ok", self.port)
        else:
            log.warning("reader %s fault: %s", self.port, detail)
        if self.health is not None:
            self._call(self.health.report, PART, ok, detail)

    def _failed(self, reason: str) -> None:
        log.info("card read failed: %s", reason)
        if self.on_read_failed is not None:
            self._call(self.on_read_failed, reason)

    # ---- the poll loop (its own thread) ---------------------------------------------------
    def _open(self) -> bool:
        try:
            self.reader.open()
            self.reader.sam_status()
        except ReaderDisconnected:
            self._report(False, "reader unplugged / 读卡器未连接")
        except StatusError as exc:
            self.reader.close()
            self._report(False, f"SAM {exc.status.name} / {exc.status.zh}")
        except (ReaderTimeout, FrameError) as exc:
            self.reader.close()
            self._report(False, f"reader not answering / 读卡器无响应 ({type(exc).__name__})")
        else:
            self._report(True)
            return True
        return False

    def _guarded(self) -> None:
        """A bug in the loop must not silently end the kiosk's card input: log, report, restart."""
        while not self._stop.is_set():
            try:
                self._run()
            except Exception as exc:  # the loop must survive its own bugs
                log.exception("reader loop failed (%s); restarting", type(exc).__name__)
                self._report(False, f"reader loop error / 读卡程序错误 ({type(exc).__name__})")
                self._stop.wait(1.0)

    def _run(self) -> None:
        s = self.settings
        present = False  # a card was read (or given up on) and has not left yet
        absent = errors = attempts = 0
        pending_failure = ""
        last_credential, last_time = "", 0.0
        lying = ""  # credential of a card that lay on the reader when the line went down
        try:
            while not self._stop.is_set():
                self.card_present = present
                if not self.reader.is_open:
                    if present:  # after a reconnect, check the card instead of trusting it
                        present, lying = False, last_credential
                    if not self._open():
                        self._stop.wait(s.reopen_interval)
                        continue
                try:
                    found = self.reader.find_card()
                    errors = 0
                except ReaderDisconnected:
                    self._report(False, "reader unplugged / 读卡器未连接")
                    continue
                except (ReaderTimeout, FrameError, StatusError) as exc:
                    errors += 1
                    sam_fault = isinstance(exc, StatusError) and exc.outcome is Outcome.SAM_FAULT
                    log.debug("find failed: %s", type(exc).__name__)
                    if sam_fault or errors >= s.errors_before_fault:
                        self.reader.close()
                        self._report(False, f"reader not answering / 读卡器无响应 ({exc})"[:120])
                        self._stop.wait(s.reopen_interval)
                    continue
                if not found:
                    absent += 1
                    if absent >= s.absent_polls:
                        if pending_failure:
                            self._failed(pending_failure)  # pulled away before a good read
                        present, attempts, pending_failure, lying = False, 0, "", ""
                    self._stop.wait(s.poll_interval)
                    continue
                absent = 0
                if present:
                    self._stop.wait(s.poll_interval)
                    continue
                outcome = self._read_once()
                if isinstance(outcome, Reading):
                    present, attempts, pending_failure = True, 0, ""
                    self.card_present = True  # before anyone hears of the reading
                    if lying and outcome.credential == lying:
                        lying = ""
                        log.info("the card left on the reader during the outage: not a new visit")
                        continue
                    lying = ""
                    now = time.monotonic()
                    if outcome.credential == last_credential and now - last_time < s.repeat_quiet:
                        log.info("same card again within %.1f s: ignored", s.repeat_quiet)
                        continue
                    last_credential, last_time = outcome.credential, now
                    self.reads += 1
                    assert self._queue is not None
                    self._call(self._queue.put_nowait, outcome)
                    continue
                if outcome in ("gone", "disconnected"):
                    continue  # nothing to retry: the card left, or the reader will be reopened
                attempts += 1
                pending_failure = outcome
                if attempts >= s.max_attempts:
                    self._failed(outcome)
                    present, pending_failure = True, ""  # wait until this card is taken away
        finally:
            self.reader.close()

    def _read_once(self) -> Reading | str:
        """One select + read of the card just found: a Reading, 'gone', or why it failed."""
        try:
            self.reader.select_card()
            card = self.reader.read_base().record()
        except ReaderDisconnected:
            self._report(False, "reader unplugged / 读卡器未连接")
            return "disconnected"
        except StatusError as exc:
            if exc.outcome is Outcome.NO_CARD:
                return "gone"
            if exc.outcome is Outcome.SAM_FAULT:
                self.reader.close()
                self._report(False, f"SAM {exc.status.name} / {exc.status.zh}")
            log.info("card read: %s", exc)
            return exc.outcome.value
        except (ReaderTimeout, FrameError) as exc:
            log.info("card read: line error %s", type(exc).__name__)
            return "line_error"
        except RecordError as exc:
            log.warning("card read: invalid card record: %s", exc)
            return "invalid_record"
        log.info("card read: %s", card.kind)
        return Reading(
            method="id_card",
            credential=card.credential,
            medium="card",
            name=card.display_name or None,
        )
