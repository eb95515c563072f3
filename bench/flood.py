"""bench-flood: one kiosk floods the gateway with made-up replayed scans while another
kiosk's visitors wait for verdicts.

The two kiosks and the gateway stand for three machines. Unless `--colocated`, the
flooder runs at the lowest CPU priority and the live kiosk keeps its outbox on a
RAM-backed filesystem (bench/kiosk_process.py `own_disk`), so what is measured is what the
flood costs at the gateway and broker, not what sharing one machine's cores and disk adds.

A compromised kiosk on the site network publishes `--replays` replay scans (default
40,000) as fast as the broker takes them. Reports the other kiosk's live verdict latency
during the flood next to the same figure with no flood, measured in the same run, and
what the gateway did with the flood (stored, dropped, alerted). Target: live p99 during
the flood ≤ 2x the idle p99. The last line is a JSON summary; exit 1 if the target is
missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.cpu import cpu_s, used_since
from bench.drain import live_scans
from bench.kiosk_process import KioskProcess
from bench.stats import summarise
from firmware import mqtt_client, protocol, startup
from firmware.startup import tune_interpreter
from gateway import users
from gateway.broker import Broker
from simulators import processes

SITE = "bench"
FLOODER = "kiosk-flood"
MANAGER = ("bench-manager", "bench-manager-password")


async def flood(port: int, n: int, window: int = 500) -> float:
    """n replay scans from FLOODER, `window` QoS 1 publishes in flight at a time (run in
    its own process: `--flooder PORT`, so it shares no event loop with the kiosk timed)."""
    ids = protocol.EventIds()
    topic = protocol.topic(SITE, FLOODER, protocol.BACKLOG)
    now = protocol.now_ms()
    started = time.perf_counter()
    address = mqtt_client.BrokerAddress(port=port)
    async with mqtt_client.client(address, FLOODER, persistent=False) as client:
        for first in range(0, n, window):
            batch = []
            for seq in range(first + 1, min(n, first + window) + 1):
                msg = protocol.scan(ids.new(), FLOODER, "door-9", seq, now - seq, "id_card",
                                    f"4101021980010{seq % 10000:04d}X",
                                    decided=("unknown", "hold", "manual_check", "timeout"))
                msg["replay"] = True
                batch.append(client.publish(topic, protocol.encode(protocol.SCAN, msg), qos=1))
            await asyncio.gather(*batch)
    return time.perf_counter() - started


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


async def flood_process(port: int, n: int, done: asyncio.Event, colocated: bool
                        ) -> tuple[float, float]:
    """The flooding kiosk is another machine on the site network: its CPU is not the
    gateway's. On this one machine it runs at the lowest priority, so that its own work
    (a Python process publishing as fast as it can) does not take a core from the processes
    measured; `colocated` runs it at theirs. (Seconds it took, its CPU seconds.)"""
    nice = [] if colocated else ["nice", "-n", "19"]
    proc = await asyncio.create_subprocess_exec(
        *nice, sys.executable, "-m", "bench.flood", "--flooder", str(port), "--replays", str(n),
        cwd=processes.ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    done.set()
    if proc.returncode != 0:
        raise RuntimeError(f"flooder exited {proc.returncode}")
    seconds, cpu = out.decode().split()[-2:]
    return float(seconds), float(cpu)


async def gateway_view(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        name, password = MANAGER
        signed = await http.post("/api/sign-in", json={"name": name, "password": password})
        signed.raise_for_status()
        summary = (await http.get("/api/summary")).json()
        alerts = (await http.get("/api/alerts")).json()
    return {"summary": summary, "alerts": [a for a in alerts if a.get("kiosk") == FLOODER]}


async def run(n: int, idle_scans: int, kiosks: dict, colocated: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    broker = Broker(work / "broker").start()
    platform, url = processes.start_platform(work)
    cfg = processes.gateway_config(work, SITE, broker.port, url)
    if kiosks:
        cfg["kiosks"] = kiosks
    users.add_user(Path(cfg["db_path"]), MANAGER[0], "manager", MANAGER[1])
    gateway, gateway_url = processes.start_gateway(work, cfg)
    logging.basicConfig(level=logging.WARNING)
    raw = processes.kiosk_config(work, SITE, "kiosk-1", "door-1", broker.port)
    raw["verdict_timeout_s"] = 10.0
    kiosk = KioskProcess(work, raw, own_disk=not colocated)
    try:
        await kiosk.start()
        await kiosk.connected()
        await live_scans(kiosk, lambda: True, limit=20)  # warm the cache
        idle = await live_scans(kiosk, lambda: True, limit=idle_scans)
        done = asyncio.Event()
        pids = {"kiosk": kiosk.proc.pid if kiosk.proc else None,
                "gateway": gateway.popen.pid if gateway.popen else None,
                "broker": broker.process.pid if broker.process else None,
                "platform": platform.popen.pid if platform.popen else None}
        cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
        flood_started = time.perf_counter()
        flooder = asyncio.create_task(flood_process(broker.port, n, done, colocated))
        during = await live_scans(kiosk, lambda: not done.is_set(), interval=0.05)
        flood_s, flooder_cpu_s = await flooder
        # ... and for as long again after it, while the gateway works through what came.
        settle_until = time.perf_counter() + max(2.0, flood_s)
        during += await live_scans(kiosk, lambda: time.perf_counter() < settle_until,
                                   interval=0.05)
        cpu = used_since(cpu_before, {name: cpu_s(pid) for name, pid in pids.items()})
        cpu["flooder"] = flooder_cpu_s
        during_s = round(time.perf_counter() - flood_started, 2)
        view = await gateway_view(gateway_url)
    finally:
        await kiosk.stop()
        gateway.stop()
        platform.stop()
        broker.stop()
    summary = view["summary"]
    return {
        "bench": "flood",
        "replays_sent": n,
        "flood_s": round(flood_s, 2),
        "live_idle_ms": summarise(idle),
        "live_during_flood_ms": summarise(during),
        "received": summary.get("received"),
        "rejected": summary.get("rejected"),
        "ingest": summary.get("ingest"),
        "flood_alerts": len(view["alerts"]),
        "colocated": colocated,
        # CPU seconds each process used from the flood's start to the end of the
        # measurement, `measured_s` later (the machine has os.cpu_count() cores)
        "cpu_s": cpu,
        "measured_s": during_s,
    }


def main() -> None:
    tune_interpreter()  # as the gateway process does
    parser = argparse.ArgumentParser(prog="just bench-flood")
    parser.add_argument("--replays", type=int, default=40_000)
    parser.add_argument("--idle-scans", type=int, default=300,
                        help="live scans before the flood: about as many as during it, so both "
                             "p99s are read from samples of a like size")
    parser.add_argument("--replay-rate", type=float, help="the gateway's kiosks.replay_rate")
    parser.add_argument("--replay-burst", type=int, help="the gateway's kiosks.replay_burst")
    parser.add_argument("--colocated", action="store_true",
                        help="the flooder at the same priority as the rest, and the live kiosk's "
                             "outbox on the gateway's disk (what one machine adds to the site)")
    parser.add_argument("--flooder", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:  # the flooding kiosk's own process; prints its seconds
        print(startup.run(flood(args.flooder, args.replays)), own_cpu_s())
        return
    kiosks = {k: v for k, v in (("replay_rate", args.replay_rate),
                                ("replay_burst", args.replay_burst)) if v is not None}
    result = startup.run(run(args.replays, args.idle_scans, kiosks, args.colocated))
    d, i = result["live_during_flood_ms"], result["live_idle_ms"]
    result["live_p99_ratio"] = round(d["p99"] / i["p99"], 2)
    result["target_met"] = result["live_p99_ratio"] <= 2
    print(f"{result['replays_sent']} replays from {FLOODER} in {result['flood_s']} s")
    print(f"{'live verdicts, other kiosk':28s}{'p50':>9s}{'p99':>9s}{'max':>9s}{'n':>6s}  (ms)")
    for label, s in (("idle", i), ("during the flood", d)):
        print(f"{label:28s}{s['p50']:9.2f}{s['p99']:9.2f}{s['max']:9.2f}{s['n']:6d}")
    print(json.dumps(result))
    raise SystemExit(0 if result["target_met"] else 1)


if __name__ == "__main__":
    main()
