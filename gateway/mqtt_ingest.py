"""The gateway's inbound MQTT: every kiosk's scans, status and door counts, checked and
handed on.

Runs on the gateway's broker session (firmware/mqtt_client.Session: reconnects on its
own). Every message is checked by firmware/protocol.py before anything acts on it; a
message that fails (malformed JSON, unknown protocol version, wrong types, a kiosk
speaking on another kiosk's topic) is dropped with a logged reason and counted per
reason, and the gateway carries on. The payload itself is never logged: it may hold
personal data.

Live scans each get their own task at once, so a person at the door never waits behind
anything. Kiosks send their backlog on the `backlog` topic, which the gateway reads on a
second broker connection: the broker queues each connection's messages apart, so a live
scan never waits at the broker behind a kiosk's day of old scans, or a flood of made-up
ones. Backlog scans (and scans marked `"replay"` on the `scan` topic, from kiosks without
the backlog topic) go to per-kiosk queues with per-kiosk budgets (gateway/fair_ingest.py)
that one worker empties in turns, a small batch per kiosk: the message loops never wait,
and a backlog scan over its kiosk's budget is dropped before its JSON is even read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiomqtt

from firmware import mqtt_client, protocol
from gateway.checkin import CheckIn
from gateway.fair_ingest import FairIngest
from gateway.kiosk_reports import KioskReports
from gateway.replies import KioskReplies
from gateway.settling import Settling
from gateway.store import is_storage_fault

log = logging.getLogger(__name__)

SUBSCRIBED = (protocol.SCAN, protocol.STATUS, protocol.DOOR, protocol.STAFF,
              protocol.GATE_DONE)


class StaffDesk(Protocol):
    """Where staff cards and gate answers go (gateway/duty_desk.py)."""

    async def on_staff(self, msg: dict) -> None: ...

    async def on_gate_done(self, msg: dict) -> None: ...


def _as_bytes(payload: object) -> bytes:
    """aiomqtt types a payload loosely; from the broker it is bytes."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


