"""The kiosk pipeline: reading → event → outbox → MQTT → verdict → signal.

One person at a time per door: each reading is committed to the outbox, published by
the link, and answered by the gateway's verdict or, if none comes in time, by the
kiosk's own "manual check". The link runs beside it, so an outage never blocks the door.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter

import aiomqtt

from firmware import mqtt_client, protocol
from firmware.kiosk.config import KioskConfig
from firmware.kiosk.decide import KioskDecisions
from firmware.kiosk.event import EventFactory
from firmware.kiosk.health import Health
from firmware.kiosk.link import KioskLink
from firmware.kiosk.outbox import Outbox, Pending
from firmware.kiosk.reading import Reading, ReadingSource
from firmware.kiosk.ports import DoorSignal
from firmware.verdict import Verdict, manual_check
from firmware.kiosk.signed_lists import KioskLists, load_root_keys
from firmware.kiosk.verdict_wait import VerdictWaiters
from firmware.timeouts import event_set_within

log = logging.getLogger(__name__)


def broker_address(config: KioskConfig) -> mqtt_client.BrokerAddress:
    b = config.broker
    return mqtt_client.BrokerAddress(
        b.host, b.port, b.username, b.password, b.keepalive, b.ca_file, b.cert_file, b.key_file
    )


class Kiosk:
    def __init__(
        self,
        config: KioskConfig,
        source: ReadingSource,
        signal: DoorSignal,
        health: Health | None = None,
        clock=protocol.now_ms,
        board=None,
    ) -> None:
        self.config = config
        self.source = source
        self.signal = signal
        self.health = health or Health()
        self.events = EventFactory(config.kiosk, config.door, clock)
        self.waiters = VerdictWaiters()
        self.lists = (
            KioskLists(config.data_dir / "lists", load_root_keys(config.trust.root_keys), config.site)
            if config.trust else None
        )
        self.decisions = KioskDecisions(self.lists, config.gate_unchecked)
        self.counts: Counter[str] = Counter()
        self.outbox: Outbox | None = None
        self.link: KioskLink | None = None
        self.ready = asyncio.Event()
        self.board = board  # counts people through the door, when the kiosk has a board

    async def run(self) -> None:
        self.outbox = await Outbox.open(self.config.data_dir / "outbox.sqlite")
        self.link = KioskLink(
            self.config.site,
            self.config.kiosk,
            broker_address(self.config),
            self.outbox,
            self.health,
            self.waiters.deliver,
            self.waiters.waiting,
            self.config.status_interval_s,
            self.config.resend_after_s,
            self.config.outbox_alarm,
            lists=self.lists,
        )
        self.ready.set()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.link.run())
                tasks.create_task(self._scan_loop())
                if self.board is not None:
                    tasks.create_task(self._door_counts())
        finally:
            await self.outbox.close()

    async def _scan_loop(self) -> None:
        # New or wiped data: learn the last sequence number the gateway holds before
        # numbering scans, so none is reused. The door works on regardless.
        if self.outbox.fresh and not await event_set_within(self.link.seq_synced,
                                                            self.config.seq_sync_s):
            log.warning("gateway did not confirm the sequence; numbering from %d",
                        await self.outbox.last_seq() + 1)
        async for reading in self.source:
            await self.handle(reading)

    async def handle(self, reading: Reading) -> Verdict:
        assert self.outbox is not None
        if reading.method == "signed_code":
            return await self._decide_here(reading)
        try:
            pending = await self._record(self.events.builder(reading))
        except sqlite3.Error as exc:
            return await self._not_recorded(exc)
        self.waiters.expect(pending.id)
        try:
            await self.link.sender.send_live(pending)
        except aiomqtt.MqttError:
            pass  # it stays in the outbox and goes out on the next connection
        verdict = await self.waiters.wait(pending.id, self.config.verdict_timeout_s)
        if verdict.source == "timeout":
            verdict = self.decisions.without_verdict(pending.id, reading)
        self.counts[verdict.colour] += 1
        log.info(
            "scan seq=%d id=%s method=%s -> %s/%s (%s)",
            pending.seq, pending.id, reading.method, verdict.colour, verdict.action, verdict.source,
        )
        await self.signal.show(verdict)
        return verdict

    async def _record(self, build) -> Pending:
        pending = await self.outbox.add(build)
        self.health.report("disk", True)
        return pending

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
        async for count in self.board.door_counts():
            await self.link.publish_door(protocol.door(
                f"{self.config.kiosk}-{count.key}", self.config.kiosk, self.config.door,
                count.direction, count.ts, count.board_boot, count.board_seq,
            ))

    async def _decide_here(self, reading: Reading) -> Verdict:
        """A signed code: judged on the kiosk, shown at once, queued with its decision."""
        decided: list[Verdict] = []

        def judge(event_id: str) -> tuple[str, str, str, str]:
            verdict = self.decisions.signed_code(event_id, reading)
            decided.append(verdict)
            return verdict.fields()

        try:
            pending = await self._record(self.events.builder(reading, judge))
        except sqlite3.Error as exc:
            return await self._not_recorded(exc)
        verdict = decided[0]
        self.counts[verdict.colour] += 1
        log.info("scan seq=%d id=%s method=signed_code -> %s/%s (kiosk)",
                 pending.seq, pending.id, verdict.colour, verdict.action)
        await self.signal.show(verdict)
        try:
            await self.link.sender.send_live(pending)
        except aiomqtt.MqttError:
            pass
        return verdict
