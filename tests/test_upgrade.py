"""An upgrade keeps every record: a kiosk with 10,000 unsent scans, a gateway with 10,000
unsent uploads and a kiosk with 10,000 door counts not yet handed on, their files written
with the last unversioned release's schema (tests/schema_v1.py), come up on a release
whose schema has one version more, are rolled back to this release, and upgraded again; every
record reaches the gateway and the platform (or is handed on), once.

Real parts: Mosquitto, the gateway (a process for the kiosk test; in this process, with the
new release's migration, for the gateway test), the platform simulator, the kiosk's outbox
and link. The "new release" is this code with one more, additive, migration: a column.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
import uvicorn

from firmware import protocol, schema
from firmware.kiosk import config as kiosk_config
from firmware.kiosk import outbox
from firmware.kiosk.event import EventFactory
from firmware.kiosk.kiosk import Kiosk
from firmware.kiosk.reading import Reading
from firmware.schema import Migration
from gateway import config as gateway_config
from gateway import store
from gateway.app import create_app
from gateway.broker import free_port
from simulators import processes
from simulators.lights import SimulatedLights
from simulators.visitors import QueuedReadings
from tests import schema_v1
from tests.conftest import SITE, poll

BACKLOG = 10_000
OUTBOX_V2 = outbox.COMPONENT.then(Migration(2, "ALTER TABLE outbox ADD COLUMN note TEXT;"))
STORE = store.COMPONENT  # this release's
STORE_NEXT = STORE.then(Migration(
    STORE.version + 1, "ALTER TABLE uploads ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"))


def count(path: Path, sql: str, *args: object) -> int:
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute(sql, args).fetchone()[0]
    finally:
        db.close()


def versions(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path, timeout=10)
    try:
        return dict(db.execute("SELECT component, version FROM schema_versions"))
    finally:
        db.close()


# --- the kiosk -------------------------------------------------------------------------

def old_outbox_with_backlog(path: Path, kiosk: str, door: str, scans: int) -> list[str]:
    """The outbox as the last unversioned release leaves it after a long outage: every scan
    committed with its real message, none acknowledged. Returns the event ids."""
    path.parent.mkdir(parents=True, exist_ok=True)
    events = EventFactory(kiosk, door, clock=iter(range(1_790_000_000_000, 10**15, 50)).__next__)
    rows = []
    for seq in range(1, scans + 1):
        event_id, payload, ts = events.builder(Reading("code", f"tok-{seq}", "screen"))(seq)
        rows.append((seq, event_id, payload, ts))
    db = sqlite3.connect(path)
    db.executescript(schema_v1.OUTBOX)
    db.executemany("INSERT INTO outbox (seq, id, payload, created_ms) VALUES (?,?,?,?)", rows)
    db.commit()
    db.close()
    return [r[1] for r in rows]


@contextlib.asynccontextmanager
async def kiosk_running(cfg: kiosk_config.KioskConfig):
    readings = QueuedReadings()
    kiosk = Kiosk(cfg, readings, SimulatedLights())
    task = asyncio.create_task(kiosk.run())
    try:
        await asyncio.wait_for(kiosk.ready.wait(), 10)
        yield kiosk, readings
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.timeout(300)
async def test_a_kiosk_backlog_survives_upgrade_rollback_and_upgrade(
        tmp_path: Path, broker, platform, gateway, monkeypatch):
    cfg = kiosk_config.KioskConfig.model_validate(
        processes.kiosk_config(tmp_path, SITE, "kiosk-1", "door-1", broker.port))
    box = cfg.data_dir / "outbox.sqlite"
    ids = old_outbox_with_backlog(box, "kiosk-1", "door-1", BACKLOG)
    gw_db = tmp_path / "gateway.sqlite"

    def at_gateway() -> int:
        return count(gw_db, "SELECT count(*) FROM events WHERE kiosk = 'kiosk-1'")

    # The new release: migrates the outbox to version 2, starts draining it.
    monkeypatch.setattr(outbox, "COMPONENT", OUTBOX_V2)
    async with kiosk_running(cfg):
        assert versions(box) == {"outbox": 2}
        await poll(lambda: at_gateway() >= BACKLOG // 3, timeout=120, interval=0.05)
    progress = [at_gateway()]

    # Rolled back to this release: the version 2 file is used as it is (compat 1); the
    # door goes on, new scans join the backlog.
    monkeypatch.setattr(outbox, "COMPONENT", schema.Component("outbox", schema_v1.OUTBOX))
    async with kiosk_running(cfg) as (_, readings):
        assert versions(box) == {"outbox": 2}
        for n in range(5):
            readings.present(Reading("code", f"live-{n}", "screen"))
        await poll(lambda: at_gateway() >= 2 * BACKLOG // 3, timeout=120, interval=0.05)
        await poll(lambda: count(box, "SELECT value FROM meta WHERE key = 'last_seq'")
                   == BACKLOG + 5, timeout=30)
    progress.append(at_gateway())
    print("kiosk-1 scans at the gateway after each stop:", progress)
    assert progress[0] < progress[1] < BACKLOG, "each release had part of the backlog to send"

    # Upgraded again: nothing to migrate, the rest drains.
    monkeypatch.setattr(outbox, "COMPONENT", OUTBOX_V2)
    async with kiosk_running(cfg) as (kiosk, _):
        await poll(lambda: at_gateway() == BACKLOG + 5, timeout=120, interval=0.2)
        await poll(lambda: count(box, "SELECT count(*) FROM outbox") == 0, timeout=30)
        assert await kiosk.outbox.last_seq() == BACKLOG + 5

    # Every scan at the gateway once, numbered without gaps, and at the platform once.
    assert count(gw_db, "SELECT count(DISTINCT seq) FROM events WHERE kiosk='kiosk-1'") \
        == BACKLOG + 5
    assert count(gw_db, "SELECT max(seq) FROM events WHERE kiosk='kiosk-1'") == BACKLOG + 5
    records = await poll(lambda: _platform_records(platform, "kiosk-1", BACKLOG + 5),
                         timeout=120, interval=0.5)
    keys = [r[0] for r in records]
    assert len(keys) == len(set(keys)) == BACKLOG + 5
    assert set(ids) <= set(keys)


def _platform_records(platform: str, kiosk: str, want: int) -> list | None:
    rows = httpx.get(platform + "/sim/records", params={"kiosk": kiosk}, timeout=30).json()
    return rows if len(rows) >= want else None


# --- the gateway -----------------------------------------------------------------------

def old_gateway_with_backlog(path: Path, records: int, kiosks: int = 4) -> list[str]:
    """The gateway's file as the last unversioned release leaves it after a platform
    outage: every scan stored and acknowledged, none confirmed by the platform."""
    db = sqlite3.connect(path)
    for sql in (schema_v1.GATEWAY_STORE, schema_v1.CONSOLE_USERS, schema_v1.CONSOLE_SESSIONS,
                schema_v1.CONSOLE_AUDIT, schema_v1.CONSOLE_ALERTS,
                schema_v1.CONSOLE_DOOR_COUNTS, schema_v1.CONSOLE_REPORTS):
        db.executescript(sql)
    event_ids = protocol.EventIds()
    events, uploads, ids = [], [], []
    for n in range(records):
        kiosk, seq = f"kiosk-{n % kiosks + 1}", n // kiosks + 1
        ts = 1_790_000_000_000 + n * 100
        event_id = event_ids.new(ts)
        ids.append(event_id)
        events.append((event_id, kiosk, "door", seq, ts, ts, "code", "screen", "h", "…abcd", None))
        body = {"key": event_id, "site": SITE, "kiosk": kiosk, "door": "door", "seq": seq,
                "ts": ts, "method": "code", "medium": "screen", "credential": f"tok{n}"}
        uploads.append((event_id, kiosk, seq, ts, json.dumps(body)))
    db.executemany("INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, medium, "
                   "subject, masked, masked_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)", events)
    db.executemany("INSERT INTO uploads (id, kiosk, seq, queued_ms, body) VALUES (?,?,?,?,?)",
                   uploads)
    db.executemany("INSERT INTO sequences (kiosk, contiguous, high) VALUES (?,?,?)",
                   [(f"kiosk-{k + 1}", records // kiosks, records // kiosks)
                    for k in range(kiosks)])
    db.commit()
    db.close()
    return ids


@contextlib.asynccontextmanager
async def gateway_running(tmp_path: Path, broker_port: int, platform: str):
    """The gateway app in this process (so the test's migration list applies), over real
    HTTP, MQTT and platform uploads."""
    raw = processes.gateway_config(tmp_path, SITE, broker_port, platform, upload_batch=500)
    cfg = gateway_config.GatewayConfig.model_validate(raw)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1",
                                           port=free_port(), log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest.mark.timeout(300)
async def test_gateway_uploads_survive_upgrade_rollback_and_upgrade(
        tmp_path: Path, broker, platform, monkeypatch):
    gw_db = tmp_path / "gateway.sqlite"
    ids = old_gateway_with_backlog(gw_db, BACKLOG)

    async def at_platform() -> int:
        async with httpx.AsyncClient(timeout=30) as http:
            return (await http.get(platform + "/sim/stats")).json()["records"]

    async def platform_accepts(yes: bool) -> None:
        """Each release gets a part of the backlog: the platform takes uploads only
        between these calls."""
        async with httpx.AsyncClient(timeout=30) as http:
            (await http.put(platform + "/sim/faults", json={"fail_uploads": not yes}))\
                .raise_for_status()

    progress = []
    await platform_accepts(False)
    monkeypatch.setattr(store, "COMPONENT", STORE_NEXT)  # the new release
    async with gateway_running(tmp_path, broker.port, platform):
        assert versions(gw_db)["store"] == STORE_NEXT.version
        await platform_accepts(True)
        await poll(_at_least(at_platform, BACKLOG // 3), timeout=120, interval=0.05)
        await platform_accepts(False)
    progress.append(await at_platform())

    monkeypatch.setattr(store, "COMPONENT", STORE)
    async with gateway_running(tmp_path, broker.port, platform):  # rolled back
        assert versions(gw_db)["store"] == STORE_NEXT.version
        await platform_accepts(True)
        await poll(_at_least(at_platform, 2 * BACKLOG // 3), timeout=120, interval=0.05)
        await platform_accepts(False)
    progress.append(await at_platform())
    print("records at the platform after each stop:", progress)
    assert progress[0] < progress[1] < BACKLOG, "each release had part of the backlog to send"

    monkeypatch.setattr(store, "COMPONENT", STORE_NEXT)  # upgraded again
    async with gateway_running(tmp_path, broker.port, platform):
        await platform_accepts(True)
        await poll(_at_least(at_platform, BACKLOG), timeout=120, interval=0.2)
        await poll(lambda: count(gw_db, "SELECT count(*) FROM uploads") == 0, timeout=60)

    async with httpx.AsyncClient(timeout=60) as http:
        stats = (await http.get(platform + "/sim/stats")).json()
        keys = [r[0] for r in (await http.get(platform + "/sim/records")).json()]
    assert len(keys) == len(set(keys)) == BACKLOG and set(keys) == set(ids)
    # An upload cut short by a stop is sent again; the platform keeps it once by its key.
    assert stats["records"] == BACKLOG and stats["deliveries"] - BACKLOG <= 2 * 500
    assert count(gw_db, "SELECT count(*) FROM events") == BACKLOG


def _at_least(read, want: int):
    async def check() -> bool:
        return await read() >= want
    return check


# --- the kiosk's door counts ---------------------------------------------------------------

def test_door_counts_not_yet_handed_over_survive_upgrade_rollback_and_upgrade(
        tmp_path: Path, monkeypatch):
    from firmware.kiosk import board_counts

    path = tmp_path / "board-events.sqlite"
    db = sqlite3.connect(path)
    db.executescript(schema_v1.BOARD_EVENTS)
    db.executemany(
        "INSERT INTO board_events (board_boot, event_no, kind, value, uptime_ms, received_at)"
        " VALUES (?,?,?,?,?,?)",
        [(7, n, "passed", "in" if n % 3 else "out", n * 10, 1_790_000_000_000 + n)
         for n in range(1, BACKLOG + 1)])
    db.commit()
    db.close()
    v1 = schema.Component("board_events", schema_v1.BOARD_EVENTS)
    v2 = v1.then(Migration(2, "ALTER TABLE board_events ADD COLUMN door TEXT;"))
    handed: list[str] = []

    def hand_over(component: schema.Component, up_to: int) -> None:
        monkeypatch.setattr(board_counts, "COMPONENT", component)
        events = board_counts.DoorEventStore(path)
        try:
            assert versions(path) == {"board_events": 2}
            while len(handed) < up_to and (batch := events.not_handed_over(100)):
                for item in batch:
                    events.hand_over(item)
                    handed.append(item.key)
        finally:
            events.close()

    hand_over(v2, BACKLOG // 3)  # the new release
    hand_over(v1, 2 * BACKLOG // 3)  # rolled back
    hand_over(v2, BACKLOG + 1)  # upgraded again
    assert len(handed) == len(set(handed)) == BACKLOG
    assert count(path, "SELECT count(*) FROM board_events WHERE handed_over = 0") == 0


# --- the daily report's tables and the platform's records (version 2 of each) -------------

def test_report_attempts_and_platform_records_of_version_1_are_kept(tmp_path: Path):
    from gateway import reporter
    from simulators import platform_records

    gw = tmp_path / "gateway.sqlite"
    db = sqlite3.connect(gw)
    db.executescript(schema_v1.CONSOLE_REPORTS)
    db.execute("INSERT INTO console_reports (day, at_ms, trigger, ok, status, total) "
               "VALUES ('2026-11-24', 1, 'automatic', 1, 'HTTP 200', 812)")
    db.commit()
    db.close()
    schema.migrate_file(gw, reporter.COMPONENT)
    assert versions(gw) == {"console_reports": 2}
    assert count(gw, "SELECT count(*) FROM console_reports "
                     "WHERE total = 812 AND units IS NULL") == 1
    assert count(gw, "SELECT count(*) FROM console_report_units") == 0

    plat = tmp_path / "platform.sqlite"
    db = sqlite3.connect(plat)
    db.executescript(schema_v1.PLATFORM_RECORDS)
    db.execute("INSERT INTO records (key, kiosk, seq, body, received_at) VALUES (?,?,?,?,?)",
               ("a", "k1", 1, json.dumps({"key": "a", "kiosk": "k1", "seq": 1, "door": "V/E1",
                                          "ts": 1_790_000_000_000}), "2026-11-24"))
    db.commit()
    db.close()
    platform_records.RecordStore(plat)
    assert versions(plat) == {"platform_records": platform_records.COMPONENT.version}
    # the records received before are counted by door and time like the new ones
    assert count(plat, "SELECT count(*) FROM records WHERE door = 'V/E1' AND ts = ?",
                 1_790_000_000_000) == 1
