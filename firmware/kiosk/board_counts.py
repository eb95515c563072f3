"""Door counts the kiosk has acknowledged to the board, kept in SQLite across restarts.

The board numbers its events per boot and re-sends each until acknowledged; a kiosk that
restarts, or whose acknowledgement was lost, sees some of them again. Keying every event
by (board boot id, event number) and storing it before the acknowledgement goes out
makes a repeat a no-op: counted once, never lost once acknowledged.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from firmware import schema

# Version 1 (firmware/schema.py); later versions are migrations in COMPONENT.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS board_events ("
    " board_boot INTEGER NOT NULL, event_no INTEGER NOT NULL, kind TEXT NOT NULL,"
    " value TEXT NOT NULL, uptime_ms INTEGER NOT NULL, received_at INTEGER NOT NULL,"
    " handed_over INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (board_boot, event_no))"
)
COMPONENT = schema.Component("board_events", SCHEMA)


@dataclass(frozen=True, slots=True)
class DoorCount:
    """One person through the door, as the board counted it."""

    direction: str  # in | out
    board_boot: int  # the board's boot id (u32): event numbers restart with it
    board_seq: int  # the board's event number within that boot
    ts: int  # when the kiosk received it: ms since the Unix epoch (as in docs/protocol.md)
    board_uptime_ms: int

    @property
    def key(self) -> str:
        """Stable id for de-duplication downstream (outbox, gateway)."""
        return f"{self.board_boot:08x}-{self.board_seq}"


class DoorEventStore:
    """Board events the kiosk has acknowledged, and which of them were handed on."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        try:
            schema.migrate(self._db, path, COMPONENT)
        except BaseException:
            self._db.close()
            raise
        self._db.execute("PRAGMA journal_mode=WAL")

    def record(self, boot: int, event_no: int, kind: str, value: str, uptime_ms: int) -> bool:
        """Store one event; False if this (boot, event number) was already stored."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO board_events (board_boot, event_no, kind, value, uptime_ms,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?)",
            (boot, event_no, kind, value, uptime_ms, time.time_ns() // 1_000_000),
        )
        return cur.rowcount == 1

    def last_acknowledged(self, boot: int) -> int:
        row = self._db.execute(
            "SELECT MAX(event_no) FROM board_events WHERE board_boot = ?", (boot,)
        ).fetchone()
        return row[0] or 0

    def counts(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT value, COUNT(*) FROM board_events WHERE kind = 'passed' GROUP BY value"
        )
        return {"in": 0, "out": 0} | dict(rows.fetchall())

    def not_handed_over(self, limit: int = 100) -> list[DoorCount]:
        rows = self._db.execute(
            "SELECT value, board_boot, event_no, received_at, uptime_ms FROM board_events"
            " WHERE kind = 'passed' AND handed_over = 0 ORDER BY received_at, event_no LIMIT ?",
            (limit,),
        )
        return [DoorCount(*row) for row in rows.fetchall()]

    def hand_over(self, count: DoorCount) -> None:
        self._db.execute(
            "UPDATE board_events SET handed_over = 1 WHERE board_boot = ? AND event_no = ?",
            (count.board_boot, count.board_seq),
        )

    def close(self) -> None:
        self._db.close()
