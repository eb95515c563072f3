"""bench-trace: tracing queries on 10 million entries, next to a full scan of the same table.

Builds (once, cached under var/bench/) a store with the gateway's own schema
(gateway/store.py): N entries over 30 days at 500 doors by ~N/10 people, generated in
SQLite by a recursive CTE in one transaction, indexes created after the load. Then, in
the same run: the tracer's questions through gateway/tracing.py (a person's visits over
14 days with everyone at the same door within ±30 min; everyone at a door in an hour),
and the same table read without an index (NOT INDEXED), the plain full scan a store
without the indexes would need for each question. Last line: JSON summary.

    python -m bench.trace [--events 10000000] [--queries 200] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from pathlib import Path

from gateway import tracing
from gateway.read_model import connect_readonly
from gateway.store import SCHEMA

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400_000
T0 = 1_790_000_000_000  # start of the 30 days
DAYS, DOORS = 30, 500
TARGET_P99_MS = 200.0


def build(path: Path, events: int) -> float:
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    people = max(1, events // 10)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.executescript(SCHEMA)
    # The store's own indexes on events, dropped for the load and made again after it.
    indexes = [sql for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master"
        " WHERE type='index' AND tbl_name='events' AND sql IS NOT NULL")]
    for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='events' "
            "AND sql IS NOT NULL").fetchall():
        conn.execute(f"DROP INDEX {name}")
    step = DAYS * DAY // events
    conn.execute("BEGIN")
    # ts rises with n, so the time-ordered event id (the primary key) is appended in order.
    conn.execute(f"""
        WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < {events - 1}),
        r(n, ts, door, person) AS (
            SELECT n, {T0} + n * {step} + abs(random()) % {step or 1},
                   abs(random()) % {DOORS}, abs(random()) % {people} FROM c)
        INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, medium, subject,
                            masked, masked_name, colour, action, prompt, source, verdict_ms)
        SELECT printf('%012x-7000-%012x', ts, n), 'kiosk-' || door, 'door-' || door, n, ts,
               ts + 40, 'code', 'screen', printf('%032d', person),
               printf('…%04d', person % 10000), NULL, 'green', 'open', 'pass', 'platform',
               ts + 90
        FROM r""")
    conn.execute("COMMIT")
    for statement in indexes:
        conn.execute(statement)
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trace")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scans", type=int, default=3, help="full scans for the baseline")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args(argv)
    path = args.db or ROOT / "var" / "bench" / f"trace-{args.events}.sqlite"
    build_s = None
    if args.rebuild or not path.exists():
        print(f"building {args.events:,} entries, {DOORS} doors, {DAYS} days -> {path} …",
              flush=True)
        build_s = round(build(path, args.events), 1)
        print(f"built in {build_s} s ({path.stat().st_size / 1e9:.2f} GB)", flush=True)

    conn = connect_readonly(path)
    rng = random.Random(8)
    people = max(1, args.events // 10)
    window = 30 * 60_000

    person_ms, person_rows = [], []
    for _ in range(args.queries):
        subject = f"{rng.randrange(people):032d}"
        t1 = T0 + rng.randrange(0, 16) * DAY
        ms, result = timed(lambda s=subject, t=t1: tracing.trace_person(conn, [s], t, t + 14 * DAY,
                                                                         window))
        person_ms.append(ms)
        person_rows.append(len(result["visits"]) + len(result["contacts"]))
    door_ms, door_rows = [], []
    for _ in range(args.queries):
        door = f"door-{rng.randrange(DOORS)}"
        t1 = T0 + rng.randrange(0, DAYS * 24 - 1) * 3_600_000
        ms, rows = timed(lambda d=door, t=t1: tracing.at_door(conn, d, t, t + 3_600_000))
        door_ms.append(ms)
        door_rows.append(len(rows))

    # Baseline, same table, same run: the person's visits read without any index (the
    # unary + keeps SQLite from using one, which NOT INDEXED alone does not on this table).
    scan_ms = []
    for _ in range(args.scans):
        subject = f"{rng.randrange(people):032d}"
        ms, _rows = timed(lambda s=subject: conn.execute(
            f"SELECT {tracing.COLUMNS} FROM events NOT INDEXED WHERE +subject = ? "
            "AND +ts BETWEEN ? AND ?", (s, T0, T0 + DAYS * DAY)).fetchall())
        scan_ms.append(ms)
    conn.close()

    summary = {
        "bench": "trace", "events": args.events, "doors": DOORS, "days": DAYS,
        "people": people, "queries": args.queries, "build_s": build_s,
        "db_gb": round(path.stat().st_size / 1e9, 2),
        "trace_person_ms": {"p50": pct(person_ms, 0.5), "p99": pct(person_ms, 0.99),
                            "max": round(max(person_ms), 2),
                            "rows_mean": round(statistics.mean(person_rows), 1)},
        "at_door_1h_ms": {"p50": pct(door_ms, 0.5), "p99": pct(door_ms, 0.99),
                          "rows_mean": round(statistics.mean(door_rows), 1)},
        "full_scan_ms": {"median": round(statistics.median(scan_ms), 1),
                         "runs": [round(x, 1) for x in scan_ms]},
        "target_p99_ms": TARGET_P99_MS,
    }
    summary["person_p50_vs_full_scan"] = round(
        summary["full_scan_ms"]["median"] / max(summary["trace_person_ms"]["p50"], 1e-3), 1)
    summary["meets_target"] = max(summary["trace_person_ms"]["p99"],
                                  summary["at_door_1h_ms"]["p99"]) <= TARGET_P99_MS
    print(f"trace a person (14 days, ±30 min): p50 {summary['trace_person_ms']['p50']} ms, "
          f"p99 {summary['trace_person_ms']['p99']} ms; door, 1 h: p50 "
          f"{summary['at_door_1h_ms']['p50']} ms, p99 {summary['at_door_1h_ms']['p99']} ms; "
          f"full scan {summary['full_scan_ms']['median']} ms")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
