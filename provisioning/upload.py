"""Upload the venue register to the city platform (POST /api/v1/venues, docs/platform-venues.md).

Cities must upload every registration to the provincial platform; a district's register
is tens of thousands of venues and the link is not always up. So uploads go in batches,
a failed batch is retried with backoff, and each venue remembers the digest of what was
last accepted: re-running the upload after a failure (or nightly) sends only what is new
or changed, and the platform is idempotent on venue code if it sees a venue twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from firmware import schema
from gateway import standard2
from provisioning.registry import Registry, Venue, qr_content
from provisioning.venue_code import DEFAULT_BASE

SCHEMA = """
CREATE TABLE IF NOT EXISTS venue_uploads (
    code TEXT PRIMARY KEY REFERENCES venues(code),
    digest TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL
);
"""
COMPONENT = schema.Component("venue_uploads", SCHEMA)  # version 1; later: migrations


class UploadError(RuntimeError):
    pass


@dataclass(slots=True)
class UploadSummary:
    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # already uploaded with the same content
    held_back: int = 0  # incomplete venues, sent once their missing fields are filled in
    rejected: list[dict] = field(default_factory=list)


def record(venue: Venue, base: str = DEFAULT_BASE) -> dict:
    """A venue in the platform's format (the mapping is gateway/standard2.py's)."""
    return standard2.venue_record(venue, lambda door: qr_content(venue, door, base))


def digest(rec: dict) -> str:
    return hashlib.sha256(json.dumps(rec, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _pending(registry: Registry, everything: bool, base: str) -> Iterator[tuple[dict, str] | None]:
    sent = dict(registry.db.execute("SELECT code, digest FROM venue_uploads"))
    for venue in registry.all():
        if venue.incomplete:
            continue  # the province takes complete registrations; `held_back` counts them
        rec = record(venue, base)
        d = digest(rec)
        if not everything and sent.get(venue.code) == d:
            yield None
        else:
            yield rec, d


def upload(
    registry: Registry,
    url: str,
    *,
    batch: int = 500,
    everything: bool = False,
    base: str = DEFAULT_BASE,
    attempts: int = 4,
    client: httpx.Client | None = None,
) -> UploadSummary:
    """Send new and changed venues to the platform at `url`; returns what it answered."""
    schema.migrate(registry.db, registry.path, COMPONENT)
    summary = UploadSummary()
    own = client is None
    http = client or httpx.Client(timeout=30)
    summary.held_back = len(registry.incomplete())
    try:
        chunk: list[tuple[dict, str]] = []
        for item in _pending(registry, everything, base):
            if item is None:
                summary.skipped += 1
                continue
            chunk.append(item)
            if len(chunk) == batch:
                _send(registry, http, url, chunk, summary, attempts)
                chunk = []
        if chunk:
            _send(registry, http, url, chunk, summary, attempts)
    finally:
        if own:
            http.close()
    return summary


def _send(
    registry: Registry, http: httpx.Client, url: str, chunk: list[tuple[dict, str]],
    summary: UploadSummary, attempts: int,
) -> None:  # fmt: skip
    body = {"venues": [rec for rec, _ in chunk]}
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            response = http.post(url.rstrip("/") + "/api/v1/venues", json=body)
        except httpx.TransportError as exc:
            problem = f"platform unreachable: {exc.__class__.__name__}"
        else:
            if response.status_code == 200:
                break
            if response.status_code < 500:
                raise UploadError(
                    f"platform refused the batch: {response.status_code} {response.text[:300]}"
                )
            problem = f"platform answered {response.status_code}"
        if attempt == attempts:
            raise UploadError(
                f"{problem}; gave up after {attempts} attempts ({summary.sent} venues sent)"
            )
        time.sleep(delay)
        delay *= 2
    answer = response.json()
    rejected = {r["code"] for r in answer["rejected"]}
    now = int(time.time())
    registry.db.execute("BEGIN")  # one transaction for the batch's bookkeeping
    try:
        registry.db.executemany(
            "INSERT INTO venue_uploads (code, digest, uploaded_at) VALUES (?, ?, ?)"
            " ON CONFLICT(code) DO UPDATE SET"
            " digest = excluded.digest, uploaded_at = excluded.uploaded_at",
            [(rec["code"], d, now) for rec, d in chunk if rec["code"] not in rejected],
        )
        registry.db.execute("COMMIT")
    except BaseException:
        registry.db.execute("ROLLBACK")
        raise
    summary.sent += len(chunk)
    summary.created += answer["created"]
    summary.updated += answer["updated"]
    summary.unchanged += answer["unchanged"]
    summary.rejected.extend(answer["rejected"])
