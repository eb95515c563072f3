"""The kiosk's MQTT session with its gateway: sends the outbox, receives verdicts and
acks, announces presence, takes the signed trust and red lists.

The connection itself (reconnects, backoff, TLS faults) is firmware/mqtt_client.Session,
the same as the gateway's. Each connection sends again whatever the gateway has not
acknowledged (it stores each event id once), so a scan published just before a drop is
never lost. Presence is a retained status message with a last will, so the console sees a
kiosk go offline within seconds of it vanishing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

import aiomqtt

from firmware import mqtt_client, protocol
from firmware.kiosk import SOFTWARE_VERSION
from firmware.kiosk.door_policy import DoorPolicy
from firmware.kiosk.health import Health
from firmware.kiosk.outbox import Outbox
from firmware.kiosk.sender import OutboxSender
from firmware.kiosk.signed_lists import KioskLists
from firmware.timeouts import event_set_within, within
from firmware.verdict import Verdict

log = logging.getLogger(__name__)


class ClockStatus(Protocol):
    def report(self) -> dict[str, int | bool | None]: ...


class StaffHandlers(Protocol):
    """Where the staff list, duty answers and gate commands go (firmware/kiosk/staff_desk)."""

    def staff_list(self, payload: bytes) -> None: ...

    def duty(self, msg: dict) -> None: ...

    def gate(self, msg: dict) -> None: ...


class GatewaySession:
    def __init__(
        self,
        site: str,
        kiosk: str,
        address: mqtt_client.BrokerAddress,
        outbox: Outbox,
        health: Health,
        on_verdict: Callable[[Verdict], object],  # what it returns is not used
        waiting: Callable[[], Iterable[str]],
        status_interval_s: float = 10.0,
        resend_after_s: float = 5.0,
        outbox_alarm: int = 200_000,
        lists: KioskLists | None = None,
        clock: ClockStatus | None = None,
        policy: DoorPolicy | None = None,
        staff: StaffHandlers | None = None,
    ) -> None:
        self.site = site
        self.kiosk = kiosk
        self.outbox = outbox
        self.health = health
        self.on_verdict = on_verdict
        self.status_interval_s = status_interval_s
        self.outbox_alarm = outbox_alarm
        self.lists = lists
        self.clock = clock
        self.policy = policy
        self.staff = staff
        self.sender = OutboxSender(outbox, waiting, resend_after_s=resend_after_s)
        self.rejected: Counter[str] = Counter()
        self._topic = {kind: protocol.topic(site, kiosk, kind) for kind in protocol.KINDS}
        self._acked: list[str] = []
        self.confirm_gather_s = 0.05
        self._acked_ready = asyncio.Event()
        self.mqtt = mqtt_client.Session(
            address, f"kiosk-{site}-{kiosk}", will=self._will(),
            on_fault=lambda detail: health.report("broker", False, detail),
        )

    @property
    def connected(self) -> asyncio.Event:
        return self.mqtt.connected

    def _will(self) -> aiomqtt.Will:
        payload = protocol.encode(protocol.STATUS, protocol.status(self.kiosk, "offline"))
        return aiomqtt.Will(self._topic[protocol.STATUS], payload, qos=1, retain=True)

    async def run(self) -> None:
        await self.mqtt.run(self._serve)

    async def _serve(self, client: aiomqtt.Client) -> None:
        try:
            await self._session(client)
        except asyncio.CancelledError:
            await self._goodbye(client)
            raise

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self._topic[protocol.VERDICT], qos=1)
        await client.subscribe(self._topic[protocol.ACK], qos=1)
        if self.policy is not None:
            await client.subscribe(self._topic[protocol.POLICY], qos=1)  # retained
        for topic in self.lists.topics() if self.lists else ():
            await client.subscribe(topic, qos=1)  # retained, signed trust and red lists
        if self.staff is not None:
            await client.subscribe(self._topic[protocol.DUTY], qos=1)
            await client.subscribe(self._topic[protocol.GATE], qos=1)
            await client.subscribe(protocol.staff_list_topic(self.site), qos=1)  # retained
        self.health.report("broker", True)
        await self.publish_status(client)
        self.mqtt.connected.set()
        log.info("connected to the gateway's broker")
        scan_topic, backlog_topic = self._topic[protocol.SCAN], self._topic[protocol.BACKLOG]

        async def publish_scan(payload: bytes) -> None:
            await client.publish(scan_topic, payload, qos=1)

        async def publish_backlog(payload: bytes) -> None:
            await client.publish(backlog_topic, payload, qos=1)

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.sender.run(publish_scan, publish_backlog))
            tasks.create_task(self._report_status(client))
            tasks.create_task(self._receive(client))
            tasks.create_task(self._confirm_acked())

    async def status_fields(self) -> dict:
        backlog, oldest = await self.outbox.backlog()
        self.health.report(
            "outbox", backlog < self.outbox_alarm,
            f"{backlog} scans waiting, near the bound" if backlog >= self.outbox_alarm else "",
        )
        fields = {
            "sw": SOFTWARE_VERSION,
            "outbox": backlog,
            "oldest_ms": oldest,
            "first_seq": await self.outbox.first_unconfirmed(),
            "last_seq": await self.outbox.last_seq(),
            "epoch": self.outbox.epoch or None,  # 0: sent as before epochs, without it
            "health": self.health.snapshot(),
            "lists": self.lists.status(time.time()) if self.lists else None,
            "policy": (dict(self.policy.current.to_dict(), received_ms=self.policy.received_ms)
                       if self.policy is not None else None),
        }
        if self.clock is not None:
            fields.update(self.clock.report())
        return fields

    async def publish_status(self, client: aiomqtt.Client, state: str = "online") -> None:
        msg = protocol.status(
            self.kiosk, state, ts=protocol.now_ms(), **await self.status_fields()
        )
        await client.publish(
            self._topic[protocol.STATUS], protocol.encode(protocol.STATUS, msg), qos=1, retain=True
        )

    async def _report_status(self, client: aiomqtt.Client) -> None:
        while True:
            self.health.changed.clear()
            await event_set_within(self.health.changed, self.status_interval_s)
            await self.publish_status(client)

    async def _receive(self, client: aiomqtt.Client) -> None:
        list_topics = self.lists.topics() if self.lists else ()
        async for message in mqtt_client.messages(client):
            topic, payload = str(message.topic), message.payload
            if not isinstance(payload, bytes | bytearray):
                payload = str(payload).encode()
            if self.staff is not None and topic == protocol.staff_list_topic(self.site):
                self.staff.staff_list(bytes(payload))
                continue
            if self.lists and topic in list_topics:
                offer = self.lists.handle(topic, bytes(payload))
                log.info("signed list on %s: %s", topic, offer.reason if offer else "not ours")
                self.health.changed.set()  # the console shows the list's version and age
                continue
            try:
                _site, _kiosk, kind, msg = protocol.decode(topic, bytes(payload))
            except protocol.ProtocolError as exc:
                self.rejected[exc.reason] += 1
                log.warning("rejected message on %s: %s", topic, exc.reason)
                continue
            if kind == protocol.VERDICT:
                self.on_verdict(Verdict.from_message(msg))
            elif kind == protocol.ACK:
                await self._on_ack(msg)
            elif kind == protocol.POLICY and self.policy is not None:
                self._on_policy(msg)
            elif kind == protocol.DUTY and self.staff is not None:
                self.staff.duty(msg)
            elif kind == protocol.GATE and self.staff is not None:
                self.staff.gate(msg)

    async def _confirm_acked(self) -> None:
        """Drop acknowledged scans from the outbox, all that arrived since the last commit
        in one transaction, off the receive path: a verdict never waits behind acks.
        Acks gather for `confirm_gather_s` first, so one fsync covers many drained scans
        and the live scan's own insert seldom queues behind a confirmation. The sender hears
        of each ack at once (its window moves on); a scan acknowledged but not yet confirmed
        when the kiosk crashes is only sent again, harmlessly."""
        while True:
            await self._acked_ready.wait()
            await asyncio.sleep(self.confirm_gather_s)
            self._acked_ready.clear()
            ids, self._acked = self._acked, []
            try:
                await self.outbox.confirm(ids)
            except sqlite3.OperationalError as exc:
                # A disk that refuses writes: the rows stay (a restart would only send
                # them again, harmlessly); try again shortly, the door keeps working.
                log.error("acknowledged scans not removed from the outbox (%s)", exc)
                self.health.report("disk", False, f"outbox cannot be written: {exc}")
                self._acked[:0] = ids
                await asyncio.sleep(1.0)
                self._acked_ready.set()

    def _on_policy(self, msg: dict) -> None:
        try:
            if self.policy.take(msg):  # type: ignore[union-attr]  # only subscribed with one
                self.health.changed.set()  # the console shows the policy a kiosk follows
        except OSError as exc:
            # kept in memory for now; the retained message comes again on reconnect
            log.error("door policy not saved (%s)", exc)
            self.health.report("disk", False, f"door policy cannot be saved: {exc}")

    async def _on_ack(self, msg: dict) -> None:
        if msg["ids"]:
            self.sender.acknowledged(msg["ids"])  # stored at the gateway: never sent again
            self._acked.extend(msg["ids"])
            self._acked_ready.set()
        # the gateway holding numbers of this epoch above ours: the file went back
        same_epoch = protocol.epoch_of(msg) == self.outbox.epoch
        if "high_seq" in msg and same_epoch and await self.outbox.raise_seq(msg["high_seq"]):
            log.warning("sequence continued from the gateway's %d (local data was lost)",
                        msg["high_seq"])

    async def publish_door(self, msg: dict) -> None:
        """A door count, QoS 1, once connected; the gateway de-duplicates on its id."""
        await self.publish(protocol.DOOR, msg)

    async def publish(self, kind: str, msg: dict) -> None:
        """One message of `kind` on this kiosk's topic, QoS 1, waiting for a connection
        (callers that cannot wait bound it themselves)."""
        payload = protocol.encode(kind, msg)
        while True:
            await self.mqtt.connected.wait()
            client = self.mqtt.client
            if client is None:
                await asyncio.sleep(0.1)
                continue
            try:
                await client.publish(self._topic[kind], payload, qos=1)
                return
            except aiomqtt.MqttError:
                await asyncio.sleep(0.5)

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean stop, say offline ourselves: the broker sends no will then."""
        try:
            await within(self.publish_status(client, "offline"), 2)
        except (aiomqtt.MqttError, TimeoutError):
            pass
