"""A bare QoS 1 subscriber for the ingest baseline: counts messages on a topic filter and
prints the time the last of `--expect` arrived. Same client options as the gateway."""

from __future__ import annotations

import argparse
import time

from firmware import mqtt_client, startup


async def main(port: int, topic: str, expect: int) -> None:
    address = mqtt_client.BrokerAddress(port=port)
    async with mqtt_client.client(address, "bench-sink", persistent=False,
                                  max_queued_incoming=100_000) as client:
        await client.subscribe(topic, qos=1)
        print("ready", flush=True)
        count = 0
        async for _message in mqtt_client.messages(client):
            count += 1
            if count >= expect:
                print(f"done {time.time()}", flush=True)
                return


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--expect", type=int, required=True)
    args = parser.parse_args()
    startup.run(main(args.port, args.topic, args.expect))
