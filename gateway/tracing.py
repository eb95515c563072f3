"""Tracing: where was this person, and who was at the same door at the same time.

The store holds no ID number or code token in clear, only keyed hashes, so a question
about a person is turned into the same keyed hash(es) and answered from the
(subject, ts) index; each visit's contacts come from the (door, ts) index, one short
range per visit. Nothing here scans the table, which is what keeps an answer within
seconds on months of entries (bench/trace.py measures it against a full scan).

A door is the venue here: each door has its own place code (a shop, a gate). Contacts
are the other scans at the visit's door with ts in [visit - window, visit + window],
one row per (visit, contact scan); the person's own scans are not contacts. Results
name people by masked form, keyed hash and event id; the event id is the record's key
at the platform, which holds the clear record for the health authority.

Plain sqlite3 (not async): the console runs these in a worker thread on a read-only
connection of its own (read_model.connect_readonly); the benchmark and the property test
call them directly.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from firmware import manual_id
from gateway.personal import Pseudonymiser, mask

COLUMNS = "id, kiosk, door, ts, method, masked, masked_name, subject, colour"
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Scan:
    id: str
    kiosk: str
    door: str
    ts: int
    method: str
    masked: str
    masked_name: str | None
    subject: str
    colour: str | None


@dataclass(frozen=True, slots=True)
class Contact:
    visit_id: str  # the traced person's scan this contact overlaps
    scan: Scan
    gap_ms: int  # contact ts - visit ts


class TraceError(ValueError):
    pass


def subjects_for(pseudonyms: Pseudonymiser, kind: str, value: str,
                 code_prefixes: tuple[str, ...] = ()) -> list[str]:
    """The keyed hashes a person may be stored under.

    kind 'id_card': an 18-character ID number (read from a card or keyed in by staff).
    kind 'passport': "<nationality> <number>" (or "<nationality>:<number>"). kind 'phone':
    a mobile number. kind 'code': the health-code QR text or its bare token; kiosks send
    the whole decoded text, so a bare token is also tried behind each known code URL
    prefix, and a URL's token on its own.
    """
    value = value.strip()
    if not value:
        raise TraceError("empty identifier")
    if kind == "id_card":
        if len(value) != 18:
            raise TraceError("an ID number has 18 characters")
        return [pseudonyms.subject("id_card", value)]
    if kind in ("passport", "phone"):
        return [pseudonyms.subject("manual", _manual(kind, value))]
    if kind != "code":
        raise TraceError("kind must be id_card, passport, phone or code")
    forms = {value}
    if value.startswith(("http://", "https://")):
        token = parse_qs(urlparse(value).query).get("t")
        if token:
            forms.add(token[0])
            forms.update(prefix + token[0] for prefix in code_prefixes)
    else:
        forms.update(prefix + value for prefix in code_prefixes)
    return sorted({pseudonyms.subject("code", form) for form in forms})


def _manual(kind: str, value: str) -> str:
    """The manual credential a traced passport or phone number is stored under."""
    nationality, _, number = value.strip().replace(":", " ").partition(" ")
    try:
        return manual_id.credential(kind, number if kind == "passport" else value,
                                    nationality)
    except manual_id.ManualIdError as exc:
        raise TraceError(exc.message) from None


def masked(kind: str, value: str) -> str:
    """The traced identifier as the audit log may name it."""
    if kind in ("passport", "phone"):
        return mask("manual", _manual(kind, value))
    return mask(kind, value.strip())


def _scans(cur: sqlite3.Cursor) -> list[Scan]:
    return [Scan(*row) for row in cur.fetchall()]


def visits(conn: sqlite3.Connection, subjects: list[str], t1: int, t2: int) -> list[Scan]:
    """The person's scans with t1 <= ts <= t2, oldest first."""
    if not subjects:
        return []
    marks = ",".join("?" * len(subjects))
    return _scans(conn.execute(
        f"SELECT {COLUMNS} FROM events INDEXED BY events_subject_ts "
        f"WHERE subject IN ({marks}) AND ts BETWEEN ? AND ? ORDER BY ts, id LIMIT ?",
        (*subjects, t1, t2, MAX_ROWS),
    ))


def at_door(conn: sqlite3.Connection, door: str, t1: int, t2: int) -> list[Scan]:
    """Everyone scanned at `door` with t1 <= ts <= t2, oldest first."""
    return _scans(conn.execute(
        f"SELECT {COLUMNS} FROM events INDEXED BY events_door_ts "
        "WHERE door = ? AND ts BETWEEN ? AND ? ORDER BY ts, id LIMIT ?",
        (door, t1, t2, MAX_ROWS),
    ))


def contacts(conn: sqlite3.Connection, person: list[Scan], window_ms: int,
             subjects: list[str]) -> list[Contact]:
    """For each visit, the other people's scans at its door within ±window."""
    own = set(subjects)
    out: list[Contact] = []
    for visit in person:
        for scan in at_door(conn, visit.door, visit.ts - window_ms, visit.ts + window_ms):
            if scan.subject not in own:
                out.append(Contact(visit.id, scan, scan.ts - visit.ts))
    return out


def trace_person(conn: sqlite3.Connection, subjects: list[str], t1: int, t2: int,
                 window_ms: int) -> dict:
    person = visits(conn, subjects, t1, t2)
    found = contacts(conn, person, window_ms, subjects)
    return {
        "visits": [asdict(v) for v in person],
        "contacts": [dict(asdict(c.scan), visit_id=c.visit_id, gap_ms=c.gap_ms) for c in found],
        "people": len({c.scan.subject for c in found}),
    }


CSV_COLUMNS = ("role", "visit_id", "gap_min", "id", "door", "kiosk", "time", "method", "masked",
               "masked_name", "subject", "colour")


def to_csv(rows: list[dict], tz: ZoneInfo) -> str:
    """Visits, contacts or a door's scans as CSV; `role` says which each row is."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        when = datetime.fromtimestamp(row["ts"] / 1000, tz).isoformat(timespec="seconds")
        gap = "" if row.get("gap_ms") is None else round(row["gap_ms"] / 60000, 1)
        writer.writerow([row["role"], row.get("visit_id", ""), gap, row["id"], row["door"],
                         row["kiosk"], when, row["method"], row["masked"],
                         row["masked_name"] or "", row["subject"], row["colour"] or ""])
    return out.getvalue()
