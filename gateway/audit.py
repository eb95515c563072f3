"""The audit log: who signed in, who looked at what personal data, who traced whom.

Append-only twice over: the console has no route that edits or deletes it, and the
database refuses UPDATE and DELETE on the table (triggers), so even a bug in a later
route cannot rewrite history. Each row also carries a hash chained over the previous
row, so a row removed or edited with the triggers dropped shows up in `verify_chain`.
The log names people only by masked forms or keyed hashes, never in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import aiosqlite

from firmware import schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_audit (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS console_audit_no_update BEFORE UPDATE ON console_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS console_audit_no_delete BEFORE DELETE ON console_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
COMPONENT = schema.Component("console_audit", SCHEMA)  # version 1; later: migrations

GENESIS = "0" * 64


def _row_hash(prev: str, at_ms: int, user: str, role: str, action: str, detail: str) -> str:
    text = json.dumps([prev, at_ms, user, role, action, detail], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class AuditLog:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    async def record(self, user: str, role: str, action: str, **detail: object) -> None:
        text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
        at_ms = int(time.time() * 1000)
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                async with self.db.execute(
                    "SELECT hash FROM console_audit ORDER BY n DESC LIMIT 1"
                ) as cur:
                    row = await cur.fetchone()
                prev = row[0] if row else GENESIS
                await self.db.execute(
                    "INSERT INTO console_audit (at_ms, user, role, action, detail, prev, hash) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (at_ms, user, role, action, text, prev,
                     _row_hash(prev, at_ms, user, role, action, text)),
                )
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def latest(self, limit: int = 200, before: int | None = None) -> list[dict]:
        async with self.db.execute(
            "SELECT n, at_ms, user, role, action, detail FROM console_audit "
            "WHERE n < ? ORDER BY n DESC LIMIT ?",
            (before or 2**62, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [{"n": r[0], "at_ms": r[1], "user": r[2], "role": r[3], "action": r[4],
                 "detail": json.loads(r[5])} for r in rows]

    async def verify_chain(self) -> int | None:
        """The number of the first row whose hash does not follow; None if all do."""
        prev = GENESIS
        async with self.db.execute(
            "SELECT n, at_ms, user, role, action, detail, prev, hash FROM console_audit ORDER BY n"
        ) as cur:
            async for n, at_ms, user, role, action, detail, row_prev, row_hash in cur:
                if row_prev != prev or row_hash != _row_hash(prev, at_ms, user, role, action,
                                                             detail):
                    return n
                prev = row_hash
        return None
