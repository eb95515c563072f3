"""bench-roundtrip: scan-to-signal latency through the real broker, gateway and platform
simulator, next to the bare broker round trip measured in the same run.

Scan-to-signal: a reading presented to the kiosk process (the production process, started
by the simulators with scripted input) until its lights show the verdict: outbox commit,
QoS 1 publish beside the outbox fsync, gateway store + platform lookup, verdict, signal.
Baseline: publish → a responder process → reply, QoS 1 both ways, same client options.
The last line is a JSON summary.
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

from bench.kiosk_process import KioskProcess
from bench.stats import summarise
from firmware import mqtt_client, startup
from firmware.kiosk.reading import Reading
from firmware.startup import tune_interpreter
from gateway.broker import Broker
from simulators import processes
from simulators.population import population

SITE = "bench"


async def bare_round_trips(port: int, n: int, gap_s: float = 0.0) -> list[float]:
    """Publish → responder process → reply, QoS 1 both ways. `gap_s` paces the requests
    like the scans they are compared with: four processes woken from idle every 50 ms
    answer markedly slower than the same ones kept busy back to back."""
    echo = subprocess.Popen(
        [sys.executable, "-m", "bench.echo", "--port", str(port)],
        stdout=subprocess.PIPE, cwd=processes.ROOT,
    )
    try:
        assert echo.stdout.readline().strip() == b"ready"
        address = mqtt_client.BrokerAddress(port=port)
        samples = []
        async with mqtt_client.client(address, "bench-caller", persistent=False) as client:
            await client.subscribe("bench/rep/#", qos=1)
            messages = mqtt_client.messages(client)
            for i in range(n + 50):
                if gap_s:
                    await asyncio.sleep(gap_s)
                started = time.perf_counter()
                await client.publish(f"bench/req/{i}", b'{"v":1,"payload":"x"}', qos=1)
                await anext(messages)
                if i >= 50:  # warm-up
                    samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        echo.terminate()
        echo.wait()


async def scan_to_signal(work: Path, port: int, n: int) -> list[float]:
    raw = processes.kiosk_config(work, SITE, "kiosk-1", "door-1", port)
    raw["verdict_timeout_s"] = 5.0
    kiosk = await KioskProcess(work, raw).start()
    people = population(7)
    samples = []
    sources = set()
    try:
        await kiosk.connected()
        for i in range(n + 50):
            person = people[i % len(people)]
            ms, shown = await kiosk.scan(Reading("code", person.code_url, medium="screen"))
            sources.add(shown["source"])
            if i >= 50:
                samples.append(ms)
        assert sources <= {"platform", "cache"}, f"every scan answered by the gateway: {sources}"
    finally:
        await kiosk.stop()
    return samples


async def run(n: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-roundtrip-"))
    broker = Broker(work / "broker").start()
    platform, url = processes.start_platform(work)
    gateway_config = processes.gateway_config(work, SITE, broker.port, url)
    gateway, _ = processes.start_gateway(work, gateway_config)
    logging_quiet()
    try:
        bare = await bare_round_trips(broker.port, n)
        scan = await scan_to_signal(work, broker.port, n)
    finally:
        gateway.stop()
        platform.stop()
        broker.stop()
    return {"bench": "roundtrip", "scans": n, "scan_to_signal_ms": summarise(scan),
            "bare_broker_round_trip_ms": summarise(bare)}


def logging_quiet() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)


def main() -> None:
    tune_interpreter()  # as the kiosk process does
    parser = argparse.ArgumentParser(prog="just bench-roundtrip")
    parser.add_argument("-n", type=int, default=1000)
    result = startup.run(run(parser.parse_args().n))
    s, b = result["scan_to_signal_ms"], result["bare_broker_round_trip_ms"]
    result["overhead_p50_ms"] = round(s["p50"] - b["p50"], 3)
    result["p99_ratio"] = round(s["p99"] / b["p99"], 2)
    result["target_p99_le_2x_bare"] = s["p99"] <= 2 * b["p99"]
    print(f"{'':28s}{'p50':>9s}{'p99':>9s}{'mean':>9s}  (ms, n={result['scans']})")
    print(f"{'scan → signal':28s}{s['p50']:9.3f}{s['p99']:9.3f}{s['mean']:9.3f}")
    print(f"{'bare broker round trip':28s}{b['p50']:9.3f}{b['p99']:9.3f}{b['mean']:9.3f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
