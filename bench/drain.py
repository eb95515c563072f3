"""bench-drain: a kiosk's backlog of a day (86,400 scans) drains to the gateway, while
live scans keep getting verdicts.

The kiosk is the production process (started by the simulators with scripted input), its
outbox filled before it starts. Reports the drain rate (events/s, from the kiosk's
reconnect to an empty outbox) and the verdict latency of live scans made during the drain,
next to the same live figure with no backlog, measured in the same run. Targets: drain
≤ 60 s; live p99 during the drain ≤ 2x the idle p99. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from bench.cpu import cpu_s
from bench.kiosk_process import KioskProcess
from bench.stats import summarise
from firmware import startup
from firmware.kiosk.event import EventFactory
from firmware.kiosk.outbox import SCHEMA
from firmware.kiosk.reading import Reading
from firmware.startup import tune_interpreter
from gateway.broker import Broker
from simulators import processes
from simulators.population import population

SITE = "bench"


def fill_backlog(path: Path, kiosk: str, n: int) -> None:
    """The outbox as a day offline leaves it: n committed, unacknowledged scans."""
    people = population(7)
    clock = iter(range(1_790_000_000_000, 10**13, 1000)).__next__
    factory = EventFactory(kiosk, "door-1", clock=clock)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    rows = []
    for seq in range(1, n + 1):
        person = people[seq % len(people)]
        event_id, payload, ts = factory.builder(Reading("code", person.code_url))(seq)
        rows.append((seq, event_id, payload, ts))
    db.executemany("INSERT INTO outbox (seq, id, payload, created_ms) VALUES (?,?,?,?)", rows)
    db.execute("UPDATE meta SET value=? WHERE key='last_seq'", (n,))
    db.commit()
    db.close()


async def live_scans(kiosk: KioskProcess, until, interval: float = 0.1,
                     limit: int = 10_000) -> list[float]:
    people = population(7)
    samples = []
    while until() and len(samples) < limit:
        ms, shown = await kiosk.scan(Reading("code", people[kiosk.shown % 500].code_url))
        assert shown["source"] in ("platform", "cache"), shown
        samples.append(ms)
        await asyncio.sleep(interval)
    return samples


def resends(log: Path) -> int:
    """Times the kiosk sent unacknowledged scans again (its log says so, one line each)."""
    try:
        return sum("sending them again" in line for line in log.read_text().splitlines())
    except OSError:
        return 0


async def forwarded(platform_url: str, records: int, give_up_s: float) -> None:
    """Until the platform holds `records` records (or give_up_s)."""
    deadline = time.perf_counter() + give_up_s
    async with httpx.AsyncClient(base_url=platform_url, timeout=10) as http:
        while time.perf_counter() < deadline:
            if (await http.get("/sim/stats")).json()["records"] >= records:
                return
            await asyncio.sleep(0.2)


async def run(n: int, idle_scans: int, give_up_s: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    broker = Broker(work / "broker").start()
    platform, url = processes.start_platform(work)
    gateway_config = processes.gateway_config(work, SITE, broker.port, url)
    gateway, _ = processes.start_gateway(work, gateway_config)
    raw = processes.kiosk_config(work, SITE, "kiosk-1", "door-1", broker.port)
    raw["verdict_timeout_s"] = 10.0
    kiosk = KioskProcess(work, raw)
    fill_backlog(kiosk.outbox_path, "kiosk-1", n)
    try:
        await kiosk.start()
        started = time.perf_counter()
        drained = asyncio.Event()

        async def watch() -> float:
            """Until the outbox is empty, or give_up_s: a stalled drain is a result too."""
            while await asyncio.to_thread(kiosk.backlog) > 0:
                if time.perf_counter() - started > give_up_s:
                    break
                await asyncio.sleep(0.05)
            drained.set()
            return time.perf_counter() - started

        watcher = asyncio.create_task(watch())
        await kiosk.connected()
        during = await live_scans(kiosk, lambda: not drained.is_set())
        drain_s = await watcher
        left = kiosk.backlog()
        # where the drain's work went: the two cores are shared by all four processes
        cpu = {"kiosk": cpu_s(kiosk.proc.pid if kiosk.proc else None),
               "gateway": cpu_s(gateway.popen.pid if gateway.popen else None),
               "broker": cpu_s(broker.process.pid if broker.process else None),
               "platform": cpu_s(platform.popen.pid if platform.popen else None)}
        # the baseline on a quiet site: after the gateway has forwarded the day's records
        # too (until then it uploads tens of thousands to the platform)
        await forwarded(url, n + len(during), give_up_s)
        idle = await live_scans(kiosk, lambda: True, limit=idle_scans)
    finally:
        await kiosk.stop()
        gateway.stop()
        platform.stop()
        broker.stop()
    return {
        "bench": "drain",
        "backlog": n,
        "drain_s": round(drain_s, 2),
        "left_in_outbox": left,
        "events_per_s": round((n - left) / drain_s),
        "live_during_drain_ms": summarise(during),
        "live_idle_ms": summarise(idle),
        "resends": resends(kiosk.log_path),
        "cpu_s_during_drain": cpu,
    }


def main() -> None:
    tune_interpreter()  # as the kiosk process does
    parser = argparse.ArgumentParser(prog="just bench-drain")
    parser.add_argument("-n", type=int, default=86_400)
    parser.add_argument("--idle-scans", type=int, default=200)
    parser.add_argument("--give-up-s", type=float, default=300.0)
    args = parser.parse_args()
    result = startup.run(run(args.n, args.idle_scans, args.give_up_s))
    d, i = result["live_during_drain_ms"], result["live_idle_ms"]
    result["live_p99_ratio"] = round(d["p99"] / i["p99"], 2)
    result["targets_met"] = (result["left_in_outbox"] == 0 and result["drain_s"] <= 60
                             and result["live_p99_ratio"] <= 2)
    if result["left_in_outbox"]:
        print(f"backlog {result['backlog']}: {result['left_in_outbox']} scans still in the "
              f"outbox after {result['drain_s']} s (stalled)")
    else:
        print(f"backlog {result['backlog']} drained in {result['drain_s']} s "
              f"({result['events_per_s']} events/s)")
    print(f"{'live verdicts':24s}{'p50':>9s}{'p99':>9s}{'n':>6s}  (ms)")
    print(f"{'  during the drain':24s}{d['p50']:9.2f}{d['p99']:9.2f}{d['n']:6d}")
    print(f"{'  idle (no backlog)':24s}{i['p50']:9.2f}{i['p99']:9.2f}{i['n']:6d}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
