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
