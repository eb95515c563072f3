"""The kiosk pipeline: reading → event → outbox → MQTT → verdict → signal.

One person at a time per door: each reading is committed to the outbox, published to the
gateway, and answered by the gateway's verdict or, if none comes in time, by the kiosk's
own "manual check". The outbox's fsync runs while the scan travels; the door shows the
verdict once both are done, so nobody passes on a scan that a power cut could lose. The
gateway session runs beside the pipeline, so an outage never blocks the door.

Every task of the kiosk (pipeline, gateway session, door counts, the signal's own work)
runs in one TaskGroup: a task that dies takes the kiosk down with its traceback, and the
process's entry point (firmware/kiosk/__main__.py) exits non-zero so systemd restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from typing import Protocol

import aiomqtt

from firmware import protocol
from firmware.kiosk.config import KioskConfig
from firmware.kiosk.decide import KioskDecisions
from firmware.kiosk.door_policy import DoorPolicy
from firmware.kiosk.event import EventFactory
from firmware.kiosk.gateway_session import GatewaySession
from firmware.kiosk.health import Health
from firmware.kiosk.keyed import KeyedEntries
from firmware.kiosk.outbox import Outbox, Pending
from firmware.kiosk.ports import DoorCounter, DoorSignal, Thermometer
from firmware.kiosk.reading import Reading, ReadingSource
from firmware.kiosk.signed_lists import KioskLists, load_root_keys
from firmware.kiosk.staff_desk import StaffCards, StaffDesk
from firmware.kiosk.verdict_wait import VerdictWaiters
from firmware.verdict import Verdict, manual_check, with_temperature

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where scan times come from: the system clock, or the gateway's (timesync)."""

    def now_ms(self) -> int: ...

    def report(self) -> dict[str, int | bool | None]: ...


class SystemClock:
    def now_ms(self) -> int:
        return protocol.now_ms()

    def report(self) -> dict[str, int | bool | None]:
        return {}


