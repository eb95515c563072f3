"""A platform outage of simulated hours: the gateway holds hundreds of thousands of
records for the platform, and once the platform is back they all drain, each once and in
order per kiosk."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest

from firmware import protocol
from gateway.store import SCHEMA
from simulators import processes

RECORDS = 200_000
KIOSKS = 8


def backlog_of_hours(db_path, records: int, kiosks: int) -> None:
    """The gateway's database as an outage leaves it: every scan stored and acknowledged,
    none confirmed by the platform (a busy site, 8 doors, several hours)."""
    ids = protocol.EventIds()
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA)
    start = 1_790_000_000_000
    events, uploads = [], []
    for n in range(records):
        kiosk, seq = f"kiosk-{n % kiosks + 1}", n // kiosks + 1
        ts = start + n * 100
        event_id = ids.new(ts)
        events.append((event_id, kiosk, "door", seq, ts, ts, "code", "screen", "h", "…abcd", None))
        body = {"key": event_id, "site": "t", "kiosk": kiosk, "door": "door", "seq": seq,
                "ts": ts, "method": "code", "medium": "screen", "credential": f"tok{n}"}
        uploads.append((event_id, kiosk, seq, ts, json.dumps(body)))
    db.executemany("INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, medium, "
                   "subject, masked, masked_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)", events)
    db.executemany("INSERT INTO uploads (id, kiosk, seq, queued_ms, body) VALUES (?,?,?,?,?)",
                   uploads)
    per_kiosk = records // kiosks
    db.executemany("INSERT INTO sequences (kiosk, contiguous, high) VALUES (?,?,?)",
                   [(f"kiosk-{k + 1}", per_kiosk, per_kiosk) for k in range(kiosks)])
    db.commit()
    db.close()


@pytest.mark.timeout(900)
def test_hours_of_backlog_drain_after_the_platform_returns(tmp_path, broker, platform):
    backlog_of_hours(tmp_path / "gateway.sqlite", RECORDS, KIOSKS)
    cfg = processes.gateway_config(tmp_path, "t", broker.port, platform, upload_batch=2000)
    proc, _url = processes.start_gateway(tmp_path, cfg)
    try:
        started = time.monotonic()
        while True:
            stats = httpx.get(platform + "/sim/stats", timeout=30).json()
            if stats["records"] >= RECORDS:
                break
            assert time.monotonic() - started < 800, f"only {stats['records']} drained"
            time.sleep(1)
        drain_s = time.monotonic() - started
        print(f"{RECORDS} records drained in {drain_s:.1f} s ({RECORDS / drain_s:.0f}/s)")
        assert stats["records"] == RECORDS
        for k in range(KIOSKS):
            records = httpx.get(platform + "/sim/records", timeout=60,
                                params={"kiosk": f"kiosk-{k + 1}", "order": "arrival"}).json()
            seqs = [r[2] for r in records]
            assert seqs == list(range(1, RECORDS // KIOSKS + 1)), "each once, in order"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the confirmed records leave the gateway's queue
            db = sqlite3.connect(tmp_path / "gateway.sqlite", timeout=10)
            left = db.execute("SELECT count(*) FROM uploads").fetchone()[0]
            db.close()
            if left == 0:
                break
            time.sleep(0.5)
        assert left == 0
    finally:
        proc.stop()
