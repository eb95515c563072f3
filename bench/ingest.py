"""bench-ingest: sustained durable events/s of one gateway process, fed by many kiosks
through the real broker, next to the broker's bare QoS 1 throughput for the same messages
in the same run.

Each simulated kiosk sends its backlog of scans (replays: stored and acknowledged, no
platform lookup) keeping at most `window` unacknowledged, as a real kiosk does. Ingest
time runs from the first publish to the last acknowledgement, i.e. every event committed
with full durability. The baseline sends the same payloads to a bare subscriber process.
The last line is a JSON summary; target ≥ 70% of the bare figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from firmware import mqtt_client, protocol
from firmware.kiosk.event import EventFactory
from firmware.kiosk.reading import Reading
from firmware.kiosk.sender import mark_replay
from gateway.broker import Broker
from simulators import processes

SITE = "bench"


def payloads(kiosk: str, n: int) -> list[tuple[str, bytes]]:
    factory = EventFactory(kiosk, "door-1")
    out = []
    for seq in range(1, n + 1):
        event_id, payload, _ts = factory.builder(
            Reading("code", "https://hc.henan.example/yk/v1?t=" + "A" * 32))(seq)
        out.append((event_id, mark_replay(payload)))
    return out


async def feed_kiosk(port: int, kiosk: str, scans: list[tuple[str, bytes]], window: int,
                     wait_acks: bool) -> None:
    address = mqtt_client.BrokerAddress(port=port)
    topic = protocol.topic(SITE, kiosk, protocol.SCAN)
    async with mqtt_client.client(address, f"feeder-{kiosk}", persistent=False) as client:
        if not wait_acks:
            for start in range(0, len(scans), window):
                await asyncio.gather(*(client.publish(topic, p, qos=1)
                                       for _i, p in scans[start:start + window]))
            return
        await client.subscribe(protocol.topic(SITE, kiosk, protocol.ACK), qos=1)
        unacked: set[str] = set()
        room = asyncio.Event()
        room.set()
        done = asyncio.Event()
        remaining = {i for i, _p in scans}

        async def receive() -> None:
            async for message in mqtt_client.messages(client):
                ids = json.loads(message.payload)["ids"]
                unacked.difference_update(ids)
                remaining.difference_update(ids)
                if len(unacked) < window:
                    room.set()
                if not remaining:
                    done.set()
                    return

        receiver = asyncio.create_task(receive())
        for start in range(0, len(scans), 50):
            await room.wait()
            chunk = scans[start:start + 50]
            unacked.update(i for i, _p in chunk)
            if len(unacked) >= window:
                room.clear()
            await asyncio.gather(*(client.publish(topic, p, qos=1) for _i, p in chunk))
        await asyncio.wait_for(done.wait(), 300)
        receiver.cancel()


async def run(kiosks: int, per_kiosk: int, window: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker = Broker(work / "broker").start()
    platform, url = processes.start_platform(work)
    data = {f"kiosk-{k}": payloads(f"kiosk-{k}", per_kiosk) for k in range(1, kiosks + 1)}
    total = kiosks * per_kiosk
    try:
        sink = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--port", str(broker.port),
             "--topic", f"placecode/{SITE}/+/scan", "--expect", str(total)],
            cwd=processes.ROOT, stdout=subprocess.PIPE, text=True,
        )
        assert sink.stdout.readline().strip() == "ready"
        started = time.time()
        await asyncio.gather(
            *(feed_kiosk(broker.port, k, s, window, False) for k, s in data.items())
        )
        bare_s = float(sink.stdout.readline().split()[1]) - started
        sink.wait()

        # The ingest path alone: the forwarder's uploads to the platform are a separate
        # stage (bench-drain, tests/test_outage.py), so the platform refuses them meanwhile
        # and the forwarder backs off instead of competing for the two cores.
        httpx.put(url + "/sim/faults", json={"fail_uploads": True}).raise_for_status()
        gateway, _ = processes.start_gateway(
            work, processes.gateway_config(work, SITE, broker.port, url))
        try:
            started = time.time()
            await asyncio.gather(*(feed_kiosk(broker.port, k, s, window, True)
                                   for k, s in data.items()))
            ingest_s = time.time() - started
        finally:
            gateway.stop()
    finally:
        platform.stop()
        broker.stop()
    return {"bench": "ingest", "events": total, "kiosks": kiosks,
            "gateway_durable_events_per_s": round(total / ingest_s),
            "bare_broker_qos1_per_s": round(total / bare_s)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="just bench-ingest")
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--per-kiosk", type=int, default=2000)
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(run(args.kiosks, args.per_kiosk, args.window))
    ratio = result["gateway_durable_events_per_s"] / result["bare_broker_qos1_per_s"]
    result["ratio"] = round(ratio, 3)
    result["target_met"] = ratio >= 0.7
    print(f"{result['events']} events from {result['kiosks']} kiosks")
    durable = result["gateway_durable_events_per_s"]
    print(f"  gateway, durable + acknowledged: {durable:8d} events/s")
    print(f"  bare broker QoS 1 to one client: {result['bare_broker_qos1_per_s']:8d} events/s")
    print(f"  ratio {ratio:.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