class Kiosk:
    def __init__(
        self,
        config: KioskConfig,
        source: ReadingSource,
        signal: DoorSignal,
        health: Health | None = None,
        clock: Clock | None = None,
        counter: DoorCounter | None = None,
        thermometer: Thermometer | None = None,
        keyed: KeyedEntries | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.signal = signal
        self.health = health or Health()
        self.counter = counter  # people through the door, when the kiosk has a board
        self.thermometer = thermometer  # the door's infrared thermometer, where one is fitted
        self.keyed = keyed  # visitors registered on the kiosk's screen: open while on duty
        self.threshold_dc = (round(config.thermometer.threshold_c * 10)
                             if config.thermometer else None)
        clock = clock or SystemClock()
        self.clock = clock
        self.events = EventFactory(config.kiosk, config.door, clock.now_ms)
        self.waiters = VerdictWaiters()
        self.lists = (
            KioskLists(config.data_dir / "lists", load_root_keys(config.trust.root_keys),
                       config.site)
            if config.trust else None
        )
        self.policy = DoorPolicy(config.data_dir / "policy.json")
        self.decisions = KioskDecisions(self.lists, config.gate_unchecked, self.policy)
        self.counts: Counter[str] = Counter()
        self.outbox = Outbox(config.data_dir / "outbox.sqlite")
        self.session = GatewaySession(
            config.site,
            config.kiosk,
            config.broker.address(),
            self.outbox,
            self.health,
            self.waiters.deliver,
            self.waiters.waiting,
            config.status_interval_s,
            config.resend_after_s,
            config.outbox_alarm,
            lists=self.lists,
            clock=clock,
            policy=self.policy,
            staff=self,
        )
        # staff cards and the gate opened by the person on duty (一码一守)
        self.staff = StaffDesk(config.kiosk, config.door,
                               StaffCards(config.data_dir / "staff-list.json"), signal,
                               self.session.publish, clock.now_ms, config.verdict_timeout_s)
        self._staff_work: set[asyncio.Task[object]] = set()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        await self.outbox.open()
        self.ready.set()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.session.run(), name="gateway-session")
                tasks.create_task(self._scan_loop(), name="scans")
                tasks.create_task(self._watch_outbox(), name="outbox-watch")
                tasks.create_task(self.signal.run(), name="signal")
                if self.counter is not None:
                    tasks.create_task(self._door_counts(), name="door-counts")
        finally:
            await self.outbox.close()

    async def _watch_outbox(self, every_s: float = 0.2) -> None:
        """The outbox file deleted or replaced under the kiosk (outbox.py): a disk fault at
        once, scans to the manual check (the outbox refuses them) until the outbox is
        rebuilt on disk, tried again every second while the storage refuses."""
        while True:
            fault = self.outbox.file_fault()
            if fault is None:
                await asyncio.sleep(every_s)
                continue
            log.error("outbox file lost (%s): scans get a manual check until it is rebuilt",
                      fault)
            self.health.report("disk", False, f"outbox file lost: {fault}")
            try:
                await self.outbox.rebuild()
            except (OSError, sqlite3.Error) as exc:
                log.error("outbox not rebuilt (%s); trying again", exc)
                await asyncio.sleep(1.0)
                continue
            log.warning("outbox rebuilt on disk; %d scans kept", (await self.outbox.backlog())[0])
            self.health.report("disk", True)

    async def _scan_loop(self) -> None:
        # New or wiped data numbers in a new epoch (outbox.py): nothing to wait for.
        if self.outbox.fresh:
            log.info("new outbox: numbering epoch %d from seq 1", self.outbox.epoch)
        async for reading in self.source:
            card = self.staff.cards.card_of(reading)
            if card is not None:
                result = await self.staff.tap(card)  # a staff member, not a visitor: no scan
                if self.keyed is not None:
                    self.keyed.duty_changed(card, result)
                continue
            await self.handle(reading)

    async def _temperature(self) -> int | None:
        """The visitor's temperature in tenths of a degree, or None: no thermometer at
        this door, or it failed (the fault is on the kiosk's health; the scan goes on)."""
        if self.thermometer is None:
            return None
        return (await self.thermometer.measure()).deci_c

    # --- from the gateway session (firmware/kiosk/gateway_session.py StaffHandlers) ----

    def staff_list(self, payload: bytes) -> None:
        self.staff.cards.offer(payload)

    def duty(self, msg: dict) -> None:
        self.staff.on_duty(msg)

    def gate(self, msg: dict) -> None:
        """Off the receive loop: opening the gate waits for the board."""
        task = asyncio.get_running_loop().create_task(self.staff.gate(msg))
        self._staff_work.add(task)
        task.add_done_callback(self._staff_work.discard)

    async def handle(self, reading: Reading) -> Verdict:
        temp_dc = await self._temperature()
        if reading.method == "signed_code":
            return await self._decide_here(reading, temp_dc)
        try:
            pending = await self._record(self.events.builder(reading, epoch=self.outbox.epoch,
                                                             temp_dc=temp_dc))
        except sqlite3.Error as exc:
            return await self._not_recorded(exc)
        self.waiters.expect(pending.id)
        durable = asyncio.ensure_future(self.outbox.durable())
        try:
            await self.session.sender.send_live(pending)
        except aiomqtt.MqttError:
            pass  # it stays in the outbox and goes out on the next connection
        verdict = await self.waiters.wait(pending.id, self.config.verdict_timeout_s)
        if verdict.source == "timeout":
            verdict = with_temperature(self.decisions.without_verdict(pending.id, reading),
                                       temp_dc, self.threshold_dc)
        if not await self._is_durable(durable):
            verdict = manual_check(pending.id)
        self.counts[verdict.colour] += 1
        log.info(
            "scan seq=%d id=%s method=%s -> %s/%s (%s)",
            pending.seq, pending.id, reading.method, verdict.colour, verdict.action,
            verdict.source,
        )
        await self.signal.show(verdict)
        return verdict

    async def _record(self, build) -> Pending:
        pending = await self.outbox.add(build)
        self.health.report("disk", True)
        return pending

    async def _is_durable(self, durable: asyncio.Future[None]) -> bool:
        """The scan reached the storage; if the storage refused, nobody passes on it."""
        try:
            await durable
            return True
        except OSError as exc:
            log.error("scan not made durable (%s); manual check", exc)
            self.health.report("disk", False, f"scans cannot be stored: {exc}")
            return False

    async def _not_recorded(self, exc: sqlite3.Error) -> Verdict:
        """The outbox cannot take the scan (a full or failing disk): nothing was recorded
        and nothing is sent, so nobody is let through on it — the person on duty checks
        and records by hand, and the console shows the fault until a scan is stored again.
        The next scan tries again; nothing already queued is touched."""
        log.error("scan not recorded, outbox refused it (%s); manual check", exc)
        self.health.report("disk", False, f"scans cannot be stored: {exc}")
        verdict = manual_check("")
        self.counts["not_recorded"] += 1
        await self.signal.show(verdict)
        return verdict

    async def _door_counts(self) -> None:
        """People counted through the door go to the gateway (coverage = scans ÷ people)."""
        assert self.counter is not None
        async for count in self.counter.door_counts():
            await self.session.publish_door(protocol.door(
                f"{self.config.kiosk}-{count.key}", self.config.kiosk, self.config.door,
                count.direction, count.ts, count.board_boot, count.board_seq,
            ))

    async def _decide_here(self, reading: Reading, temp_dc: int | None) -> Verdict:
        """A signed code: judged on the kiosk, queued with its decision, shown once on disk."""
        decided: list[Verdict] = []

        def judge(event_id: str) -> tuple[str, str, str, str]:
            verdict = with_temperature(self.decisions.signed_code(event_id, reading), temp_dc,
                                       self.threshold_dc)
            decided.append(verdict)
            return verdict.fields()

        try:
            pending = await self._record(self.events.builder(reading, judge, self.outbox.epoch,
                                                             temp_dc))
        except sqlite3.Error as exc:
            return await self._not_recorded(exc)
        sending = asyncio.ensure_future(self.session.sender.send_live(pending))
        verdict = decided[0]
        try:
            await self.outbox.durable()
        except OSError as exc:
            log.error("scan not made durable (%s); manual check", exc)
            self.health.report("disk", False, f"scans cannot be stored: {exc}")
            verdict = manual_check(pending.id)
        self.counts[verdict.colour] += 1
        log.info("scan seq=%d id=%s method=signed_code -> %s/%s (kiosk)",
                 pending.seq, pending.id, verdict.colour, verdict.action)
        await self.signal.show(verdict)
        try:
            await sending
        except aiomqtt.MqttError:
            pass  # it stays in the outbox and goes out on the next connection
        return verdict
