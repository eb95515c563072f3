"""Retention: old entries the platform has confirmed are purged from the database FILE.

A real store file, filled through the store's own write path; the purge runs as the
gateway runs it; then the file's bytes (and its WAL) are searched for what was purged.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from firmware import schema
from gateway import duty, retention
from gateway.checkin import upload_record
from gateway.personal import Pseudonymiser, mask, mask_name
from gateway.store import Store
from tests.test_store import close_store, open_store

DAY = 86_400_000
NOW = 1_795_000_000_000
pseudonyms = Pseudonymiser("retention-test-key-0123")


def person(n: int) -> tuple[str, str]:
    return f"4101021980010{n:04d}X", f"张{'三四五六七八'[n % 6]}明{n}"


async def add(store: Store, n: int, ts: int) -> dict:
    number, name = person(n)
    msg = {"id": f"0000{n:04d}-ev-{ts}", "kiosk": "k1", "door": "gate", "seq": n, "ts": ts,
           "method": "id_card", "medium": "card", "credential": number, "name": name}
    await store.add_scan(msg, ts, pseudonyms.subject("id_card", number), mask("id_card", number),
                         mask_name(name), upload_record("site", msg))
    return msg


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(str(path) + "-wal")) if p.exists())


def traces(msg: dict) -> list[bytes]:
    return [msg["id"].encode(), msg["credential"].encode(), msg["name"].encode(),
            pseudonyms.subject("id_card", msg["credential"]).encode()]


def checkpoint(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def test_purged_entries_are_gone_from_the_file_and_unconfirmed_ones_stay(tmp_path):
    path = tmp_path / "gateway.sqlite"
    store, reads = await open_store(path)
    try:
        old_confirmed = [await add(store, n, NOW - 40 * DAY + n) for n in range(1, 30)]
        old_pending = await add(store, 100, NOW - 40 * DAY + 500)  # platform never confirmed
        recent = await add(store, 200, NOW - 2 * DAY)
        checkpoint(path)  # into the main file
        pending = await reads.pending_uploads(1000, hold_before_ms=NOW * 2)
        confirm = [n for n, body in pending if body["key"] != old_pending["id"]]
        await store.confirm_uploads(confirm)
        checkpoint(path)
        before = file_bytes(path)
        # Before the purge the file holds the entries (event id, keyed hash): without
        # this the test would prove nothing.
        assert all(t in before for m in old_confirmed for t in traces(m)[::3])

        result = await asyncio.to_thread(retention.purge, path, 28, NOW)

        assert result.events == len(old_confirmed) and result.vacuumed
        with contextlib.closing(sqlite3.connect(path)) as conn:
            left = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY ts")]
        assert left == [old_pending["id"], recent["id"]]
    finally:
        await close_store(store, reads)
    after = file_bytes(path)
    for msg in old_confirmed:
        for trace in traces(msg):
            assert trace not in after, f"purged data still in the file: {trace[:12]!r}…"
    # The recent entry is kept (hashed and masked); the unconfirmed one keeps its clear
    # upload record until the platform confirms it.
    assert recent["id"].encode() in after
    assert old_pending["credential"].encode() in after


async def test_nothing_is_purged_inside_the_retention_period(tmp_path):
    path = tmp_path / "gateway.sqlite"
    store, reads = await open_store(path)
    try:
        msg = await add(store, 1, NOW - 27 * DAY)
        pending = await reads.pending_uploads(10, hold_before_ms=NOW * 2)
        await store.confirm_uploads([n for n, _ in pending])
        result = await asyncio.to_thread(retention.purge, path, 28, NOW)
        assert result.events == 0
    finally:
        await close_store(store, reads)
    assert msg["id"].encode() in file_bytes(path)


def test_the_purge_runs_at_the_configured_local_time():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    assert retention.seconds_until("03:00", tz, datetime(2026, 11, 24, 2, 0, tzinfo=tz)) == 3600
    assert retention.seconds_until("03:00", tz, datetime(2026, 11, 24, 3, 0, tzinfo=tz)) == 86400


async def test_old_gate_openings_and_closed_roster_rows_leave_with_the_alerts(tmp_path):
    path = tmp_path / "gateway.sqlite"
    store, reads = await open_store(path)
    await close_store(store, reads)
    schema.migrate_file(path, duty.COMPONENT)
    note = "checked the paper code of 王某某"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for n, at in enumerate((NOW - 40 * DAY, NOW - DAY)):
            conn.execute("INSERT INTO gate_openings (id, door, kiosk, user, via, reason, note, "
                         "asked_ms) VALUES (?,?,?,?,?,?,?,?)",
                         (f"g-{n}", "east-gate", "kiosk-1", "wang", "console",
                          "manual_check_passed", note, at))
        conn.execute("INSERT INTO duty_roster (door, user, on_ms, on_via, off_ms, off_via) "
                     "VALUES ('east-gate', 'wang', ?, 'console', ?, 'console')",
                     (NOW - 41 * DAY, NOW - 40 * DAY))
        conn.execute("INSERT INTO duty_roster (door, user, on_ms, on_via) "
                     "VALUES ('east-gate', 'li', ?, 'console')", (NOW - 40 * DAY,))
        conn.commit()
    result = await asyncio.to_thread(retention.purge, path, 28, NOW)
    assert result.alerts == 2
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM gate_openings")] == ["g-1"]
        assert [r[0] for r in conn.execute("SELECT user FROM duty_roster")] == ["li"], \
            "someone still on duty keeps their row"

