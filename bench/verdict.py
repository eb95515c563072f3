"""bench-verdict: scan-to-verdict latency for (a) a cached status, (b) a platform lookup
with the simulator answering after 20 ms, (c) a signed code verified on the kiosk — each
next to the bare broker round trip measured in the same run.

Each runs from the reading handed to the kiosk process (the production process, started by
the simulators with scripted input) to its lights showing the verdict, everything
included: outbox commit and fsync, round trip, signal. Targets: (a) ≤ 2x bare, (b) ≤ bare + 30 ms,
(c) ≤ 15 ms. The last line is a JSON summary.

Scans are 50 ms apart, as people at a door, and the bare round trip they are compared
with is paced the same way: between two people every process here goes idle, and waking
four of them costs as much again as the round trip itself (here ~1.3 ms paced vs ~0.7 ms
back to back). The back-to-back figure is printed too; `--gap-ms 0` runs everything back
to back and compares like with like at that pace instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

import httpx

from bench.kiosk_process import KioskProcess
from bench.roundtrip import bare_round_trips
from bench.stats import summarise
from firmware import startup
from firmware.kiosk.reading import Reading
from firmware.startup import tune_interpreter
from gateway.broker import Broker
from provisioning import keys
from simulators import processes
from simulators.population import population

SITE = "bench"


async def scans(kiosk: KioskProcess, make, n: int, warmup: int = 20, gap_s: float = 0.05
                ) -> tuple[list[float], list[tuple[str, str]]]:
    """Sequential scans `gap_s` apart, as people arrive at a door: each scan's disk work
    after its verdict (commit, ack, outbox clean-up) is done before the next person.
    Returns the latencies after warm-up and every verdict's (source, colour)."""
    samples, sources = [], []
    for i in range(n + warmup):
        await asyncio.sleep(gap_s)
        ms, shown = await kiosk.scan(make(i))
        sources.append((shown["source"], shown["colour"]))
        if i >= warmup:
            samples.append(ms)
    return samples, sources


async def run(n: int, gap_s: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-verdict-"))
    broker = Broker(work / "broker").start()
    platform, url = processes.start_platform(work)
    root, issuer = keys.new_private_key(), keys.new_issuer()
    (work / "root.pem").write_bytes(keys.public_pem(root))
    (work / "trust.cose").write_bytes(keys.sign_trust_list(root, SITE, 1, [issuer]))
    gw_cfg = processes.gateway_config(work, SITE, broker.port, url)
    gw_cfg["trust"] = {"list_file": str(work / "trust.cose")}
    gateway, _ = processes.start_gateway(work, gw_cfg)
    raw = processes.kiosk_config(work, SITE, "kiosk-1", "door-1", broker.port)
    raw.update(verdict_timeout_s=5.0, trust={"root_keys": str(work / "root.pem")})
    kiosk = await KioskProcess(work, raw).start()
    people = population(7)
    try:
        await kiosk.connected()
        bare = await bare_round_trips(broker.port, n, gap_s)
        bare_hot = await bare_round_trips(broker.port, n) if gap_s else bare

        # (a) one person again and again: every lookup after the first is a cache hit
        cached, sources = await scans(kiosk, lambda i: Reading("code", people[0].code_url), n,
                                      gap_s=gap_s)
        assert {source for source, _ in sources[20:]} == {"cache"}, set(sources)
        # (b) a new person each time, the platform answering after 20 ms
        httpx.put(url + "/sim/faults", json={"delay_ms": 20}).raise_for_status()
        lookup, sources = await scans(kiosk, lambda i: Reading("code", people[1 + i].code_url),
                                      n, gap_s=gap_s)
        assert {source for source, _ in sources} == {"platform"}, set(sources)
        httpx.put(url + "/sim/faults", json={}).raise_for_status()
        # (c) signed codes, verified on the kiosk
        codes = [keys.sign_code(issuer) for _ in range(n + 20)]
        signed, sources = await scans(kiosk, lambda i: Reading("signed_code", codes[i]), n,
                                      gap_s=gap_s)
        assert set(sources) == {("kiosk", "green")}, set(sources)  # trust list in force
    finally:
        await kiosk.stop()
        gateway.stop()
        platform.stop()
        broker.stop()
    return {"bench": "verdict", "n": n, "gap_ms": gap_s * 1000,
            "bare_broker_round_trip_ms": summarise(bare),
            "bare_broker_round_trip_back_to_back_ms": summarise(bare_hot),
            "a_cached_ms": summarise(cached), "b_platform_20ms_ms": summarise(lookup),
            "c_signed_on_kiosk_ms": summarise(signed)}


def main() -> None:
    tune_interpreter()  # as the kiosk process does
    parser = argparse.ArgumentParser(prog="just bench-verdict")
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--gap-ms", type=float, default=50.0,
                        help="time between two scans, and between two bare round trips")
    args = parser.parse_args()
    result = startup.run(run(args.n, args.gap_ms / 1000))
    bare = result["bare_broker_round_trip_ms"]
    a, b, c = (result[k] for k in ("a_cached_ms", "b_platform_20ms_ms", "c_signed_on_kiosk_ms"))
    result["targets"] = {
        "a_p50_le_2x_bare": a["p50"] <= 2 * bare["p50"],
        "a_p99_le_2x_bare": a["p99"] <= 2 * bare["p99"],
        "b_p50_le_bare_plus_30": b["p50"] <= bare["p50"] + 30,
        "b_p99_le_bare_plus_30": b["p99"] <= bare["p99"] + 30,
        "c_p50_le_15": c["p50"] <= 15,
        "c_p99_le_15": c["p99"] <= 15,
    }
    print(f"{'':34s}{'p50':>9s}{'p99':>9s}  (ms, n={result['n']}, {args.gap_ms:g} ms apart)")
    back_to_back = result["bare_broker_round_trip_back_to_back_ms"]
    for label, s in (("bare broker round trip", bare),
                     ("  (back to back, for reference)", back_to_back),
                     ("(a) cached status", a),
                     ("(b) platform lookup, 20 ms", b), ("(c) signed code on the kiosk", c)):
        print(f"{label:34s}{s['p50']:9.2f}{s['p99']:9.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
