"""What the console, the live feed, the report, the counts and the metrics read: the
gateway's database through a read-only connection of their own.

The store's connection belongs to its group-commit writer; a read there would run
between its BEGIN IMMEDIATE and COMMIT and see uncommitted rows. Here every read sees
committed data only (WAL: readers never wait for the writer), and the connection cannot
write (`mode=ro`, `query_only`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from gateway import thread_priority


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 read-only connection, for queries run in a worker thread."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA query_only=ON")
    return conn


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """One record waiting for the platform: its queue number, stream and encoded body."""

    n: int
    kiosk: str
    epoch: int
    seq: int
    body: str


# how far a background reader's thread is below the event loop
BACKGROUND_NICE = 10


class ReadModel:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db  # read-only

    @classmethod
    async def open(cls, path: Path, background: bool = False) -> ReadModel:
        """`path` must exist: the store creates it (Store.open) before any reader.
        `background`: reads nobody waits for (records to upload), on a thread below the
        event loop's priority, as the store's writer (gateway/thread_priority.py)."""
        db = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA busy_timeout=5000")
            await db.execute("PRAGMA query_only=ON")
            if background:
                await thread_priority.lower(db, BACKGROUND_NICE)
        except BaseException:
            await db.close()  # its thread would keep a failed process from exiting
            raise
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    async def kiosks(self) -> list[dict]:
        """Kiosks with presence, health and sequence completeness: `missing` counts
        sequence numbers above `contiguous` not stored yet (in transit, or lost), over all
        the kiosk's numbering epochs; `contiguous` and `high` are its latest epoch's."""
        async with self.db.execute(
            "SELECT k.*, "
            "(SELECT sum((s.high - s.contiguous) - (SELECT count(DISTINCT e.seq) FROM events e "
            "  WHERE e.kiosk = s.kiosk AND e.epoch = s.epoch AND e.seq > s.contiguous)) "
            " FROM streams s WHERE s.kiosk = k.kiosk) AS missing, "
            "coalesce(json_extract(k.extra, '$.epoch'), 0) AS epoch "
            "FROM kiosks k ORDER BY k.kiosk"
        ) as cur:
            rows = [dict(r) for r in await cur.fetchall()]
        for row in rows:
            row["health"] = json.loads(row["health"]) if row["health"] else {}
            row.update(json.loads(row.pop("extra") or "{}"))
            row["contiguous"], row["high"] = await self.marks(row["kiosk"], row["epoch"])
        return rows

    async def marks(self, kiosk: str, epoch: int) -> tuple[int | None, int | None]:
        """(contiguous, high) of one numbering epoch of a kiosk; None when none stored."""
        async with self.db.execute(
            "SELECT contiguous, high FROM streams WHERE kiosk=? AND epoch=?", (kiosk, epoch)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else (None, None)

    async def sequence_faults(self, after_found_ms: int = 0, limit: int = 500) -> list[dict]:
        """Scans that broke their kiosk's numbering (gateway/store.py), oldest first."""
        async with self.db.execute(
            "SELECT f.id, f.kiosk, f.epoch, f.seq, f.kind, f.found_ms, e.door, e.ts "
            "FROM sequence_faults f LEFT JOIN events e ON e.id = f.id "
            "WHERE f.found_ms >= ? ORDER BY f.found_ms LIMIT ?", (after_found_ms, limit)
        ) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def sequence_fault_counts(self) -> dict[str, int]:
        async with self.db.execute(
            "SELECT kind, count(*) FROM sequence_faults GROUP BY kind") as cur:
            return {r[0]: r[1] for r in await cur.fetchall()}
    async def kiosks_at(self, door: str, since_ms: int) -> list[str]:
        """The kiosks that stored scans at `door` since `since_ms`, latest first."""
        async with self.db.execute(
            "SELECT kiosk, max(ts) AS last FROM events WHERE door=? AND ts >= ? "
            "GROUP BY kiosk ORDER BY last DESC", (door, since_ms),
        ) as cur:
            return [r[0] for r in await cur.fetchall()]

    async def latest(self, limit: int = 50) -> list[dict]:
        async with self.db.execute(
            "SELECT id, kiosk, door, seq, ts, method, medium, masked, masked_name, colour, "
            "action, prompt, source, verdict_ms - received_ms AS decide_ms FROM events "
            "ORDER BY ts DESC LIMIT ?",
            (limit,),
        ) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def masked(self, event_id: str) -> tuple[str | None, str | None, str | None] | None:
        """(medium, masked, masked_name) of one stored scan, for the live feed."""
        async with self.db.execute(
            "SELECT medium, masked, masked_name FROM events WHERE id=?", (event_id,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1], row[2]) if row else None

    async def clock_estimate(self, kiosk: str) -> int | None:
        """On the kiosk's latest live scan, its scan time minus the gateway's receipt
        time: clock offset plus delivery (tens of ms on a site LAN)."""
        async with self.db.execute(
            "SELECT ts - received_ms FROM events WHERE kiosk = ? AND source IS NOT NULL "
            "ORDER BY seq DESC LIMIT 1", (kiosk,),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def counts(self) -> dict[str, int]:
        async with self.db.execute(
            "SELECT coalesce(colour, 'pending'), count(*) FROM events GROUP BY 1"
        ) as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def upload_backlog(self) -> int:
        async with self.db.execute("SELECT count(*) FROM uploads") as cur:
            row = await cur.fetchone()
        return row[0] if row else 0

    async def pending_upload_rows(self, limit: int, hold_before_ms: int) -> list[PendingUpload]:
        """Records ready for the platform, in sequence order per kiosk and numbering
        epoch. A record behind a gap in its epoch's sequence waits for the gap to fill
        (the kiosk resends), so the platform receives each kiosk's records in order —
        unless it has waited since before `hold_before_ms`, when the missing scans are
        taken as lost."""
        async with self.db.execute(
            "SELECT u.n, u.kiosk, u.epoch, u.seq, u.body FROM uploads u "
            "JOIN streams s ON s.kiosk = u.kiosk AND s.epoch = u.epoch "
            "WHERE u.seq <= s.contiguous OR u.queued_ms < ? "
            "ORDER BY u.kiosk, u.epoch, u.seq LIMIT ?",
            (hold_before_ms, limit),
        ) as cur:
            return [PendingUpload(r[0], r[1], r[2], r[3], r[4]) for r in await cur.fetchall()]

    async def pending_uploads(self, limit: int, hold_before_ms: int) -> list[tuple[int, dict]]:
        """As pending_upload_rows, each record decoded: (n, record)."""
        return [(row.n, json.loads(row.body)) for row in
                await self.pending_upload_rows(limit, hold_before_ms)]

    async def people_in(self, door: str, hour_ms: int) -> int:
        """People the boards counted in through `door` in the hour starting at hour_ms."""
        async with self.db.execute(
            "SELECT count(*) FROM door_passes WHERE door=? AND direction='in' AND ts >= ? "
            "AND ts < ?", (door, hour_ms, hour_ms + 3_600_000),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else 0

    async def doors(self) -> set[str]:
        """Doors scans or people counts have been stored for."""
        async with self.db.execute(
            "SELECT DISTINCT door FROM events UNION SELECT DISTINCT door FROM door_passes"
        ) as cur:
            return {row[0] for row in await cur.fetchall()}

    async def stored_ids(self, ids: list[str]) -> set[str]:
        """Which of these event ids are stored."""
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            async with self.db.execute(
                f"SELECT id FROM events WHERE id IN ({','.join('?' * len(part))})", part
            ) as cur:
                found.update(row[0] for row in await cur.fetchall())
        return found

    async def high_seq(self, kiosk: str, epoch: int = 0) -> int:
        """The highest seq stored from this kiosk in this numbering epoch (epoch 0: also
        what a release rolled back to recorded in the table before `streams`)."""
        async with self.db.execute(
            "SELECT max(coalesce((SELECT high FROM streams WHERE kiosk=?1 AND epoch=?2), 0), "
            "coalesce((SELECT high FROM sequences WHERE kiosk=?1 AND ?2 = 0), 0))",
            (kiosk, epoch),
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else 0