class MqttIngest:
    def __init__(
        self,
        site: str,
        session: mqtt_client.Session,
        checkin: CheckIn,
        reports: KioskReports,
        replies: KioskReplies,
        faults: Counter[str] | None = None,
        fair: FairIngest | None = None,
        settling: Settling | None = None,
        staff: StaffDesk | None = None,
        backlog: mqtt_client.Session | None = None,
    ) -> None:
        self.site = site
        self.session = session
        self.backlog = backlog  # the connection for the backlog topic (None: no backlog)
        self.checkin = checkin
        self.reports = reports
        self.replies = replies
        self.faults = faults if faults is not None else Counter()  # the session's, by reason
        self.rejected: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.fair = fair or FairIngest()
        self.settling = settling or Settling()  # scans received, not yet done with
        self.staff = staff
        self._handling: set[asyncio.Task[None]] = set()

    def connected(self) -> bool:
        """Both connections up: the door's, and the backlog's where there is one."""
        return self.session.connected.is_set() and (
            self.backlog is None or self.backlog.connected.is_set())

    async def run(self) -> None:
        if self.backlog is None:
            await self.session.run(self._serve)
            return
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.session.run(self._serve), name="mqtt-door")
            tasks.create_task(self.backlog.run(self._serve_backlog), name="mqtt-backlog")

    async def _serve(self, client: aiomqtt.Client) -> None:
        for kind in SUBSCRIBED:
            await client.subscribe(protocol.site_filter(self.site, kind), qos=1)
        await self.replies.connected(client)
        self.session.connected.set()
        log.info("connected to broker %s:%s", self.session.address.host,
                 self.session.address.port)
        async for message in mqtt_client.messages(client):
            await self._dispatch(str(message.topic), message.payload)

    async def _serve_backlog(self, client: aiomqtt.Client) -> None:
        assert self.backlog is not None
        await client.subscribe(protocol.site_filter(self.site, protocol.BACKLOG), qos=1)
        self.backlog.connected.set()
        # a turn for the live connection's work after every few backlog scans
        async for message in mqtt_client.messages(client, turn_every=4):
            await self.fair.live_done()
            self._take_backlog(str(message.topic), message.payload)

    def _take_backlog(self, topic: str, payload: object) -> None:
        """One backlog scan into its kiosk's queue; over the kiosk's budget it is dropped
        unread and unacknowledged (the kiosk sends it again)."""
        try:
            site, kiosk, kind = protocol.parse_topic(topic)
            if kind != protocol.BACKLOG or site != self.site:
                raise protocol.ProtocolError("unexpected_kind", kind)
        except protocol.ProtocolError as exc:
            self._reject(topic, exc)
            return
        if not self.fair.take(kiosk):
            self.rejected["replay_over_budget"] += 1
            return
        try:
            _site, _kiosk, kind, msg = protocol.decode(topic, _as_bytes(payload))
        except protocol.ProtocolError as exc:
            self._reject(topic, exc)
            return
        msg["replay"] = True
        self.received[kind] += 1
        self.settling.received(msg)
        self.fair.push(kiosk, msg)

    def _reject(self, topic: str, exc: protocol.ProtocolError) -> None:
        """A message that failed its checks: counted by reason, logged without payload."""
        self.rejected[exc.reason] += 1
        log.warning("rejected message on %s: %s", topic[:120], exc)

    async def _dispatch(self, topic: str, payload: object) -> None:
        try:
            site, _kiosk, kind, msg = protocol.decode(topic, _as_bytes(payload))
            if site != self.site:
                raise protocol.ProtocolError("wrong_site", site)
        except protocol.ProtocolError as exc:
            self._reject(topic, exc)
            return
        self.received[kind] += 1
        if kind == protocol.SCAN:
            self.settling.received(msg)
            if msg.get("replay") or not self.fair.start_live(msg["kiosk"]):
                # a backlog, or more unanswered scans than one door has visitors: its
                # kiosk's queue, or dropped unacknowledged if over budget (it resends)
                if not self.fair.offer(msg["kiosk"], msg):
                    self.rejected["replay_over_budget"] += 1
                    self.settling.settled(msg)  # not held here: nothing to wait for
                return
            self._handle(self._live, msg)
        elif kind == protocol.STATUS:
            self._handle(self.reports.status, msg)
        elif kind == protocol.DOOR:
            self._handle(self.reports.door, msg)
        elif kind == protocol.STAFF and self.staff is not None:
            self._handle(self.staff.on_staff, msg)  # a staff card: never a visit
        elif kind == protocol.GATE_DONE and self.staff is not None:
            self._handle(self.staff.on_gate_done, msg)
        else:  # a verdict or an ack on a kiosk topic never comes from a kiosk
            self.rejected["unexpected_kind"] += 1

    async def _live(self, msg: dict) -> None:
        stored = False
        try:
            await self.checkin.handle(msg)
            stored = True
        finally:
            self.fair.end_live(msg["kiosk"])
            self.settling.settled(msg, stored)

    def _handle(self, handler: Callable[[dict], Awaitable[None]], msg: dict) -> None:
        task = asyncio.create_task(self._guarded(handler, msg))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _guarded(self, handler: Callable[[dict], Awaitable[None]], msg: dict) -> None:
        """One message's failure (the broker gone mid-verdict, the store refusing) is
        logged and counted; the kiosk resends what was not acknowledged."""
        try:
            await handler(msg)
        except Exception as exc:
            if is_storage_fault(exc):  # shown as the store's alarm; no traceback per scan
                self.rejected["storage_fault"] += 1
                log.warning("message %s not stored: %s", msg.get("id"), exc)
                return
            self.rejected["handler_error"] += 1
            log.exception("message %s could not be handled", msg.get("id"))

    async def replay_worker(self, in_flight: int = 8) -> None:
        """Replays in batches of a few per kiosk, kiosks taking turns. Up to `in_flight`
        batches wait for the store's writer at once (it commits them together), so the
        drain is not one commit round per small batch."""
        room = asyncio.Semaphore(in_flight)
        rounds = 0
        while True:
            await self.fair.live_done()
            batch = await self.fair.next_batch()
            await room.acquire()
            task = asyncio.create_task(self._replay_batch(batch))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)
            task.add_done_callback(lambda _task: room.release())
            rounds += 1
            if rounds % 1000 == 0:
                self.fair.forget_idle()
            await asyncio.sleep(0)  # live scans' tasks run between batches

    async def _replay_batch(self, batch: list[dict]) -> None:
        stored = False
        try:
            await self.checkin.handle_replays(batch)
            stored = True
        except Exception as exc:
            if is_storage_fault(exc):
                self.rejected["storage_fault"] += len(batch)
                log.warning("%d replayed scans not stored: %s; kiosks resend", len(batch), exc)
            else:
                self.rejected["handler_error"] += len(batch)
                log.exception("%d replayed scans could not be handled; kiosks resend",
                              len(batch))
        finally:
            for msg in batch:
                self.settling.settled(msg, stored)
