"""bench-report: building and sending one day's reports for 5,000 units, next to a plain
GROUP BY over the same table in the same run.

Builds once (cached under var/bench/): a venue register of 1,000 malls with 4 shops each
(5,000 units, 6,000 doors: two per mall, one per shop) through provisioning's own
validation, and a gateway store (gateway/store.py's schema) with N scans over 30 days at
those doors, generated in SQLite by a recursive CTE, indexes made after the load. The
platform simulator runs as a process, holding the reported day's scan records (copied
from the store), so its check of each report has the data a real platform would.

Then, repeated `--runs` times in alternating order:
- group_by: the plain query a report needs at least, `SELECT door, colour, count(*) ...
  GROUP BY door, colour` over the day (read-only connection, the store's time index);
- build: every unit's report from that day (gateway/report.py: the query with the
  manual/transcribed counts, the roll-up over the tree, the bodies);
- build_and_send: the reporter sending all 5,000 again (gateway/reporter.py: build, the
  ledger, the platform's format, 10 requests of 500 to the simulator over HTTP, its check
  of each report against its records, the answers kept).
Last line: JSON summary (median and p99 of each, in ms).

    python -m bench.report [--events 10000000] [--runs 11] [--rebuild]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite

from bench.stats import summarise
from firmware import schema
from gateway import report, reporter
from gateway.periods import Periods
from gateway.platform import HttpPlatform
from gateway.store import SCHEMA
from gateway.venues import Units
from provisioning.registry import Registry, build_venue
from provisioning.validators import credit_check_char
from simulators import platform_records, processes

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
DAY_MS = 86_400_000
DAYS = 30
FIRST = date(2026, 10, 1)
MALLS, SHOPS = 1000, 4
REPORT_DAY = date(2026, 10, 16)  # mid-range: a full day of scans on either side


def credit(serial: int) -> str:
    first17 = f"91410103{serial:09d}"
    return first17 + credit_check_char(first17)


def build_register(path: Path) -> list[str]:
    """5,000 units; returns every door as scans name it."""
    path.unlink(missing_ok=True)
    rows, doors = [], []
    for m in range(MALLS):
        mall = f"410103{m:04d}0000"
        rows.append({"code": mall, "name": f"商场{m}", "category": "supermarket",
                     "credit_code": credit(m * 10), "address": "郑州市二七区",
                     "manager_name": "王经理", "manager_phone": "13800138000",
                     "doors": "E1:东门;W1:西门"})
        doors += [f"{mall}/E1", f"{mall}/W1"]
        for s in range(1, SHOPS + 1):
            shop = f"410103{m:04d}{s:04d}"
            rows.append({"code": shop, "parent": mall, "name": f"商场{m}店铺{s}",
                         "category": "small_shop", "address": "郑州市二七区",
                         "manager_name": "李店长", "manager_phone": "13900139000",
                         "doors": "01:店门"})
            doors.append(f"{shop}/01")
    with Registry(path) as registry:
        registry.put_many([build_venue(r) for r in rows])
    return doors


def build_store(path: Path, events: int, doors: list[str]) -> None:
    path.unlink(missing_ok=True)
    t0 = int(datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=TZ).timestamp() * 1000)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.executescript(SCHEMA)
    indexes = [sql for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='events' "
        "AND sql IS NOT NULL")]
    for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='events' "
            "AND sql IS NOT NULL").fetchall():
        conn.execute(f"DROP INDEX {name}")
    conn.execute("CREATE TEMP TABLE bench_doors (i INTEGER PRIMARY KEY, door TEXT)")
    conn.executemany("INSERT INTO bench_doors VALUES (?,?)", enumerate(doors))
    step = DAYS * DAY_MS // events
    conn.execute("BEGIN")
    conn.execute(f"""
        WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < {events - 1}),
        r(n, ts, d, roll) AS (
            SELECT n, {t0} + n * {step} + abs(random()) % {step or 1},
                   abs(random()) % {len(doors)}, abs(random()) % 100 FROM c)
        INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, medium, subject,
                            masked, masked_name, colour, action, prompt, source, verdict_ms)
        SELECT printf('%012x-7000-%012x', ts, n), 'kiosk-' || d,
               (SELECT door FROM bench_doors WHERE i = d), n, ts, ts + 40,
               CASE WHEN roll = 99 THEN 'manual' ELSE 'code' END, 'screen',
               printf('%032d', n % 1000003), '…0001', NULL,
               CASE WHEN roll < 90 THEN 'green' WHEN roll < 94 THEN 'yellow'
                    WHEN roll < 96 THEN 'red' WHEN roll < 98 THEN 'unknown' ELSE NULL END,
               'open', 'pass', 'platform', ts + 90
        FROM r""")
    conn.execute("COMMIT")
    for statement in indexes:
        conn.execute(statement)
    conn.execute("ANALYZE")
    conn.close()


def platform_records_for(store: Path, platform_db: Path, start: int, end: int) -> int:
    """The day's scan records at the platform, as the forwarder would have delivered them."""
    platform_db.unlink(missing_ok=True)
    platform_records.RecordStore(platform_db)  # its schema, migrated
    conn = sqlite3.connect(platform_db, isolation_level=None)
    conn.execute("ATTACH ? AS gw", (f"file:{store}?mode=ro",))
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO records (key, kiosk, seq, body, received_at, epoch, door, ts) "
        "SELECT id, kiosk, seq, '{}', '', 0, door, ts FROM gw.events WHERE ts >= ? AND ts < ?",
        (start, end))
    conn.execute("COMMIT")
    n = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    conn.close()
    return n


