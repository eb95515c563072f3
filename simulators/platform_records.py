"""The city platform simulator's record store: every uploaded scan record stored once per
idempotency key, in an upload process of its own.

Uploads are parsed, checked and stored in that process, so the simulator answers a status
lookup at once even while it stores a 500-record batch, as a real platform, which does not
serve both on one machine, would. On a thread of the serving process the two shared the
GIL: a batch's parse held lookups for up to 19 ms (bench-drain, loop-lag trace).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware import schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS records_kiosk_seq ON records (kiosk, seq);
"""
# Version 2: the kiosk's numbering epoch beside its seq (docs/protocol.md §1.9).
EPOCHS = """
ALTER TABLE records ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS records_stream_seq ON records (kiosk, epoch, seq);
"""
# Version 3: each record's door and scan time in columns of their own, for the daily-report
# check (simulators/platform_reports.py) to count a period's records per door.
DOOR_TS = """
ALTER TABLE records ADD COLUMN door TEXT;
ALTER TABLE records ADD COLUMN ts INTEGER;
UPDATE records SET door = json_extract(body, '$.door'), ts = json_extract(body, '$.ts');
CREATE INDEX IF NOT EXISTS records_ts_door ON records (ts, door);
"""
COMPONENT = schema.Component("platform_records", SCHEMA, (schema.Migration(2, EPOCHS),
                                                          schema.Migration(3, DOOR_TS)))


class ScanRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    key: str = Field(min_length=1, max_length=64)  # idempotency key: the event id
    kiosk: str
    seq: int = Field(ge=1)
    epoch: int = Field(0, ge=0)  # the kiosk's numbering epoch (absent: 0)
    door: str = Field(min_length=1, max_length=64)
    ts: int = Field(ge=0)


class RecordBatch(BaseModel):
    records: list[ScanRecord] = Field(max_length=5000)


class RecordStore:
    """The records table: written by the upload process, read by the serving one."""

    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        schema.migrate(self._db, db_path, COMPONENT)
        self._lock = threading.Lock()

    def store(self, batch: RecordBatch) -> tuple[int, int]:
        """Store each record once per idempotency key; return (new, duplicates)."""
        now = datetime.now(UTC).isoformat()
        rows: dict[str, tuple] = {}
        repeats: list[tuple[str]] = []
        for rec in batch.records:
            if rec.key in rows:
                repeats.append((rec.key,))
            else:
                rows[rec.key] = (rec.key, rec.kiosk, rec.seq, rec.model_dump_json(), now,
                                 rec.epoch, rec.door, rec.ts)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._store_rows(rows, repeats)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return len(rows), len(repeats)

    def _store_rows(self, rows: dict[str, tuple], repeats: list[tuple[str]]) -> None:
        keys = list(rows)
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            for (key,) in self._db.execute(
                f"SELECT key FROM records WHERE key IN ({','.join('?' * len(part))})", part
            ):
                repeats.append((key,))
                del rows[key]
        self._db.executemany(
            "INSERT INTO records (key, kiosk, seq, body, received_at, epoch, door, ts) "
            "VALUES (?,?,?,?,?,?,?,?)",
            rows.values(),
        )
        self._db.executemany(
            "UPDATE records SET deliveries = deliveries + 1 WHERE key=?", repeats
        )

    def totals(self) -> dict:
        with self._lock:
            total, deliveries = self._db.execute(
                "SELECT count(*), coalesce(sum(deliveries), 0) FROM records"
            ).fetchone()
            per_kiosk = dict(
                self._db.execute("SELECT kiosk, count(*) FROM records GROUP BY kiosk")
            )
            conflicts = self._db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM records GROUP BY kiosk, epoch, seq "
                "HAVING count(*) > 1)").fetchone()[0]
        return {"records": total, "deliveries": deliveries, "per_kiosk": per_kiosk,
                "seq_conflicts": conflicts}

    def conflicts(self) -> list[list]:
        """The platform's duplicate check on numbering: every (kiosk, epoch, seq) that more
        than one record (key) holds."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kiosk, epoch, seq, json_group_array(key) FROM records "
                "GROUP BY kiosk, epoch, seq HAVING count(*) > 1 ORDER BY kiosk, epoch, seq")
            return [[kiosk, epoch, seq, json.loads(keys)] for kiosk, epoch, seq, keys in rows]

    def keys(self, kiosk: str | None, arrival: bool = False) -> list[list]:
        order = "rowid" if arrival else "epoch, seq"
        with self._lock:
            if kiosk:
                rows = self._db.execute(
                    "SELECT key, kiosk, seq, deliveries, epoch FROM records WHERE kiosk=? "
                    f"ORDER BY {order}",
                    (kiosk,),
                )
            else:
                rows = self._db.execute(
                    "SELECT key, kiosk, seq, deliveries, epoch FROM records")
            return [list(r) for r in rows]

    def body(self, key: str) -> dict | None:
        """One stored record as it was uploaded (the first time)."""
        with self._lock:
            row = self._db.execute("SELECT body, deliveries FROM records WHERE key=?",
                                   (key,)).fetchone()
        return dict(json.loads(row[0]), deliveries=row[1]) if row else None


_store: RecordStore | None = None  # the upload process's own connection


def _open(db_path: Path) -> None:
    global _store
    _store = RecordStore(db_path)


def store_upload(body: bytes) -> tuple:
    """In the upload process: ("stored", new, duplicates), or ("invalid", errors) as
    plain data the serving process answers with a 422."""
    try:
        batch = RecordBatch.model_validate_json(body)
    except ValidationError as exc:
        return ("invalid", json.loads(exc.json(include_url=False)))
    return ("stored", *_store.store(batch))


class UploadProcess:
    """The one process that stores uploads; started with the app, ended with it. A
    `kill -9` of the simulator's process group ends it too, as a crash of the platform
    would; a stored batch whose answer was lost is sent again and counted once."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                1, multiprocessing.get_context("spawn"), _open, (self.db_path,)
            )
        return self._executor

    def start(self) -> None:
        """Spawn it and open its store now, not on the first upload."""
        self._pool().submit(int).result()

    async def store(self, body: bytes) -> tuple:
        pool = self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, store_upload, body)
        except BrokenProcessPool:
            # The upload process died (killed alone): this upload fails, the forwarder
            # retries it, and the next one gets a fresh process.
            if self._executor is pool:
                self._executor = None
            raise

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
