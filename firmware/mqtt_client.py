"""How every CPython side (kiosk, gateway, simulators, benchmarks) connects to the broker.

One place decides the connection options that matter for latency and durability:
TCP_NODELAY on the client socket (Nagle's algorithm otherwise holds each small message
for ~40 ms), MQTT 3.1.1 persistent sessions so QoS 1 messages queued at the broker
survive a reconnect, and a short keepalive so presence (last will) is noticed in seconds.
Not for the board: it speaks the serial link, not MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

log = logging.getLogger(__name__)

NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
# QoS 1 publishes a client keeps in flight before it queues the next (paho's default: 20).
# Above the kiosk's backlog window (firmware/kiosk/sender.py, 100), so the live scan of a
# kiosk draining its backlog is written at once instead of waiting for the broker to
# acknowledge the backlog's publishes ahead of it.
MAX_INFLIGHT = 1000


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
        max_inflight_messages=MAX_INFLIGHT,
    )
    # Draining a backlog keeps hundreds of publishes in flight on purpose.
    mqtt.pending_calls_threshold = 100_000
    return mqtt


async def messages(mqtt: aiomqtt.Client, turn_every: int = 8) -> AsyncIterator[aiomqtt.Message]:
    """Every incoming message, in order: `client.messages`, without its cost per message.

    aiomqtt's iterator makes a task and an asyncio.wait for each message, so that it
    notices a disconnection, a large share of the gateway's work at full ingest. Messages
    already queued are taken straight from its queue
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


Serve = Callable[[aiomqtt.Client], Awaitable[None]]

# How long a leaving client waits for its DISCONNECT to go out before it drops the socket.
LEAVE_WITHIN_S = 2.0


@contextlib.asynccontextmanager
async def connected(mqtt: aiomqtt.Client,
                    leave_within_s: float = LEAVE_WITHIN_S) -> AsyncIterator[aiomqtt.Client]:
    """`async with mqtt`, except that leaving never waits longer than `leave_within_s`.

    aiomqtt 2.x waits for its disconnection callback without a time limit; a stop (SIGTERM
    under systemd, a cancelled task) must not depend on it. Past the limit the socket is
    closed through paho's own close, which also unregisters it from the event loop."""
    await mqtt.__aenter__()
    try:
        yield mqtt
    except BaseException as exc:
        await _leave(mqtt, leave_within_s, exc)
        raise
    else:
        await _leave(mqtt, leave_within_s, None)


async def _leave(mqtt: aiomqtt.Client, within_s: float, exc: BaseException | None) -> None:
    try:
        await asyncio.wait_for(
            mqtt.__aexit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None),
            within_s)
    except TimeoutError:
        log.warning("broker did not see the disconnection within %.1f s; closing the socket",
                    within_s)
        mqtt._client._sock_close()  # paho 2.x (pinned): also unregisters it from the loop
    except aiomqtt.MqttError:
        if exc is None:
            raise


def first_lost(group: BaseExceptionGroup) -> aiomqtt.MqttError | None:
    """The connection loss inside a TaskGroup's failure, if that is all it is: tasks on
    one connection all fail together when it drops."""
    lost, other = group.split(aiomqtt.MqttError)
    if lost is None or other is not None:
        return None
    leaf: BaseException = lost
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf if isinstance(leaf, aiomqtt.MqttError) else None


class Session:
    """One reconnecting MQTT session, the same for kiosk and gateway.

    `run(serve)` connects, hands the client to `serve` for as long as the connection
    lasts, and reconnects forever with capped, jittered backoff. A lost or refused
    connection (MqttError) and TLS files that are missing or refused (OSError) are faults
    to retry, reported through `on_fault(detail)`; anything else is a bug and ends `run`
    with its traceback, for the process's supervisor to act on.
    """

    def __init__(
        self,
        address: BrokerAddress,
        identifier: str,
        *,
        will: aiomqtt.Will | None = None,
        max_queued_incoming: int | None = None,
        on_fault: Callable[[str], None] = lambda _detail: None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.address = address
        self.identifier = identifier
        self.will = will
        self.max_queued_incoming = max_queued_incoming
        self.on_fault = on_fault
        self.max_backoff_s = max_backoff_s
        self.client: aiomqtt.Client | None = None  # while connected
        self.connected = asyncio.Event()

    async def run(self, serve: Serve) -> None:
        backoff = 0.2
        while True:
            try:
                async with connected(client(self.address, self.identifier, will=self.will,
                                            max_queued_incoming=self.max_queued_incoming)) as mqtt:
                    backoff = 0.2
                    self.client = mqtt
                    try:
                        await serve(mqtt)
                    except BaseExceptionGroup as group:
                        lost = first_lost(group)
                        if lost is None:
                            raise
                        raise lost from None
            except aiomqtt.MqttError as exc:
                log.warning("broker %s:%s lost or refused: %s",
                            self.address.host, self.address.port, exc)
                self.on_fault("unreachable")
            except OSError as exc:  # TLS files missing or unreadable, certificate refused
                log.warning("cannot connect to broker %s:%s: %s",
                            self.address.host, self.address.port, exc)
                self.on_fault(type(exc).__name__)
            finally:
                self.client = None
                self.connected.clear()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self.max_backoff_s)
