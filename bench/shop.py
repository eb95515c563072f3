"""Shop unit: code line received -> LED on, under the real MicroPython interpreter
(WebAssembly port in Node), through the real broker and the real gateway answering from
its cache, with the scanner module simulator on a pty.

The harness's clock times it (the WebAssembly port's ticks_us has millisecond steps): from
the UART read that handed the code line to the firmware to the firmware setting the LED.
Baseline, same harness, same broker, same run: umqtt.simple inside the same interpreter
publishing QoS 1 to a topic it subscribes to and waiting for the message back (the bare
broker round trip), timed by the same clock between two marks the firmware sends. The
difference is the unit's work (outbox write, JSON, protocol checks) plus the gateway's. The
peak heap is the most live heap (gc.mem_alloc() after a collection) at any I/O call, in a
run of its own (firmware/shop/sim_board.py). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import summarise
from gateway.broker import Broker
from simulators import processes
from simulators.population import first_of_colour
from simulators.shop_scanner import ScannerModule
from simulators.shop_unit import ShopUnit, unit_config

SITE = "bench-site"


def run(scans: int, bare: int, work: Path) -> dict:
    with Broker(work / "broker") as broker, ScannerModule(work / "gm65") as scanner:
        platform, platform_url = processes.start_platform(work)
        gateway, _ = processes.start_gateway(
            work, processes.gateway_config(work, SITE, broker.port, platform_url))
        try:
            cfg = unit_config(SITE, "shop-bench", "door-1", broker.port, show_ms=60,
                              verdict_budget_ms=3000, same_code_ms=0)
            unit = ShopUnit(cfg, scanner.path, work / "logs" / "unit.log")
            unit.wait_online()
            code = first_of_colour(7, "green").code_url
            scanner.present(code)  # the platform lookup that fills the gateway's cache
            unit.wait_for_shows(1, timeout=20)
            unit.latencies_us.clear()
            for _ in range(scans):
                before = len(unit.scan_latencies)
                scanner.present(code)
                deadline = time.monotonic() + 10
                while len(unit.scan_latencies) == before and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(0.12)  # the show ends (60 ms) and the unit is idle again
            report = unit.stop() or {}
            scan_ms = [s * 1000 for s in unit.scan_latencies[1:]]  # [0]: the warm-up scan

            baseline = ShopUnit(cfg, scanner.path, work / "logs" / "bare.log", mode="bare",
                                count=bare)
            baseline.proc.wait(120)
            found = re.search(r"^bare:(.*)$", baseline.log_path.read_text(), re.MULTILINE)
            baseline.close()
            if not found:
                raise RuntimeError("bare round trips failed:\n" + baseline.log_tail())
            marks = baseline.marks
            bare_ms = [(marks[i + 1] - marks[i]) * 1000 for i in range(0, len(marks) - 1, 2)]

            # the heap, in a run of its own: a collection before every I/O call is too
            # slow to time, and gives the live peak at every point the firmware waits
            probe = ShopUnit(cfg, scanner.path, work / "logs" / "heap.log", heap_probe=True)
            probe.wait_online()
            for n in range(1, 6):
                scanner.present(code)
                probe.wait_for_shows(n, timeout=20)
            heap = probe.stop() or {}
        finally:
            gateway.stop()
            platform.stop()
    scan = summarise(scan_ms)
    base = summarise(bare_ms)
    return {
        "benchmark": "shop_scan_to_led",
        "interpreter": "MicroPython 1.27.0, WebAssembly port in Node",
        "scans": len(scan_ms),
        "scan_to_led_ms": scan,
        "bare_broker_round_trip_ms": base,
        "p50_over_bare": round(scan["p50"] / base["p50"], 2),
        "p99_over_bare": round(scan["p99"] / base["p99"], 2),
        "peak_heap_bytes": heap.get("peak_heap"),
        # the interpreter and bridge before the firmware is imported; after its modules
        # are compiled from source (bytecode, which a frozen image keeps in flash); after
        # the unit started
        "heap_before_firmware_bytes": heap.get("heap_before_firmware"),
        "heap_firmware_imported_bytes": heap.get("heap_firmware_imported"),
        "heap_started_bytes": heap.get("heap_started"),
        "shown": report.get("shown"),
        "verdict_sources": report.get("sources"),  # the warm-up from the platform, the rest cache
        "outbox_left": report.get("outbox"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scans", type=int, default=200)
    p.add_argument("--bare", type=int, default=200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-shop-") as tmp:
        summary = run(args.scans, args.bare, Path(tmp))
    print(f"scan line -> LED on: p50 {summary['scan_to_led_ms']['p50']} ms, "
          f"p99 {summary['scan_to_led_ms']['p99']} ms over {summary['scans']} scans")
    print(f"bare broker round trip: p50 {summary['bare_broker_round_trip_ms']['p50']} ms, "
          f"p99 {summary['bare_broker_round_trip_ms']['p99']} ms")
    print(f"peak heap {summary['peak_heap_bytes']} bytes")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
