"""The kiosk's outbox: every scan is on disk before anything is sent.

A scan is committed here first, with the kiosk's next sequence number, in one
transaction; it leaves only when the gateway acknowledges that it has stored the scan
durably (an `ack` message; a verdict alone is not enough). Power cuts, broker restarts and
network drops therefore lose nothing: whatever is still here is sent again, and the
gateway, idempotent on event id, stores it once.

Committing and making durable are two steps. `add` commits (the row is in the WAL file,
safe from a crash of the process) and returns at once; `durable` waits until the WAL file
is on the storage (safe from a power cut). The kiosk publishes the scan between the two,
so the fsync runs while the scan travels to the gateway, and shows the visitor nothing
before both have finished. One fsync covers every commit before it, so scans that arrive
together share one.

Sequence numbers count within a numbering epoch (docs/protocol.md §1.9), kept in `meta`
beside `last_seq`. A new outbox file picks a new random epoch before its first number, so a
kiosk whose data was wiped never reuses a (epoch, seq) the gateway may hold, even when it
cannot reach the gateway to ask; a file from before epochs keeps epoch 0 and its numbering.

The file must stay the one this process opened: an outbox deleted or replaced under a
running kiosk would be written on, unlinked, with no error, and a crash would then lose
every scan in it. `file_fault()` compares the names with the files open (device and inode);
the kiosk checks it several times a second (kiosk.py), and so does `durable()` after its
fsync. While the file is lost, `add` refuses (OutboxLost: the visitor gets a manual check)
and `rebuild()` writes what this process still holds, through its open connection, to a
new file at the path — every unacknowledged scan, the epoch and the last seq — fsyncs it
and reopens on it; a file that replaced ours is moved aside, never deleted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from firmware import protocol, schema
from firmware.kiosk.fsync import fsync_path

# Version 1 of the outbox (firmware/schema.py); later versions are migrations in COMPONENT.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0);
-- The highest sequence number ever used moves with the row, in the same statement: adding
-- a scan is one INSERT (one round trip to the database thread), still all-or-nothing.
CREATE TRIGGER IF NOT EXISTS outbox_last_seq AFTER INSERT ON outbox BEGIN
    UPDATE meta SET value = NEW.seq WHERE key = 'last_seq' AND value < NEW.seq;
END;
"""
COMPONENT = schema.Component("outbox", SCHEMA)


CHECKPOINT_EVERY = 500  # commits between two checkpoints: the WAL stays a few MB at most


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    id: str
    payload: bytes
    created_ms: int


class OutboxLost(sqlite3.OperationalError):
    """The outbox file was deleted or replaced under the running kiosk: nothing can be
    recorded until it is rebuilt."""


FileIds = dict[Path, tuple[int, int] | None]


