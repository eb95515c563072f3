"""Retention: entries older than the retention period leave the gateway, for real.

A record may go only when it is past `console.retention_days` AND the platform has it
(it is no longer in the forwarder's `uploads` queue): the gateway must never lose a scan
the city does not have yet. Deleting a row in SQLite only marks its space free, and the
forwarder's own deletes of clear personal data leave the same traces, so the purge runs
with `secure_delete` (freed content overwritten with zeros), then VACUUMs (no free page
left holding old bytes) and truncates the WAL. tests/test_retention.py greps the file.

Runs daily at `console.purge_at` on its own sqlite3 connection in a worker thread, in
batches, so the store's writer (and a person waiting at the door) waits at most one short
batch. A purge that finds the database locked tries again the next day; any other
failure ends the task, for the gateway's supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
BATCH = 2000


@dataclass(frozen=True, slots=True)
class PurgeResult:
    events: int
    alerts: int  # closed alerts, and the duty records beside them (gateway/duty.py)
    vacuumed: bool
    seconds: float


def purge(db_path: Path, retention_days: int, now_ms: int | None = None,
          vacuum: bool = True) -> PurgeResult:
    started = time.perf_counter()
    cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - retention_days * DAY_MS
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA secure_delete=ON")
        events = 0
        while True:
            cur = conn.execute(
                "DELETE FROM events WHERE id IN (SELECT e.id FROM events e "
                "WHERE e.ts < ? AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.id = e.id) "
                "LIMIT ?)",
                (cutoff, BATCH),
            )
            events += cur.rowcount
            if cur.rowcount < BATCH:
                break
        alerts = 0
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='console_alerts'").fetchone():
            alerts = conn.execute(
                "DELETE FROM console_alerts WHERE ts < ? AND acked_ms IS NOT NULL", (cutoff,)
            ).rowcount
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='gate_openings'").fetchone():
            # gates opened by staff (a note may describe the visitor) and closed roster rows
            alerts += conn.execute("DELETE FROM gate_openings WHERE asked_ms < ?",
                                   (cutoff,)).rowcount
            alerts += conn.execute("DELETE FROM duty_roster WHERE off_ms < ?",
                                   (cutoff,)).rowcount
        vacuumed = False
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if vacuum and (events or alerts or free):
            conn.execute("VACUUM")
            vacuumed = True
        _checkpoint(conn)
    finally:
        conn.close()
    return PurgeResult(events, alerts, vacuumed, time.perf_counter() - started)


def _checkpoint(conn: sqlite3.Connection, tries: int = 20) -> None:
    """Copy the WAL into the file and empty it; readers may hold it a moment."""
    for _ in range(tries):
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
        time.sleep(0.1)
    log.warning("WAL not truncated after purge: readers kept it busy")


def seconds_until(at: str, tz: ZoneInfo, now: datetime | None = None) -> float:
    """Seconds from now until the next local hh:mm."""
    now = now or datetime.now(tz)
    hh, mm = (int(x) for x in at.split(":"))
    nxt = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if nxt <= now:
        nxt += timedelta(days=1)
    return (nxt - now).total_seconds()


async def run(db_path: Path, retention_days: int, at: str, tz: ZoneInfo,
              vacuum: bool = True) -> None:
    while True:
        await asyncio.sleep(seconds_until(at, tz))
        try:
            result = await asyncio.to_thread(purge, db_path, retention_days, None, vacuum)
        except sqlite3.OperationalError as exc:  # locked past the busy timeout
            log.warning("retention purge did not run: %s", exc)
            continue
        if result.events or result.alerts:
            log.info("retention: purged %d entries, %d alerts in %.2f s",
                     result.events, result.alerts, result.seconds)
