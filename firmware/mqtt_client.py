"""How every CPython side (kiosk, gateway, simulators, benchmarks) connects to the broker.

One place decides the connection options that matter for latency and durability:
TCP_NODELAY on the client socket (Nagle's algorithm otherwise holds each small message
for ~40 ms), MQTT 3.1.1 persistent sessions so QoS 1 messages queued at the broker
survive a reconnect, and a short keepalive so presence (last will) is noticed in seconds.
Not for the board: it speaks the serial link, not MQTT.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomqtt

NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive: int = 5
    ca_file: str | None = None  # TLS when set
    cert_file: str | None = None
    key_file: str | None = None


def client(
    address: BrokerAddress,
    identifier: str,
    *,
    will: aiomqtt.Will | None = None,
    persistent: bool = True,
    max_queued_incoming: int | None = None,
) -> aiomqtt.Client:
    tls_context = None
    if address.ca_file:
        tls_context = ssl.create_default_context(cafile=address.ca_file)
        if address.cert_file:
            tls_context.load_cert_chain(address.cert_file, address.key_file)
    mqtt = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=identifier,
        clean_session=not persistent,
        keepalive=address.keepalive,
        will=will,
        socket_options=NODELAY,
        tls_context=tls_context,
        timeout=10,
        max_queued_incoming_messages=max_queued_incoming,
    )
    # Draining a backlog keeps hundreds of publishes in flight on purpose.
    mqtt.pending_calls_threshold = 100_000
    return mqtt


async def messages(mqtt: aiomqtt.Client, turn_every: int = 8) -> AsyncIterator[aiomqtt.Message]:
    """Every incoming message, in order: `client.messages`, without its cost per message.

    aiomqtt's iterator makes a task and an asyncio.wait for each message, so that it
    notices a disconnection; that was 14 % of the gateway's main thread at full ingest
    (py-spy, bench-ingest). Messages already queued are taken straight from its queue
    (aiomqtt 2.x, pinned in the lock); only an empty queue waits on the iterator, which
    raises MqttError on a disconnection. Every `turn_every` messages the loop gets a
    turn, so a burst never holds back a live scan's task or the socket."""
    queue: asyncio.Queue = mqtt._queue  # aiomqtt 2.x: the queue its own iterator reads
    waiting = mqtt.messages
    taken = 0
    while True:
        if queue.empty():
            yield await waiting.__anext__()
            continue
        yield queue.get_nowait()
        taken += 1
        if taken % turn_every == 0:
            await asyncio.sleep(0)
