"""A bare MQTT responder for the baseline: every request on bench/req/<n> is published
back on bench/rep/<n>, with the same client options as the gateway (QoS 1, TCP_NODELAY)."""

from __future__ import annotations

import argparse

from firmware import mqtt_client, startup


async def main(port: int) -> None:
    address = mqtt_client.BrokerAddress(port=port)
    async with mqtt_client.client(address, "bench-echo", persistent=False) as client:
        await client.subscribe("bench/req/#", qos=1)
        print("ready", flush=True)
        async for message in mqtt_client.messages(client):
            reply = str(message.topic).replace("bench/req/", "bench/rep/", 1)
            await client.publish(reply, message.payload, qos=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    startup.run(main(parser.parse_args().port))
