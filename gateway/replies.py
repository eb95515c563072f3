"""What the gateway sends its kiosks over MQTT: verdicts, acknowledgements, signed lists.

Sent on the gateway's broker session while it is connected. A verdict that cannot leave
raises, for check-in to count; an acknowledgement that cannot leave is dropped, since the
kiosk resends every scan it has not had acknowledged and the store answers it again.

Acknowledgements go out on the second (backlog) connection where there is one: a drain
or a flood of backlog scans is acknowledged in hundreds of QoS 1 messages, and a client
keeps only so many QoS 1 messages in flight, so on one connection a verdict would wait
behind them.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from firmware import mqtt_client, protocol

log = logging.getLogger(__name__)


class KioskReplies:
    def __init__(self, site: str, session: mqtt_client.Session,
                 retained: dict[str, bytes] | None = None,
                 acks: mqtt_client.Session | None = None) -> None:
        self.site = site
        self.session = session
        self.acks = acks  # the connection acknowledgements go out on, while it is up
        self.retained = retained or {}  # topic -> payload, published on every connect
        self._acks: dict[str, list[str]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def connected(self, client: aiomqtt.Client) -> None:
        """On every new connection: the signed lists, retained, for every kiosk. A copy is
        walked: `retain` may add a topic (the staff list) while a publish is awaited."""
        for topic, payload in list(self.retained.items()):
            await client.publish(topic, payload, qos=1, retain=True)

    async def retain(self, topic: str, payload: bytes) -> None:
        """A retained site-wide message (the staff list): published now if connected, and
        again on every new connection."""
        self.retained[topic] = payload
        client = self.session.client
        if client is None:
            return
        try:
            await client.publish(topic, payload, qos=1, retain=True)
        except aiomqtt.MqttError as exc:  # kept above: it goes out on the next connection
            log.warning("retained %s not sent now (%s); sent on reconnecting", topic, exc)

    async def send(self, kiosk: str, kind: str, msg: dict) -> None:
        """One message to one kiosk (a duty answer, a gate command); raises if it cannot
        leave, so the caller can say so."""
        client = self.session.client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(protocol.topic(self.site, kiosk, kind),
                             protocol.encode(kind, msg), qos=1)

    async def verdict(self, kiosk: str, msg: dict) -> None:
        client = self.session.client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(
            protocol.topic(self.site, kiosk, protocol.VERDICT),
            protocol.encode(protocol.VERDICT, msg),
            qos=1,
        )

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
                task = asyncio.create_task(self.ack(kiosk, chunk))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def ack(self, kiosk: str, ids: list[str], high_seq: int | None = None,
                  epoch: int = 0) -> None:
        client = (self.acks.client if self.acks is not None else None) or self.session.client
        if client is None:
            return  # the kiosk resends unacknowledged scans; the store answers them again
        msg = protocol.ack(kiosk, ids, protocol.now_ms(), high_seq, epoch)
        try:
            await client.publish(
                protocol.topic(self.site, kiosk, protocol.ACK),
                protocol.encode(protocol.ACK, msg),
                qos=1,
            )
        except aiomqtt.MqttError as exc:
            log.warning("ack to %s not sent: %s", kiosk, exc)