def file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of what `path` names now; None if nothing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def new_epoch() -> int:
    """A random numbering epoch, 1..protocol.MAX_EPOCH."""
    return int.from_bytes(os.urandom(6), "big") % protocol.MAX_EPOCH + 1


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Writes (add, confirm, raise_seq) run on the event loop's own thread: without the
        # fsync, which `durable()` does on a worker thread, a commit costs tens of
        # microseconds, less than handing it to a thread and back. Reads of the backlog
        # have their own connection and thread, so a long read never delays the door.
        self._db: sqlite3.Connection
        self._reader: aiosqlite.Connection
        self._checkpointer: sqlite3.Connection  # used only on a worker thread
        self.fresh = False  # a new file (it starts a new numbering epoch)
        self.epoch = 0  # the numbering epoch of every seq this file issues
        self._lock = asyncio.Lock()
        self.added = asyncio.Event()  # set whenever a scan is added; the sender waits on it
        # The highest sequence number used, as in meta.last_seq: no row has a higher one.
        # Every write goes through this object, under its lock, so memory is authoritative;
        # it also lets the sender see without a query that the only new scan is the live
        # one it has just sent.
        self.newest_seq = 0
        self._unsure = False
        self._wal_path = Path(f"{path}-wal")
        self._commits = 0  # commits made so far; `_synced` of them are on the storage
        self._synced = 0
        self._syncing: asyncio.Future[None] | None = None
        self._since_checkpoint = 0
        self._files: FileIds = {}  # the files this process has open, by name
        self.lost: str | None = None  # why the file at the path is not ours any more
        self._retired: list[sqlite3.Connection | aiosqlite.Connection] = []

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fresh = not self.path.exists()
        self._db = self._writer_connection()
        self._checkpointer = sqlite3.connect(self.path, isolation_level=None,
                                             check_same_thread=False)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        self.epoch = self._settle_epoch()
        self.newest_seq = await self.last_seq()
        # the schema, and the WAL file's name in its folder
        await asyncio.to_thread(fsync_path, self._wal_path, True)
        await asyncio.to_thread(fsync_path, self.path.parent)
        self._files = {path: file_id(path) for path in (self.path, self._wal_path)}

    def file_fault(self) -> str | None:
        """Why the files at the outbox's names are not the ones open here, or None.
        Set `lost` on the first fault seen; it stays until `rebuild()`."""
        if self.lost is None:
            for path, opened in self._files.items():
                now = file_id(path)
                if opened is not None and now != opened:
                    self.lost = f"{path.name} {'deleted' if now is None else 'replaced'}"
                    break
        return self.lost

    async def rebuild(self) -> None:
        """A durable outbox at the path again, holding everything this process holds
        (module docstring). Raises OSError or sqlite3.Error if the storage refuses; the
        outbox stays lost then, and the caller tries again."""
        async with self._lock:
            await asyncio.to_thread(self._write_copy)
            retired: list[sqlite3.Connection | aiosqlite.Connection] = [
                self._db, self._checkpointer, self._reader]
            self._db = self._writer_connection()
            self._checkpointer = sqlite3.connect(self.path, isolation_level=None,
                                                 check_same_thread=False)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            # closed last, at close(): closing them first could take the new file's WAL
            self._retired += retired
            self._synced = self._commits  # the copy is on the storage, every commit in it
            if await self.last_seq() != self.newest_seq:  # a read: the new WAL file is made
                raise OutboxLost("the rebuilt outbox does not hold the last seq issued")
            await asyncio.to_thread(fsync_path, self._wal_path, True)
            self._files = {path: file_id(path) for path in (self.path, self._wal_path)}
            self.lost = None

    def _write_copy(self) -> None:
        """On a worker thread, under the lock: the open database, WAL included, copied by
        SQLite's backup to a new file, fsynced, renamed to the outbox's name."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stamp = int(time.time() * 1000)
        # whatever holds our names now is kept aside, never deleted (a file that replaced
        # ours, or our main file without its WAL); the shared-memory index is only a cache
        aside = {self.path: Path(f"{self.path}.replaced-{stamp}"),
                 self._wal_path: Path(f"{self._wal_path}.aside-{stamp}")}
        for path, to in aside.items():
            if path.exists():
                path.rename(to)
        Path(f"{self.path}-shm").unlink(missing_ok=True)
        copy = self.path.with_name(self.path.name + ".rebuilding")
        copy.unlink(missing_ok=True)
        target = sqlite3.connect(copy)
        try:
            self._db.backup(target)
        finally:
            target.close()
        fsync_path(copy)
        os.replace(copy, self.path)
        fsync_path(self.path.parent)

    def _writer_connection(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            schema.migrate(db, self.path, COMPONENT)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit is written to the WAL file without waiting for the storage;
            # `durable()` does that wait, beside the round trip (module docstring). The
            # WAL is copied into the main file on a worker thread (`checkpoint_due`),
            # never by a commit on the event loop.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException:
            db.close()
            raise
        return db

    def _settle_epoch(self) -> int:
        """The file's epoch; chosen now if it has none. A file that has issued no number yet
        (new, or wiped and made again) takes a fresh random epoch; one that has numbered
        scans without an epoch (written before epochs) keeps 0, its numbering going on."""
        row = self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        if row is not None:
            return row[0]
        numbered = self._db.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0]
        epoch = 0 if numbered else new_epoch()
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
        return self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()[0]

    async def close(self) -> None:
        await self._reader.close()
        if self._syncing is not None:
            await asyncio.gather(self._syncing, return_exceptions=True)
        self._checkpointer.close()
        self._db.close()
        for old in self._retired:  # after the new file's connections (rebuild)
            if isinstance(old, aiosqlite.Connection):
                await old.close()
            else:
                old.close()

    async def add(self, build: Callable[[int], tuple[str, bytes, int]]) -> Pending:
        """Take the next sequence number, build the payload with it, commit both.

        `build(seq) -> (event_id, payload_bytes, created_ms)`. One INSERT, which the trigger
        extends to meta.last_seq atomically: a sequence number is never used twice nor
        skipped, and a failed insert (a full disk) leaves the number free.
        """
        async with self._lock:
            if self.file_fault():
                raise OutboxLost(f"outbox not on disk: {self.lost}")
            if self._unsure:  # an insert was interrupted: did it land? The file knows.
                self.newest_seq = await self.last_seq()
                self._unsure = False
            seq = self.newest_seq + 1
            event_id, payload, created_ms = build(seq)
            try:
                self._db.execute(
                    "INSERT INTO outbox (seq, id, payload, created_ms) VALUES (?, ?, ?, ?)",
                    (seq, event_id, payload, created_ms),
                )
            except BaseException:
                self._unsure = True
                raise
            self.newest_seq = seq
            self._commits += 1
            self._since_checkpoint += 1
        self.added.set()
        return Pending(seq, event_id, payload, created_ms)

    async def durable(self) -> None:
        """Wait until every commit made so far is on the storage (one fsync of the WAL
        file serves all the commits before it started). Raises OSError if the storage
        refuses."""
        wanted = self._commits
        while self._synced < wanted:
            if self._syncing is None:
                self._syncing = asyncio.ensure_future(self._fsync(self._commits))
            syncing = self._syncing
            try:
                await asyncio.shield(syncing)
            finally:
                if self._syncing is syncing and syncing.done():
                    self._syncing = None

    async def _fsync(self, upto: int) -> None:
        # no WAL file: nothing committed that is not in the main file already
        await asyncio.to_thread(fsync_path, self._wal_path, True)
        if self.file_fault():  # fsynced by name: was it our file?
            raise OSError(f"outbox not on disk: {self.lost}")
        self._synced = max(self._synced, upto)

    async def checkpoint_due(self) -> None:
        """Now and then the WAL is copied into the main file (a checkpoint, fsynced by
        SQLite itself) so it stays small: on a worker thread, from the confirmation of
        acks, where no visitor waits."""
        if self._since_checkpoint < CHECKPOINT_EVERY:
            return
        self._since_checkpoint = 0
        await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def confirm(self, event_ids: list[str]) -> int:
        """The gateway has stored these scans: remove them. One statement, so one
        round trip to the database thread and atomic on its own: no transaction is ever
        left open on the writer's connection, where the next scan's INSERT would land."""
        async with self._lock:
            cur = self._db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(event_ids),),
            )
            self._since_checkpoint += 1
        await self.checkpoint_due()
        return cur.rowcount

    async def after(self, seq: int, limit: int = 200) -> Sequence[Pending]:
        async with self._reader.execute(
            "SELECT seq, id, payload, created_ms FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ) as cur:
            return [Pending(*row) for row in await cur.fetchall()]

    async def by_ids(self, event_ids: list[str]) -> Sequence[Pending]:
        marks = ",".join("?" * len(event_ids))
        async with self._reader.execute(
            f"SELECT seq, id, payload, created_ms FROM outbox WHERE id IN ({marks}) ORDER BY seq",
            event_ids,
        ) as cur:
            return [Pending(*row) for row in await cur.fetchall()]

    async def raise_seq(self, high_seq: int) -> bool:
        """Continue numbering above what the gateway already holds from this kiosk in this
        file's epoch (the file went back: restored from an older copy). True if the
        sequence had to move."""
        async with self._lock:
            if high_seq <= self.newest_seq:
                return False
            self._db.execute(
                "UPDATE meta SET value=? WHERE key='last_seq' AND value < ?", (high_seq, high_seq)
            )
            self.newest_seq = high_seq
            self._commits += 1
            return True

    async def backlog(self) -> tuple[int, int | None]:
        """(number of unconfirmed scans, creation time of the oldest in ms or None)."""
        async with self._reader.execute("SELECT count(*), min(created_ms) FROM outbox") as cur:
            row = await cur.fetchone()
        assert row is not None  # an aggregate without GROUP BY gives one row
        count, oldest = row
        return count, oldest

    async def first_unconfirmed(self) -> int:
        """The lowest sequence number not yet confirmed (last_seq + 1 when none is): every
        scan below it has been stored by a gateway and will never be sent again."""
        async with self._reader.execute(
            "SELECT coalesce((SELECT min(seq) FROM outbox), "
            "(SELECT value + 1 FROM meta WHERE key='last_seq'))"
        ) as cur:
            row = await cur.fetchone()
        assert row is not None  # a SELECT without FROM gives one row
        return row[0]

    async def last_seq(self) -> int:
        return self._db.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0]