async def measure(store: Path, register: Path, work: Path, url: str, runs: int) -> dict:
    units = Units("bench", register)
    periods = Periods(TZ)
    period = periods.period(REPORT_DAY)
    events = await aiosqlite.connect(f"file:{store}?mode=ro", uri=True)
    await events.execute("PRAGMA query_only=ON")
    ledger_path = work / "console.sqlite"
    ledger_path.unlink(missing_ok=True)
    db = await aiosqlite.connect(ledger_path, isolation_level=None)
    await schema.migrate_async(db, ledger_path, reporter.COMPONENT)
    platform = HttpPlatform(url, 0.8, upload_timeout_s=120)
    rep = reporter.Reporter(db, events, platform, units, periods, "bench")
    now = period.deadline_ms - 60_000  # before the deadline: on time
    try:
        first = await rep.send(REPORT_DAY, "bench", now)  # warm-up, and the correctness check
        view = await rep.view(REPORT_DAY, now)

        async def group_by() -> None:
            async with events.execute(
                "SELECT door, colour, count(*) FROM events WHERE ts >= ? AND ts < ? "
                "GROUP BY door, colour", (period.start_ms, period.end_ms),
            ) as cur:
                await cur.fetchall()

        async def build() -> None:
            report.build(await report.scans_by_door(events, period.start_ms, period.end_ms),
                         units.tree(), period, TZ, "bench", now)

        async def build_and_send() -> None:
            result = await rep.send(REPORT_DAY, "bench", now)
            assert result["ok"], result

        timings: dict[str, list[float]] = {"group_by": [], "build": [], "build_and_send": []}
        work_items = [("group_by", group_by), ("build", build),
                      ("build_and_send", build_and_send)]
        for n in range(runs):
            for name, fn in (work_items if n % 2 == 0 else list(reversed(work_items))):
                started = time.perf_counter()
                await fn()
                timings[name].append((time.perf_counter() - started) * 1000)
        top = [u for u in view["units"] if u["depth"] == 0]
        return {"timings": timings, "first_send": first, "states": view["states"],
                "day_scans": sum(u["scans"] for u in top), "units": len(view["units"])}
    finally:
        await platform.close()
        await db.close()
        await events.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    work = ROOT / "var" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    register = work / "report-register.sqlite"
    store = work / f"report-{args.events}.sqlite"
    build_s = None
    if args.rebuild or not register.exists() or not store.exists():
        started = time.perf_counter()
        print(f"building a register of {MALLS * (SHOPS + 1):,} units and {args.events:,} "
              f"scans over {DAYS} days -> {store} …", flush=True)
        doors = build_register(register)
        build_store(store, args.events, doors)
        build_s = round(time.perf_counter() - started, 1)
        print(f"built in {build_s} s ({store.stat().st_size / 1e9:.2f} GB)", flush=True)
    period = Periods(TZ).period(REPORT_DAY)
    run_dir = work / "report-run"
    run_dir.mkdir(exist_ok=True)
    records = platform_records_for(store, run_dir / "platform.sqlite", period.start_ms,
                                   period.end_ms)
    proc, url = processes.start_platform(run_dir)
    try:
        result = asyncio.run(measure(store, register, run_dir, url, args.runs))
    finally:
        proc.stop()
    t = result["timings"]
    summary = {
        "bench": "report", "events": args.events, "days": DAYS, "units": result["units"],
        "doors": MALLS * (2 + SHOPS), "day": REPORT_DAY.isoformat(),
        "day_scans": result["day_scans"], "platform_records": records, "runs": args.runs,
        "build_s": build_s, "states": result["states"],
        "group_by_ms": summarise(t["group_by"]),
        "build_ms": summarise(t["build"]),
        "build_and_send_ms": summarise(t["build_and_send"]),
    }
    summary["build_vs_group_by"] = round(
        summary["build_ms"]["p50"] / max(summary["group_by_ms"]["p50"], 1e-3), 2)
    summary["build_and_send_vs_group_by"] = round(
        summary["build_and_send_ms"]["p50"] / max(summary["group_by_ms"]["p50"], 1e-3), 2)
    print(f"{result['units']} units, {result['day_scans']:,} scans that day: plain GROUP BY "
          f"p50 {summary['group_by_ms']['p50']} ms p99 {summary['group_by_ms']['p99']} ms; "
          f"build p50 {summary['build_ms']['p50']} ms p99 {summary['build_ms']['p99']} ms; "
          f"build and send p50 {summary['build_and_send_ms']['p50']} ms "
          f"p99 {summary['build_and_send_ms']['p99']} ms; states {result['states']}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
