"""The gateway's MQTT session: reads every kiosk's scans and status, sends verdicts.

Every message is checked by firmware/protocol.py before anything acts on it; a message
that fails (malformed JSON, unknown protocol version, wrong types, a kiosk speaking on
another kiosk's topic) is dropped with a logged reason and counted per reason, and the
gateway carries on. The payload itself is never logged: it may hold personal data.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import aiomqtt

from firmware import mqtt_client, protocol

log = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None]]


class GatewayLink:
    def __init__(
        self,
        site: str,
        address: mqtt_client.BrokerAddress,
        on_scan: Handler,
        on_status: Handler,
        on_door: Handler | None = None,
        on_replays: Callable[[list[dict]], Awaitable[None]] | None = None,
        max_queued_replays: int = 5000,
        retained: dict[str, bytes] | None = None,
    ) -> None:
        self.site = site
        self.address = address
        self.on_scan = on_scan
        self.on_status = on_status
        self.on_door = on_door
        self.on_replays = on_replays
        self.retained = retained or {}  # topic -> payload, published on every connect
        self.rejected: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        # Replayed scans (a kiosk's backlog) are handled in batches by one worker; live
        # scans never wait for them, so a person at the door is not queued behind another
        # kiosk's day of backlog.
        self._replays: list[dict] = []
        self._replays_ready = asyncio.Event()
        self._replays_room = asyncio.Event()
        self._replays_room.set()
        self.max_queued_replays = max_queued_replays
        self._tasks: set[asyncio.Task] = set()
        self._acks: dict[str, list[str]] = {}

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with mqtt_client.client(
                    self.address, f"gateway-{self.site}", max_queued_incoming=10000
                ) as client:
                    self._client = client
                    backoff = 0.2
                    await client.subscribe(protocol.site_filter(self.site, protocol.SCAN), qos=1)
                    await client.subscribe(protocol.site_filter(self.site, protocol.STATUS), qos=1)
                    await client.subscribe(protocol.site_filter(self.site, protocol.DOOR), qos=1)
                    for topic, payload in self.retained.items():
                        await client.publish(topic, payload, qos=1, retain=True)
                    self.connected.set()
                    log.info("connected to broker %s:%s", self.address.host, self.address.port)
                    async for message in mqtt_client.messages(client):
                        await self._dispatch(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                log.warning("broker connection lost or refused: %s", exc)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 5.0)

    async def _dispatch(self, topic: str, payload: object) -> None:
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        try:
            site, _kiosk, kind, msg = protocol.decode(topic, bytes(payload))
            if site != self.site:
                raise protocol.ProtocolError("wrong_site", site)
        except protocol.ProtocolError as exc:
            self.rejected[exc.reason] += 1
            log.warning("rejected message on %s: %s", topic[:120], exc)
            return
        self.received[kind] += 1
        if kind == protocol.SCAN:
            if msg.get("replay") and self.on_replays is not None:
                await self._replays_room.wait()
                self._replays.append(msg)
                self._replays_ready.set()
                if len(self._replays) >= self.max_queued_replays:
                    self._replays_room.clear()
                return
            task = asyncio.create_task(self._run_scan(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind in (protocol.STATUS, protocol.DOOR):
            handler = self.on_status if kind == protocol.STATUS else self.on_door
            task = asyncio.create_task(handler(msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:  # a verdict on a kiosk topic never comes from a kiosk
            self.rejected["unexpected_kind"] += 1

    async def _run_scan(self, msg: dict) -> None:
        try:
            await self.on_scan(msg)
        except Exception:
            self.rejected["handler_error"] += 1
            log.exception("scan %s could not be handled", msg.get("id"))

    async def handle_replays(self) -> None:
        """The replay worker: everything queued since its last round, as one batch."""
        while True:
            await self._replays_ready.wait()
            self._replays_ready.clear()
            batch, self._replays = self._replays, []
            self._replays_room.set()
            try:
                await self.on_replays(batch)
            except Exception:
                self.rejected["handler_error"] += len(batch)
                log.exception("%d replayed scans could not be handled; kiosks resend", len(batch))

    def acknowledge(self, kiosk: str, event_id: str) -> None:
        """Queue an ack; all acks queued in one turn of the event loop (a group commit's
        worth) leave together, one message per kiosk."""
        if not self._acks:
            asyncio.get_running_loop().call_soon(self._flush_acks)
        self._acks.setdefault(kiosk, []).append(event_id)

    def _flush_acks(self) -> None:
        acks, self._acks = self._acks, {}
        for kiosk, ids in acks.items():
            for start in range(0, len(ids), protocol.MAX_ACK_IDS):
                chunk = ids[start:start + protocol.MAX_ACK_IDS]
                task = asyncio.create_task(self.publish_ack(kiosk, chunk))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def publish_ack(self, kiosk: str, ids: list[str], high_seq: int | None = None) -> None:
        client = self._client
        if client is None:
            return  # the kiosk resends unacknowledged scans; the store answers them again
        msg = protocol.ack(kiosk, ids, protocol.now_ms(), high_seq)
        try:
            await client.publish(
                protocol.topic(self.site, kiosk, protocol.ACK),
                protocol.encode(protocol.ACK, msg),
                qos=1,
            )
        except aiomqtt.MqttError as exc:
            log.warning("ack to %s not sent: %s", kiosk, exc)

    async def publish_verdict(self, kiosk: str, msg: dict) -> None:
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(
            protocol.topic(self.site, kiosk, protocol.VERDICT),
            protocol.encode(protocol.VERDICT, msg),
            qos=1,
        )
