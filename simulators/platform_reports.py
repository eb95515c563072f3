"""The city platform simulator's daily-report desk: each unit's report for a period kept
once (the latest revision replaces the earlier), and checked against the scan records the
platform itself received for the unit's doors in that period, as the command centre
cross-checks reported counts against its own data and names units that misreport.

The check per report: every door the report lists, and every door of the unit's own code
the platform has records for (`<unit code>/<door>`), counted from the records with
`from_ms <= ts < to_ms`; any door where the two differ is in the answer's `difference`,
with the report's number and the platform's. The wire format is the project's stand-in
for the provincial standard (gateway/standard2.py, docs/platform-api.md).
Include with `app.include_router(make_router(db_path, faults))` in simulators/platform.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from firmware import schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS daily_reports (
    unit TEXT NOT NULL,
    period TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    difference TEXT,
    received_at TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (unit, period)
);
"""
COMPONENT = schema.Component("platform_reports", SCHEMA)  # version 1; later: migrations
# a period's records: {door: count}, and {unit code: its own doors} (door = "<unit>/<code>")
Counted = tuple[dict[str, int], dict[str, list[str]]]


class DoorCount(BaseModel):
    model_config = ConfigDict(extra="allow")
    door: str = Field(min_length=1, max_length=64)
    unit_code: str = Field(min_length=1, max_length=64)
    scans: int = Field(ge=0)


class ReportPeriod(BaseModel):
    model_config = ConfigDict(extra="allow")
    label: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    from_ms: int = Field(ge=0)
    to_ms: int = Field(ge=0)


class UnitReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    unit_code: str = Field(min_length=1, max_length=64)
    period: ReportPeriod
    revision: int = Field(ge=1)
    late: bool
    total: int = Field(ge=0)
    doors: list[DoorCount] = Field(max_length=10_000)


class ReportBatch(BaseModel):
    reports: list[UnitReport] = Field(min_length=1, max_length=5000)


class ReportDesk:
    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        schema.migrate(self._db, db_path, COMPONENT)
        self._lock = threading.Lock()

    def _records_by_door(self, start: int, end: int) -> Counted:
        by_door = dict(self._db.execute(
            "SELECT door, count(*) FROM records WHERE ts >= ? AND ts < ? GROUP BY door",
            (start, end)))
        by_unit: dict[str, list[str]] = {}
        for door in by_door:
            by_unit.setdefault(door.split("/", 1)[0], []).append(door)
        return by_door, by_unit

    def take(self, batch: ReportBatch) -> list[dict]:
        now = datetime.now(UTC).isoformat()
        results = []
        counted: dict[tuple[int, int], Counted] = {}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for rep in batch.reports:
                    results.append(self._take_one(rep, counted, now))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return results

    def _take_one(self, rep: UnitReport, counted: dict[tuple[int, int], Counted],
                  now: str) -> dict:
        p = rep.period
        answer = {"unit_code": rep.unit_code, "period": p.label, "revision": rep.revision}
        if p.to_ms <= p.from_ms:
            return dict(answer, status="rejected", reason="the period ends before it starts")
        if sum(d.scans for d in rep.doors) != rep.total:
            return dict(answer, status="rejected", reason="total is not the sum of the doors")
        stored = self._db.execute(
            "SELECT revision FROM daily_reports WHERE unit=? AND period=?",
            (rep.unit_code, p.label)).fetchone()
        if stored and stored[0] > rep.revision:
            return dict(answer, status="superseded")
        key = (p.from_ms, p.to_ms)
        if key not in counted:
            counted[key] = self._records_by_door(*key)
        ours, by_unit = counted[key]
        reported = {d.door: d.scans for d in rep.doors}
        doors = set(reported) | set(by_unit.get(rep.unit_code, ()))
        diff = {d: {"reported": reported.get(d, 0), "platform": ours.get(d, 0)}
                for d in sorted(doors) if reported.get(d, 0) != ours.get(d, 0)}
        difference = None
        if diff:
            platform_total = sum(ours.get(d, 0) for d in doors)
            difference = {"total": {"reported": rep.total, "platform": platform_total},
                          "doors": diff}
        status = "mismatched" if diff else "confirmed"
        self._db.execute(
            "INSERT INTO daily_reports (unit, period, revision, body, status, difference, "
            "received_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(unit, period) DO UPDATE SET "
            "revision=excluded.revision, body=excluded.body, status=excluded.status, "
            "difference=excluded.difference, received_at=excluded.received_at, "
            "deliveries=deliveries+1",
            (rep.unit_code, p.label, rep.revision, rep.model_dump_json(), status,
             json.dumps(difference) if difference else None, now))
        return dict(answer, status=status, difference=difference)

    def all(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body, status, difference, deliveries FROM daily_reports "
                "ORDER BY period, unit").fetchall()
        return [dict(json.loads(b), status=s, difference=json.loads(d) if d else None,
                     deliveries=n) for b, s, d, n in rows]


def make_router(db_path: Path, failing: Callable[[], bool]) -> APIRouter:
    """`failing()`: the simulator's fault switch for uploads (503 while it says so)."""
    desk = ReportDesk(db_path)
    router = APIRouter()

    @router.post("/api/v1/daily-reports")
    def daily_reports(batch: ReportBatch) -> dict:
        """Idempotent per (unit, period): a later revision replaces the earlier one."""
        if failing():
            raise HTTPException(503, "platform unavailable")
        return {"results": desk.take(batch)}

    @router.get("/sim/daily-reports")
    def received() -> list[dict]:
        return desk.all()

    return router
