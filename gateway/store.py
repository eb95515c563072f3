"""The gateway's event store (SQLite, WAL): every scan once, its verdict, kiosk presence.

Idempotent on event id: a scan delivered twice (a kiosk resending after a drop) is
stored once and answered again with the verdict it already got. Clear personal data that
the platform upload needs waits in `uploads` and is deleted as soon as the platform has
confirmed the record; `events` holds only keyed hashes and masked forms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

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
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    sw TEXT,
    outbox INTEGER,
    health TEXT
);
CREATE TABLE IF NOT EXISTS forwarder (
    key TEXT PRIMARY KEY,
    value INTEGER
);
"""


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    colour: str
    action: str
    prompt: str
    source: str


class Store:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")  # a verdict means: stored, power cut or not
        await db.executescript(SCHEMA)
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    async def add_scan(
        self, msg: dict, received_ms: int, subject: str, masked: str, masked_name: str | None,
        upload: dict,
    ) -> StoredVerdict | None:
        """Store a scan once. Returns None if new, or the verdict it already had (or a
        placeholder verdict-less marker `StoredVerdict('', '', '', '')`) if seen before."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = await self.db.execute(
                "INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, medium, "
                "subject, masked, masked_name) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (
                    msg["id"], msg["kiosk"], msg["door"], msg["seq"], msg["ts"], received_ms,
                    msg["method"], msg.get("medium"), subject, masked, masked_name,
                ),
            )
            if cur.rowcount == 0:
                await self.db.execute("ROLLBACK")
                return await self.verdict_of(msg["id"]) or StoredVerdict("", "", "", "")
            await self.db.execute(
                "INSERT INTO uploads (id, body) VALUES (?, ?)", (msg["id"], json.dumps(upload))
            )
            await self.db.execute("COMMIT")
            return None
        except BaseException:
            if self.db.in_transaction:
                await self.db.execute("ROLLBACK")
            raise

    async def verdict_of(self, event_id: str) -> StoredVerdict | None:
        async with self.db.execute(
            "SELECT colour, action, prompt, source FROM events WHERE id=? AND colour IS NOT NULL",
            (event_id,),
        ) as cur:
            row = await cur.fetchone()
        return StoredVerdict(*row) if row else None

    async def set_verdict(self, event_id: str, v: StoredVerdict, at_ms: int) -> None:
        await self.db.execute(
            "UPDATE events SET colour=?, action=?, prompt=?, source=?, verdict_ms=? WHERE id=?",
            (v.colour, v.action, v.prompt, v.source, at_ms, event_id),
        )

    # --- uploads (forwarder) -----------------------------------------------------------

    async def pending_uploads(self, limit: int) -> list[tuple[int, dict]]:
        async with self.db.execute(
            "SELECT n, body FROM uploads ORDER BY n LIMIT ?", (limit,)
        ) as cur:
            return [(row[0], json.loads(row[1])) for row in await cur.fetchall()]

    async def confirm_uploads(self, upto_n: list[int]) -> None:
        await self.db.executemany("DELETE FROM uploads WHERE n=?", [(n,) for n in upto_n])

    async def upload_backlog(self) -> int:
        async with self.db.execute("SELECT count(*) FROM uploads") as cur:
            return (await cur.fetchone())[0]

    # --- kiosks -------------------------------------------------------------------------

    async def kiosk_status(self, msg: dict, now_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO kiosks (kiosk, state, changed_ms, last_seen_ms, sw, outbox, health) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(kiosk) DO UPDATE SET "
            "changed_ms = CASE WHEN state != excluded.state THEN excluded.changed_ms "
            "ELSE changed_ms END, state=excluded.state, last_seen_ms=excluded.last_seen_ms, "
            "sw=coalesce(excluded.sw, sw), outbox=coalesce(excluded.outbox, outbox), "
            "health=coalesce(excluded.health, health)",
            (
                msg["kiosk"], msg["state"], now_ms, now_ms, msg.get("sw"), msg.get("outbox"),
                json.dumps(msg["health"]) if "health" in msg else None,
            ),
        )

    async def kiosks(self) -> list[dict]:
        async with self.db.execute("SELECT * FROM kiosks ORDER BY kiosk") as cur:
            rows = [dict(r) for r in await cur.fetchall()]
        for row in rows:
            row["health"] = json.loads(row["health"]) if row["health"] else {}
        return rows

    # --- console queries ------------------------------------------------------------------

    async def latest(self, limit: int = 50) -> list[dict]:
        async with self.db.execute(
            "SELECT id, kiosk, door, seq, ts, method, medium, masked, masked_name, colour, "
            "action, source, verdict_ms - received_ms AS decide_ms FROM events "
            "ORDER BY ts DESC LIMIT ?",
            (limit,),
        ) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def counts(self) -> dict[str, int]:
        async with self.db.execute(
            "SELECT coalesce(colour, 'pending'), count(*) FROM events GROUP BY 1"
        ) as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}
