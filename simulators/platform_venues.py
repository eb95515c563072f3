"""Venue registration upload on the city platform simulator (province standard 2.0 shape).

The province compares registration rates per organisation and counts flows per venue
category from these records, so the simulator checks them as the province would (credit
code check character, category list, door QR content matching its venue and door) and
answers per record: a district re-uploading its whole register after a network failure
must neither duplicate venues nor fail the batch because of one bad record.
Include with `app.include_router(make_router(db_path))` in simulators/platform.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from firmware import schema
from provisioning.registry import InvalidVenue, build_venue
from provisioning.venue_code import VenueCodeError, parse

SCHEMA = """
CREATE TABLE IF NOT EXISTS registered_venues (
    code TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    versions INTEGER NOT NULL DEFAULT 1
);
"""
COMPONENT = schema.Component("platform_venues", SCHEMA)  # version 1; later: migrations

MAX_BATCH = 1000


class DoorRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=8)
    name: str = Field(min_length=1, max_length=50)
    qr: str = Field(
        min_length=1, max_length=1000, description="the door's QR content (docs/venue-code.md)"
    )
    issued: bool = Field(False, description="a code the operator already issued, kept as is")


class VenueRecord(BaseModel):
    """One venue as the province's venue-code standard asks for it."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="venue code: 6-digit division + serial")
    parent_code: str | None = Field(
        None, description="the venue this one is inside (shop in a mall)"
    )
    name: str
    category: str = Field(description="category key (provisioning/categories.py)")
    credit_code: str | None = Field(None, description="unified social credit code (GB 32100)")
    plate: str | None = Field(
        None, description="vehicle plate, for buses, taxis, ride-hailing cars"
    )
    division: str = Field(pattern=r"^\d{6}$", description="administrative division code")
    address: str
    zone: str = Field("", description="functional zone / shop number")
    manager_name: str
    manager_phone: str
    applicant_name: str = ""
    applicant_phone: str = ""
    doors: list[DoorRecord] = Field(min_length=1, max_length=200)


class VenueBatch(BaseModel):
    venues: list[VenueRecord] = Field(min_length=1, max_length=MAX_BATCH)


class Rejected(BaseModel):
    code: str
    reason: str


class UploadResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: list[Rejected]


def check(record: VenueRecord) -> str | None:
    """Why the province would refuse this record, or None."""
    fields = record.model_dump(exclude={"doors", "parent_code", "division"})
    fields["parent"] = record.parent_code
    fields["doors"] = [(d.code, d.name) for d in record.doors]
    try:
        venue = build_venue(fields)
    except InvalidVenue as exc:
        return str(exc)
    if venue.code[:6] != record.division:
        return "division: does not match the venue code's first six digits"
    for door in record.doors:
        if door.issued:
            continue  # the operator's own code: whatever it issued stays valid
        try:
            qr = parse(door.qr)
        except VenueCodeError as exc:
            return f"doors: door {door.code} QR content is not a door code ({exc.reason})"
        if (qr.venue, qr.door) != (venue.code, door.code.upper()):
            return f"doors: door {door.code} QR content names {qr.venue}/{qr.door}"
    return None


class VenueBook:
    """Registered venues in the platform's SQLite file, one row per venue code."""

    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        schema.migrate(self._db, db_path, COMPONENT)
        self._lock = threading.Lock()

    def store(self, batch: VenueBatch) -> UploadResult:
        result = UploadResult(created=0, updated=0, unchanged=0, rejected=[])
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for record in batch.venues:
                    why = check(record)
                    if why:
                        result.rejected.append(Rejected(code=record.code, reason=why))
                        continue
                    body = json.dumps(record.model_dump(), ensure_ascii=False, sort_keys=True)
                    row = self._db.execute(
                        "SELECT body FROM registered_venues WHERE code = ?", (record.code,)
                    ).fetchone()
                    if row is None:
                        self._db.execute(
                            "INSERT INTO registered_venues (code, body, received_at)"
                            " VALUES (?, ?, ?)",
                            (record.code, body, now),
                        )
                        result.created += 1
                    elif row[0] == body:
                        result.unchanged += 1
                    else:
                        self._db.execute(
                            "UPDATE registered_venues SET body = ?, received_at = ?,"
                            " versions = versions + 1 WHERE code = ?",
                            (body, now, record.code),
                        )
                        result.updated += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return result

    def get(self, code: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body, received_at, versions FROM registered_venues WHERE code = ?", (code,)
            ).fetchone()
        if row is None:
            return None
        return {**json.loads(row[0]), "received_at": row[1], "versions": row[2]}

    def stats(self) -> dict:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM registered_venues").fetchone()
            rows = self._db.execute(
                "SELECT json_extract(body, '$.category'), count(*)"
                " FROM registered_venues GROUP BY 1"
            )
            return {"venues": count, "per_category": dict(rows)}


def make_router(db_path: Path) -> APIRouter:
    book = VenueBook(db_path)
    router = APIRouter(tags=["venues"])

    @router.post("/api/v1/venues", response_model=UploadResult)
    def upload_venues(batch: VenueBatch, request: Request) -> UploadResult:
        """Register or update venues, up to 1000 per request; idempotent on venue code.

        Each record is checked on its own: valid ones are stored (`created`, `updated`
        when the content changed, `unchanged` when it is identical to what is stored),
        invalid ones are listed in `rejected` with the reason, and the request still
        succeeds (200). A malformed body is refused whole (422). While the simulator's
        `fail_uploads` fault is set, the answer is 503 and nothing is stored.
        """
        faults = getattr(getattr(request.app.state, "platform", None), "faults", None)
        if faults is not None and getattr(faults, "fail_uploads", False):
            raise HTTPException(503, "platform unavailable")
        return book.store(batch)

    @router.get("/api/v1/venues/{code}")
    def get_venue(code: str) -> dict:
        """The stored registration of one venue, with `received_at` and `versions`."""
        found = book.get(code.upper())
        if found is None:
            raise HTTPException(404, "venue not registered")
        return found

    @router.get("/sim/venues")
    def venue_stats() -> dict:
        """Simulator only: how many venues are registered, per category."""
        return book.stats()

    return router
