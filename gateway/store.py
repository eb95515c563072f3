"""The gateway's event store (SQLite, WAL): every scan once, its verdict, kiosk presence.

Idempotent on event id: a scan delivered twice (a kiosk resending after a drop) is
stored once and answered again with the verdict it already got. Clear personal data that
the platform upload needs waits in `uploads` and is deleted as soon as the platform has
confirmed the record; `events` holds only keyed hashes and masked forms.

The store's connection is its writer's alone; everyone else reads through the read model
(gateway/read_model.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiosqlite

from firmware import protocol, schema
from firmware.verdict import Verdict
from gateway import thread_priority

log = logging.getLogger(__name__)
BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
STORAGE_CODES = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)
T = TypeVar("T")


def is_busy(exc: BaseException) -> bool:
    """SQLite answered busy or locked: another connection holds the write lock (a purge's
    VACUUM, an installer's sqlite3 shell). A wait, not a fault."""
    code = getattr(exc, "sqlite_errorcode", 0)
    return isinstance(exc, sqlite3.OperationalError) and code & 0xFF in BUSY_CODES


def is_storage_fault(exc: BaseException) -> bool:
    """SQLite could not write the file: the disk is full, or the write failed. The file
    itself is sound (the transaction was rolled back), so the write can be tried again
    once the disk has room; a restart would mend nothing."""
    code = getattr(exc, "sqlite_errorcode", 0)
    return isinstance(exc, sqlite3.OperationalError) and code & 0xFF in STORAGE_CODES


async def patiently(work: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `work` until SQLite stops answering busy (a nightly VACUUM may hold the write
    lock for minutes) or disk full (it waits for room, with the store's storage alarm
    showing); anything else is raised."""
    pause = 0.05
    while True:
        try:
            return await work()
        except sqlite3.OperationalError as exc:
            if not (is_busy(exc) or is_storage_fault(exc)):
                raise
            log.warning("%s waits: %s", what, "database busy" if is_busy(exc) else exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

# Version 1 of the store (firmware/schema.py); later versions are migrations in COMPONENT.
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    door TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    method TEXT NOT NULL,
    medium TEXT,
    subject TEXT NOT NULL,
    masked TEXT NOT NULL,
    masked_name TEXT,
    colour TEXT,
    action TEXT,
    prompt TEXT,
    source TEXT,
    verdict_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_door_ts ON events (door, ts);
CREATE INDEX IF NOT EXISTS events_subject_ts ON events (subject, ts);
CREATE INDEX IF NOT EXISTS events_kiosk_seq ON events (kiosk, seq);
CREATE TABLE IF NOT EXISTS uploads (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kiosk TEXT NOT NULL,
    seq INTEGER NOT NULL,
    queued_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_kiosk_seq ON uploads (kiosk, seq);
-- Per kiosk: every seq up to `contiguous` is stored; `high` is the highest seen.
CREATE TABLE IF NOT EXISTS sequences (
    kiosk TEXT PRIMARY KEY,
    contiguous INTEGER NOT NULL,
    high INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    sw TEXT,
    outbox INTEGER,
    health TEXT,
    extra TEXT  -- the rest of the status: lists, clock, oldest unsent scan (JSON)
);
-- People counted through each door by the kiosks' boards, once per board event.
CREATE TABLE IF NOT EXISTS door_passes (
    id TEXT PRIMARY KEY,
    door TEXT NOT NULL,
    direction TEXT NOT NULL,
    ts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS door_passes_door_ts ON door_passes (door, ts);
CREATE TABLE IF NOT EXISTS forwarder (
    key TEXT PRIMARY KEY,
    value INTEGER
);
"""
# Version 2: numbering epochs (docs/protocol.md §1.9). A scan's identity in its kiosk's
# numbering is (kiosk, epoch, seq); epoch 0 is every scan from before epochs, so old rows
# and old kiosks go on as one epoch. `streams` takes over from `sequences` (kept, no longer
# written, for a rollback to read) with `uploaded`, the highest seq the platform has
# confirmed, so order is checked against durable state. `sequence_faults` records each
# scan that broke its kiosk's numbering (a reused number, or one arriving after higher ones
# went to the platform); the console raises an alert for each.
EPOCHS = """
ALTER TABLE events ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS uploads_kiosk_seq;
CREATE INDEX IF NOT EXISTS uploads_stream_seq ON uploads (kiosk, epoch, seq);
CREATE TABLE IF NOT EXISTS streams (
    kiosk TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    contiguous INTEGER NOT NULL,
    high INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kiosk, epoch)
) WITHOUT ROWID;
INSERT OR IGNORE INTO streams (kiosk, epoch, contiguous, high)
    SELECT kiosk, 0, contiguous, high FROM sequences;
CREATE TABLE IF NOT EXISTS sequence_faults (
    id TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    found_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""
# 3: people counted in and out at a venue's doors over a day, read from the index alone
# (venue-wide tracing's exit estimates, gateway/venue_tracing.py); additive
PASSES_BY_DIRECTION = ("CREATE INDEX IF NOT EXISTS door_passes_door_direction_ts"
                       " ON door_passes (door, direction, ts)")
COMPONENT = schema.Component("store", SCHEMA, (schema.Migration(2, EPOCHS),
                                               schema.Migration(3, PASSES_BY_DIRECTION)))


STATUS_EXTRA = ("lists", "oldest_ms", "first_seq", "last_seq", "epoch", "clock_offset_ms",
                "clock_synced", "clock_jumps", "metrics", "policy")


NO_VERDICT = Verdict("", None, None, None, None)


@dataclass(frozen=True, slots=True)
class StorageFault:
    """The store cannot write its file (disk full or failing), since `since_ms`."""

    detail: str
    since_ms: int


Stream = tuple[str, int]  # (kiosk, epoch): one numbering of one kiosk


@dataclass(slots=True)
class Marks:
    """One stream's marks: every seq up to `contiguous` is stored, `high` is the highest
    stored, `uploaded` the highest the platform has confirmed."""

    contiguous: int
    high: int
    uploaded: int


@dataclass(slots=True)
class NewScan:
    """One scan waiting for the writer; `done` resolves to True if stored now, False if
    the event id was already stored."""

    row: tuple
    upload: str
    done: asyncio.Future[bool]


# how far the writer's thread is below the event loop (gateway/thread_priority.py)
WRITER_NICE = 10


class Store:
    """All writes go through one writer task that commits whatever is queued in a single
    transaction (group commit): one fsync for many scans when a backlog drains, and the
    verdict path never waits for another scan's commit.

    A batch SQLite refuses as data (a constraint), or that stays busy past
    `busy_patience_s`, fails its waiters and the writer goes on. A batch the disk refuses
    (full, or a failed write) fails its waiters too, and `fault` says so until a commit
    succeeds again: nothing is acknowledged meanwhile (kiosks keep their scans and resend),
    the console and /metrics show the alarm, and the writer goes on with the next batch, so
    the gateway resumes by itself once the disk has room. Any other failure (the file
    unreadable or corrupt) fails its waiters and ends the writer with the error, for the
    process's supervisor: a restart cannot mend that, but it says so loudly."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._scans: list[NewScan] = []
        self._statuses: dict[str, tuple] = {}
        self._confirmed: list[tuple[list[int], dict[Stream, int], asyncio.Future[None]]] = []
        # per stream: every seq at or below this has been stored by some gateway (the kiosk
        # says so in its status); nothing below it will ever arrive
        self._floors: dict[Stream, int] = {}
        self._passes: list[tuple[tuple, asyncio.Future[None]]] = []
        self._marks: dict[Stream, Marks] = {}  # the streams table, as far as read
        self.sequence_faults = 0  # scans that broke their kiosk's numbering, since start
        self._work = asyncio.Event()
        self.writer = asyncio.create_task(self._write_forever(), name="store-writer")
        self.commits = 0
        self.busy_patience_s = 60.0
        self.busy_waits = 0  # commits retried because SQLite answered busy
        self.fault: StorageFault | None = None  # the disk refuses writes (while it lasts)
        self.storage_faults = 0  # batches the disk refused, since start

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int = 5000) -> Store:
        """The writer's thread runs at a lower CPU priority than the event loop: when the
        gateway's machine is busy (a drain, a flood), a visitor's verdict gets the CPU
        first and the writer the rest; acknowledgements wait a little, verdicts do not."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")  # an ack means: stored, power cut or not
            # deleted personal data (confirmed uploads, purged events) is overwritten, not
            # left in free pages of the file
            await db.execute("PRAGMA secure_delete=ON")
            await schema.migrate_async(db, path, COMPONENT)
            await thread_priority.lower(db, WRITER_NICE)
        except BaseException:
            await db.close()  # its thread would keep a failed process from exiting
            raise
        return cls(db)

    async def close(self) -> None:
        """Stop the writer and close. A writer that died has been reported by then (its
        task is supervised), so its exception is not raised again here."""
        if not self.writer.done():
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.writer
        await self._db.close()

    async def add_scan(
        self, msg: dict, received_ms: int, subject: str, masked: str, masked_name: str | None,
        upload: dict, verdict: Verdict | None = None, verdict_ms: int | None = None,
    ) -> bool:
        """Store a scan durably, once per event id. True if new, False if seen before."""
        return await self.add_scan_nowait(msg, received_ms, subject, masked, masked_name, upload,
                                          verdict, verdict_ms)

    def add_scan_nowait(
        self, msg: dict, received_ms: int, subject: str, masked: str, masked_name: str | None,
        upload: dict, verdict: Verdict | None = None, verdict_ms: int | None = None,
    ) -> asyncio.Future[bool]:
        """Queue a scan for the writer's next round; the future says whether it was new.
        Its verdict is known by then (sent, decided by the kiosk, or none: offline), so it
        is written with the row, not by a second write to the same row."""
        v = verdict or NO_VERDICT
        row = (
            msg["id"], msg["kiosk"], msg["door"], msg["seq"], msg["ts"], received_ms,
            msg["method"], msg.get("medium"), subject, masked, masked_name,
            v.colour, v.action, v.prompt, v.source, verdict_ms if verdict else None,
            protocol.epoch_of(msg),
        )
        item = NewScan(row, json.dumps(upload), asyncio.get_running_loop().create_future())
        self._scans.append(item)
        self._work.set()
        return item.done

    def kiosk_status(self, msg: dict, now_ms: int) -> None:
        health = json.dumps(msg["health"]) if "health" in msg else None
        extra = {k: msg[k] for k in STATUS_EXTRA if k in msg}
        self._statuses[msg["kiosk"]] = (
            msg["kiosk"], msg["state"], now_ms, now_ms, msg.get("sw"), msg.get("outbox"), health,
            json.dumps(extra) if extra else None,
        )
        if "first_seq" in msg:
            self._floors[(msg["kiosk"], protocol.epoch_of(msg))] = msg["first_seq"] - 1
        self._work.set()

    async def _write_forever(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            scans, self._scans = self._scans, []
            statuses, self._statuses = list(self._statuses.values()), {}
            confirmed, self._confirmed = self._confirmed, []
            floors, self._floors = self._floors, {}
            passes, self._passes = self._passes, []
            deletes = [(n,) for numbers, _marks, _done in confirmed for n in numbers]
            uploaded: dict[Stream, int] = {}
            for _numbers, marks, _done in confirmed:
                for stream, seq in marks.items():
                    uploaded[stream] = max(seq, uploaded.get(stream, 0))
            try:
                fresh = await self._commit_patiently(scans, statuses, deletes, uploaded, floors,
                                                     [row for row, _done in passes])
            except Exception as exc:  # every waiter hears of it; cancellation is shutdown
                waiting = [i.done for i in scans] + [done for _n, _m, done in confirmed]
                for future in waiting + [done for _row, done in passes]:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, sqlite3.IntegrityError) or is_busy(exc):
                    log.error("batch of %d scans not stored: %s", len(scans), exc)
                    continue  # the kiosks resend what was not acknowledged
                if is_storage_fault(exc):
                    self._storage_refused(exc, len(scans))
                    continue
                raise
            if self.fault is not None:
                log.warning("storage writable again after %.0f s",
                            (time.time() * 1000 - self.fault.since_ms) / 1000)
                self.fault = None
            for item in scans:
                if not item.done.done():
                    item.done.set_result(item.row[0] in fresh)
            for done in [done for *_c, done in confirmed] + [done for _r, done in passes]:
                if not done.done():
                    done.set_result(None)

    def _storage_refused(self, exc: BaseException, scans: int) -> None:
        """The disk refused a batch: the alarm goes up (once per fault, in the log too)."""
        self.storage_faults += 1
        if self.fault is None:
            self.fault = StorageFault(str(exc), int(time.time() * 1000))
            log.error("storage fault: %s; %d scans not stored, nothing acknowledged until "
                      "the disk takes writes again", exc, scans)
        else:
            log.warning("storage still refuses writes (%s); %d scans not stored", exc, scans)

    async def _commit_patiently(self, *work) -> set[str]:
        """Commit, retrying for up to `busy_patience_s` while SQLite answers busy: another
        connection's write lock held past the busy timeout (the console, a purge, an
        installer's sqlite3 shell), or a busy returned at once (the log names the
        extended code). The batch waits rather than failing back to the kiosks."""
        give_up = asyncio.get_running_loop().time() + self.busy_patience_s
        pause = 0.05
        while True:
            try:
                return await self._commit(*work)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or asyncio.get_running_loop().time() + pause > give_up:
                    raise
                self.busy_waits += 1
                log.warning("store busy (%s) after %d commits; retrying the commit",
                            getattr(exc, "sqlite_errorname", exc), self.commits)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def _commit(
        self, scans: list[NewScan], statuses: list[tuple],
        deletes: list[tuple[int]], uploaded: dict[Stream, int], floors: dict[Stream, int],
        passes: list[tuple],
    ) -> set[str]:
        fresh: set[str] = set()
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            if scans:
                ids = list({item.row[0] for item in scans})
                known: set[str] = set()
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk:chunk + 500]
                    async with self._db.execute(
                        f"SELECT id FROM events WHERE id IN ({','.join('?' * len(part))})", part
                    ) as cur:
                        known.update(row[0] for row in await cur.fetchall())
                rows, uploads = [], []
                for item in scans:
                    event_id = item.row[0]
                    if event_id in known or event_id in fresh:
                        continue
                    fresh.add(event_id)
                    rows.append(item.row)
                    uploads.append((event_id, item.row[1], item.row[3], item.row[5], item.upload,
                                    item.row[16]))
                await self._db.executemany(
                    "INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, medium, "
                    "subject, masked, masked_name, colour, action, prompt, source, verdict_ms, "
                    "epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                await self._db.executemany(
                    "INSERT INTO uploads (id, kiosk, seq, queued_ms, body, epoch) "
                    "VALUES (?,?,?,?,?,?)",
                    uploads,
                )
            if scans or floors:
                await self._advance_sequences(rows if scans else [], floors)
            if uploaded:
                await self._record_uploaded(uploaded)
            if statuses:
                await self._db.executemany(
                    "INSERT INTO kiosks (kiosk, state, changed_ms, last_seen_ms, sw, outbox, "
                    "health, extra) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(kiosk) DO UPDATE SET "
                    "changed_ms = CASE WHEN state != excluded.state THEN excluded.changed_ms "
                    "ELSE changed_ms END, state=excluded.state, "
                    "last_seen_ms=excluded.last_seen_ms, "
                    "sw=coalesce(excluded.sw, sw), outbox=coalesce(excluded.outbox, outbox), "
                    "health=coalesce(excluded.health, health), "
                    "extra=coalesce(excluded.extra, extra)",
                    statuses,
                )
            if deletes:
                await self._db.executemany("DELETE FROM uploads WHERE n=?", deletes)
            if passes:
                await self._db.executemany(
                    "INSERT OR IGNORE INTO door_passes (id, door, direction, ts) VALUES (?,?,?,?)",
                    passes,
                )
            await self._db.execute("COMMIT")
            self.commits += 1
        except BaseException:
            self._marks.clear()  # rolled back: read the marks from the table again
            if self._db.in_transaction:
                await self._db.execute("ROLLBACK")
            raise
        return fresh

    async def _stream_marks(self, stream: Stream) -> Marks:
        marks = self._marks.get(stream)
        if marks is None:
            async with self._db.execute(
                "SELECT contiguous, high, uploaded FROM streams WHERE kiosk=? AND epoch=?", stream
            ) as cur:
                found = await cur.fetchone()
            marks = Marks(found[0], found[1], found[2]) if found else Marks(0, 0, 0)
            if stream[1] == 0:  # a release rolled back to may have moved the old marks on
                async with self._db.execute(
                    "SELECT contiguous, high FROM sequences WHERE kiosk=?", stream[:1]
                ) as cur:
                    old = await cur.fetchone()
                if old is not None:
                    marks.contiguous = max(marks.contiguous, old[0])
                    marks.high = max(marks.high, old[1])
            self._marks[stream] = marks
        return marks

    async def _advance_sequences(self, rows: list[tuple], floors: dict[Stream, int]) -> None:
        """Move each stream's `contiguous` mark over the sequence numbers now stored, and
        up to the floor the kiosk reported (scans below it were stored by some gateway);
        record each new scan that breaks its stream's numbering.

        In-order arrival, the usual case, is settled from the batch alone; only when
        scans above the mark were stored earlier (a gap being filled) is the table read."""
        seqs: dict[Stream, list[tuple[int, str]]] = {stream: [] for stream in floors}
        for row in rows:
            seqs.setdefault((row[1], row[16]), []).append((row[3], row[0]))
        updates, faults = [], []
        for stream, arrived in seqs.items():
            marks = await self._stream_marks(stream)
            faults += await self._numbering_faults(stream, marks, arrived)
            numbers = {seq for seq, _id in arrived}
            gap_before = marks.high > marks.contiguous  # scans above the mark are stored
            contiguous = max(marks.contiguous, floors.get(stream, 0))
            high = max(marks.high, contiguous, *numbers)
            while contiguous + 1 in numbers:
                contiguous += 1
            if gap_before and contiguous < high:
                contiguous = await self._walk(stream, contiguous, high)
            marks.contiguous, marks.high = contiguous, high
            updates.append((*stream, contiguous, high))
        await self._db.executemany(
            "INSERT INTO streams (kiosk, epoch, contiguous, high) VALUES (?,?,?,?) "
            "ON CONFLICT(kiosk, epoch) DO UPDATE SET contiguous=excluded.contiguous, "
            "high=excluded.high",
            updates,
        )
        if faults:
            self.sequence_faults += len(faults)
            await self._db.executemany(
                "INSERT OR IGNORE INTO sequence_faults (id, kiosk, epoch, seq, kind, found_ms) "
                "VALUES (?,?,?,?,?,?)", faults)

    async def _numbering_faults(self, stream: Stream, marks: Marks,
                                arrived: list[tuple[int, str]]) -> list[tuple]:
        """New scans that break the stream's numbering, from what is stored (so a restart
        forgets nothing): a seq another scan already holds (`reused`: a kiosk that numbered
        again from where it should not have), or one at or below what the platform has
        already confirmed (`late`: the platform receives it out of order). Numbers above the
        stream's high mark, the usual case, need no read."""
        now = int(time.time() * 1000)
        faults = []
        seen: set[int] = set()
        holders = await self._holders(stream, [seq for seq, _id in arrived if seq <= marks.high])
        for seq, event_id in arrived:
            kind = None
            if seq in seen or holders.get(seq, {event_id}) - {event_id}:
                kind = "reused"
            seen.add(seq)
            if kind is None and seq <= marks.uploaded:
                kind = "late"
            if kind is not None:
                log.error("%s epoch %d: scan %s with seq %d is %s (the console raises an "
                          "alert)", stream[0], stream[1], event_id, seq,
                          "a reused number" if kind == "reused" else "behind uploaded ones")
                faults.append((event_id, *stream, seq, kind, now))
        return faults

    async def _holders(self, stream: Stream, seqs: list[int]) -> dict[int, set[str]]:
        """The scans stored under each of these sequence numbers: one read per batch (a
        draining backlog arrives below a live scan's number, so every replay is checked)."""
        held: dict[int, set[str]] = {}
        wanted = sorted(set(seqs))
        for chunk in range(0, len(wanted), 500):
            part = wanted[chunk:chunk + 500]
            async with self._db.execute(
                f"SELECT seq, id FROM events WHERE kiosk=? AND epoch=? "
                f"AND seq IN ({','.join('?' * len(part))})", (*stream, *part)
            ) as cur:
                for seq, event_id in await cur.fetchall():
                    held.setdefault(seq, set()).add(event_id)
        return held

    async def _walk(self, stream: Stream, contiguous: int, high: int) -> int:
        """Move the mark over scans stored earlier above it. Read a few at first: while a
        backlog drains, live scans sit far above the mark and the walk stops at once, so a
        large first read would be wasted work on the writer after every commit."""
        limit = 16
        while contiguous < high:
            async with self._db.execute(
                "SELECT seq FROM events WHERE kiosk=? AND epoch=? AND seq > ? ORDER BY seq "
                "LIMIT ?", (*stream, contiguous, limit),
            ) as cur:
                following = [r[0] for r in await cur.fetchall()]
            moved = contiguous
            for seq in following:
                if seq == moved:
                    continue  # a reused number (recorded as a sequence fault)
                if seq != moved + 1:
                    break
                moved = seq
            if moved == contiguous:
                break
            contiguous = moved
            limit = min(limit * 4, 1000)
        return contiguous

    async def _record_uploaded(self, uploaded: dict[Stream, int]) -> None:
        """The platform has confirmed up to these seqs: the order check's durable marks."""
        for stream, seq in uploaded.items():
            marks = await self._stream_marks(stream)
            marks.uploaded = max(marks.uploaded, seq)
        await self._db.executemany(
            "UPDATE streams SET uploaded = max(uploaded, ?) WHERE kiosk=? AND epoch=?",
            [(seq, *stream) for stream, seq in uploaded.items()])

    async def add_door_pass(self, msg: dict) -> None:
        """Store one counted person, idempotent on its id."""
        done = asyncio.get_running_loop().create_future()
        self._passes.append(((msg["id"], msg["door"], msg["direction"], msg["ts"]), done))
        self._work.set()
        await done

    # --- uploads (forwarder) -----------------------------------------------------------

    async def confirm_uploads(self, numbers: list[int],
                              uploaded: dict[Stream, int] | None = None) -> None:
        """The platform has these records: drop them, and their clear personal data.
        `uploaded`: per stream, the highest seq among them (the durable order mark)."""
        done = asyncio.get_running_loop().create_future()
        self._confirmed.append((numbers, uploaded or {}, done))
        self._work.set()
        await done
