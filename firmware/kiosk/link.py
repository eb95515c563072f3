"""The kiosk's MQTT session: sends the outbox, receives verdicts, announces presence.

Reconnects forever with capped, jittered backoff. Each connection starts by resending
every scan still in the outbox (the gateway stores each event id once), so a scan
published just before a drop is never lost. Presence is a retained status message with
a last will, so the console sees a kiosk go offline within seconds of it vanishing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from collections import Counter

import aiomqtt

from firmware import mqtt_client, protocol
from firmware.kiosk import SOFTWARE_VERSION
from firmware.kiosk.health import Health
from firmware.kiosk.outbox import Outbox
from firmware.kiosk.signal import Verdict

log = logging.getLogger(__name__)


def mark_replay(payload: bytes) -> bytes:
    """Nobody waits for this scan's verdict any more: the gateway need only store it."""
    msg = json.loads(payload)
    msg["replay"] = True
    return json.dumps(msg).encode()


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


class KioskLink:
    def __init__(
        self,
        site: str,
        kiosk: str,
        address: mqtt_client.BrokerAddress,
        outbox: Outbox,
        health: Health,
        on_verdict: Callable[[Verdict], None],
        is_waiting: Callable[[str], bool],
        status_interval_s: float = 10.0,
        resend_after_s: float = 5.0,
    ) -> None:
        self.site = site
        self.kiosk = kiosk
        self.address = address
        self.outbox = outbox
        self.health = health
        self.on_verdict = on_verdict
        self.is_waiting = is_waiting
        self.status_interval_s = status_interval_s
        self.resend_after_s = resend_after_s
        self.connected = asyncio.Event()
        self.rejected: Counter[str] = Counter()
        self._topic = {kind: protocol.topic(site, kiosk, kind) for kind in protocol.KINDS}
        self._client: aiomqtt.Client | None = None

    def _will(self) -> aiomqtt.Will:
        payload = protocol.encode(protocol.STATUS, protocol.status(self.kiosk, "offline"))
        return aiomqtt.Will(self._topic[protocol.STATUS], payload, qos=1, retain=True)

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with mqtt_client.client(
                    self.address, f"kiosk-{self.site}-{self.kiosk}", will=self._will()
                ) as client:
                    self._client = client
                    backoff = 0.2
                    try:
                        await self._session(client)
                    except asyncio.CancelledError:
                        await self._goodbye(client)
                        raise
            except aiomqtt.MqttError as exc:
                log.warning("broker connection lost or refused: %s", exc)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 5.0)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self._topic[protocol.VERDICT], qos=1)
        await client.subscribe(self._topic[protocol.ACK], qos=1)
        await self.publish_status(client)
        self.connected.set()
        log.info("connected to broker %s:%s", self.address.host, self.address.port)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send_outbox(client))
                tasks.create_task(self._report_status(client))
                tasks.create_task(self._receive(client))
        except BaseExceptionGroup as group:
            # A lost connection fails all three tasks; reconnect on the first MqttError.
            lost, other = group.split(aiomqtt.MqttError)
            if lost is None or other is not None:
                raise
            raise _first_leaf(lost) from None

    async def publish_status(self, client: aiomqtt.Client, state: str = "online") -> None:
        backlog, _oldest = await self.outbox.backlog()
        msg = protocol.status(
            self.kiosk,
            state,
            ts=protocol.now_ms(),
            sw=SOFTWARE_VERSION,
            outbox=backlog,
            health=self.health.snapshot(),
        )
        await client.publish(
            self._topic[protocol.STATUS], protocol.encode(protocol.STATUS, msg), qos=1, retain=True
        )

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        """Publish outbox scans in sequence order. Everything unconfirmed is sent again on
        each new connection, and again after `resend_after_s` without confirmation (the
        gateway may have been down when the broker had no session to queue it in)."""
        sent_upto = 0
        topic = self._topic[protocol.SCAN]
        while True:
            self.outbox.added.clear()
            batch = await self.outbox.after(sent_upto)
            for pending in batch:
                payload = pending.payload
                if not self.is_waiting(pending.id):
                    payload = mark_replay(payload)
                await client.publish(topic, payload, qos=1)
                sent_upto = pending.seq
            if not batch:
                try:
                    await asyncio.wait_for(self.outbox.added.wait(), self.resend_after_s)
                except TimeoutError:
                    sent_upto = 0

    async def _report_status(self, client: aiomqtt.Client) -> None:
        while True:
            self.health.changed.clear()
            try:
                await asyncio.wait_for(self.health.changed.wait(), self.status_interval_s)
            except TimeoutError:
                pass
            await self.publish_status(client)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                _site, _kiosk, kind, msg = protocol.decode(str(message.topic), message.payload)
            except protocol.ProtocolError as exc:
                self.rejected[exc.reason] += 1
                log.warning("rejected message on %s: %s", message.topic, exc.reason)
                continue
            if kind == protocol.VERDICT:
                self.on_verdict(Verdict.from_message(msg))
            elif kind == protocol.ACK:
                await self.outbox.confirm(msg["ids"])

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean stop, say offline ourselves: the broker sends no will then."""
        try:
            await asyncio.wait_for(self.publish_status(client, "offline"), 2)
        except (aiomqtt.MqttError, TimeoutError):
            pass
