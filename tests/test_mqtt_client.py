"""The shared message iterator against a real Mosquitto: every message in order, a burst
never holds the event loop, and a lost broker ends the iteration with MqttError."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from firmware import mqtt_client


async def test_a_burst_arrives_whole_in_order_and_other_tasks_keep_running(broker):
    address = mqtt_client.BrokerAddress(port=broker.port)
    async with mqtt_client.client(address, "reader", persistent=False) as reader, \
            mqtt_client.client(address, "writer", persistent=False) as writer:
        await reader.subscribe("burst/#", qos=1)
        await asyncio.gather(*(writer.publish(f"burst/{i}", str(i).encode(), qos=1)
                               for i in range(500)))
        await asyncio.sleep(0.3)  # all of them queued at the reader before it reads
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        got = []
        async for message in mqtt_client.messages(reader):
            got.append(int(message.payload))
            if len(got) == 500:
                break
        ticker.cancel()
    assert got == list(range(500))
    assert ticks >= 500 // 8 - 1  # the loop had a turn at least every 8 messages


async def test_a_lost_broker_ends_the_iteration_with_mqtt_error(broker):
    address = mqtt_client.BrokerAddress(port=broker.port, keepalive=1)
    async with mqtt_client.client(address, "reader", persistent=False) as reader:
        await reader.subscribe("x/#", qos=1)
        asyncio.get_running_loop().call_later(0.2, broker.stop, True)
        with pytest.raises(aiomqtt.MqttError):
            async with asyncio.timeout(10):
                async for _message in mqtt_client.messages(reader):
                    pass


async def test_a_stop_never_waits_on_a_broker_that_stopped_reading():
    """A broker that accepted the connection and then hung (not reading, not closing):
    the client's unsent data fills the socket, so its DISCONNECT cannot go out. Stopping
    the session must still end promptly, as a SIGTERM under systemd expects."""
    accepted = asyncio.Event()
    peers: list[asyncio.StreamWriter] = []

    async def hung_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")  # CONNACK, accepted
        await writer.drain()
        writer.transport.pause_reading()  # ... and never reads again
        accepted.set()

    server = await asyncio.start_server(hung_broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = mqtt_client.Session(mqtt_client.BrokerAddress(port=port, keepalive=60),
                                  "stuck", max_backoff_s=0.2)
    filled = asyncio.Event()

    async def serve(mqtt: aiomqtt.Client) -> None:
        async with asyncio.TaskGroup() as publishing:
            for i in range(400):  # 100 MB offered; the kernel buffers take a few
                publishing.create_task(mqtt.publish(f"fill/{i}", b"x" * 256_000, qos=0))
            while not mqtt._client._out_packet:  # paho's queue of data not yet sent
                await asyncio.sleep(0.05)
            filled.set()

    running = asyncio.create_task(session.run(serve))
    await asyncio.wait_for(asyncio.gather(accepted.wait(), filled.wait()), 10)
    running.cancel()
    started = asyncio.get_running_loop().time()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 10)
    assert asyncio.get_running_loop().time() - started < mqtt_client.LEAVE_WITHIN_S + 1
    for peer in peers:
        peer.close()
    server.close()
