"""Venue-wide tracing (时空关联): everyone inside the same venue as a case, at the same time.

The programme traces by venue code, not by door (seed 002): a case who scanned at a shop
inside a mall was in the mall, and so was everyone who scanned at any of the mall's doors
or at any shop, stall or zone inside it. So a case's scan is placed in its **venue**: the
top of its unit's chain in the venue tree (gateway/venues.py). Each scan stands for a
**stay** in that venue, from the scan to the person's estimated exit:

- `exits`: where every entrance of the venue counts people both ways (the door boards'
  passes, `door_passes`), the exit is read from the counts, first in first out over the
  venue's local day: the person who came in k-th that day left when the k-th exit was
  counted. Nobody is followed; the counts only say how long people stayed then. A scan
  inside the venue (at a shop) ranks among the entries by its own time, which can only
  place its exit later: wider, never narrower, as tracing should err.
- `default`: otherwise the stay is the configured default (`trace_default_stay_minutes`).

Every stay is capped at `trace_max_stay_minutes` (and at the end of the local day for
`exits`). The case's stays in one venue that overlap are merged. A contact is another
person's scan anywhere in the same venue whose stay overlaps a case stay; one row per
(case stay, contact scan), each saying its own stay and on which basis it was estimated.

The queries use the store's indexes only: a case's scans by (subject, ts); per stay one
`door IN (the venue's doors)` range on (door, ts), read from the index alone (it holds the
event id), and the day's counted passes from (door, direction, ts) alone; whole rows are
read only for the scans that turned out to be contacts (`just bench-trace` measures it on
10 million scans across 5,000 units next to a full scan). Plain sqlite3, run in a worker
thread on a read-only connection, like gateway/tracing.py.
"""

from __future__ import annotations

import bisect
import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from gateway.tracing import COLUMNS, MAX_ROWS, Scan, visits
from gateway.venues import VenueTree

EXITS = "exits"
DEFAULT = "default"
PASS_SLACK_MS = 60_000  # a person passes the door's beams shortly after scanning


SCAN_FIELDS = tuple(f.name for f in fields(Scan))


def _scan_row(scan: Scan) -> dict:
    """A scan as the result carries it (dataclasses.asdict, without its deep copies)."""
    return {name: getattr(scan, name) for name in SCAN_FIELDS}


@dataclass(frozen=True, slots=True)
class Stay:
    venue: str  # the unit searched: the top of the scanned door's unit chain
    start_ms: int
    end_ms: int
    basis: str  # exits | default
    scans: tuple[str, ...]  # the case's scans (event ids) this stay is made of


@dataclass(slots=True)
class ExitClock:
    """A venue's counted passes over one local day, for first-in-first-out exits."""

    ins: list[int]
    outs: list[int]
    day_end: int

    def exit_for(self, entered_ms: int) -> int | None:
        """When the person who came in at `entered_ms` left; None when that many exits
        have not been counted (yet)."""
        k = max(1, bisect.bisect_right(self.ins, entered_ms + PASS_SLACK_MS))
        return self.outs[k - 1] if k <= len(self.outs) else None


class StayRules:
    """How long a scan stands for in its venue, as the door counts allow."""

    def __init__(self, conn: sqlite3.Connection, tree: VenueTree, tz: ZoneInfo,
                 default_stay_ms: int, max_stay_ms: int) -> None:
        self.conn = conn
        self.tree = tree
        self.tz = tz
        self.default_stay_ms = default_stay_ms
        self.max_stay_ms = max(max_stay_ms, default_stay_ms)
        self._clocks: dict[tuple[str, int], ExitClock | None] = {}

    def venue_of(self, door: str) -> str:
        """The venue a door's scans count for; a door outside the register is its own."""
        attribution = self.tree.attribute(door)
        if attribution.unit is None:
            return door
        return attribution.units[-1]

    def doors_of(self, venue: str) -> tuple[str, ...] | None:
        """Every door in the venue (its own and its shops'); None: the whole site."""
        if venue not in self.tree.units:
            return (venue,)  # an unplaced door
        return self.tree.doors_under(venue)

    def entrances(self, venue: str) -> tuple[str, ...]:
        unit = self.tree.units.get(venue)
        return unit.doors if unit is not None and not self.tree.single else ()

    def clock(self, venue: str, at_ms: int) -> ExitClock | None:
        """The venue's exit clock for the local day of `at_ms`, when every entrance counted
        people in and out that day; else None (the default stay applies)."""
        start, end = _local_day(at_ms, self.tz)
        key = (venue, start)
        if key not in self._clocks:
            self._clocks[key] = self._load_clock(venue, start, end)
        return self._clocks[key]

    def _load_clock(self, venue: str, start: int, end: int) -> ExitClock | None:
        doors = self.entrances(venue)
        if not doors:
            return None
        marks = ",".join("?" * len(doors))
        rows = self.conn.execute(  # from the index alone (store migration 3)
            "SELECT door, direction, ts FROM door_passes INDEXED BY door_passes_door_direction_ts"
            f" WHERE door IN ({marks}) AND direction IN ('in', 'out') AND ts >= ? AND ts < ?",
            (*doors, start, end)).fetchall()
        counted = {(d, direction) for d, direction, _ in rows}
        if any((d, "in") not in counted or (d, "out") not in counted for d in doors):
            return None
        ins = sorted(ts for _, direction, ts in rows if direction == "in")
        outs = sorted(ts for _, direction, ts in rows if direction == "out")
        return ExitClock(ins, outs, end)

    def stay_of(self, venue: str, ts: int) -> tuple[int, str]:
        """(end of the stay, basis) for a scan at `ts` in `venue`."""
        cap = ts + self.max_stay_ms
        clock = self.clock(venue, ts)
        if clock is None:
            return min(ts + self.default_stay_ms, cap), DEFAULT
        left = clock.exit_for(ts)
        if left is None:  # not (yet) counted out: inside until the day ends, capped
            left = clock.day_end
        return max(ts, min(left, cap, clock.day_end)), EXITS

    def since(self, venue: str, start_ms: int) -> int:
        """The earliest scan time whose stay in `venue` may still last at `start_ms`.
        With exits counted: the entry ranked where the first exit at or after `start_ms`
        falls (first in, first out), within the day; else the default stay back."""
        clock = self.clock(venue, start_ms)
        if clock is None:
            return start_ms - self.default_stay_ms
        k0 = bisect.bisect_left(clock.outs, start_ms) + 1  # the first exit still to come
        if k0 == 1:
            boundary = clock.day_end - 86_400_000  # nobody had left yet: the whole day
        elif k0 <= len(clock.ins):
            boundary = clock.ins[k0 - 1] - PASS_SLACK_MS
        else:
            boundary = start_ms  # everyone counted in had been counted out
        return min(start_ms, max(start_ms - self.max_stay_ms, boundary))


def _local_day(at_ms: int, tz: ZoneInfo) -> tuple[int, int]:
    return _local_day_of_minute(at_ms // 60_000, tz)


@lru_cache(maxsize=4096)
def _local_day_of_minute(minute: int, tz: ZoneInfo) -> tuple[int, int]:
    """A local day's bounds; by the minute, as every zone's midnight falls on one."""
    local = datetime.fromtimestamp(minute * 60, tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def case_stays(rules: StayRules, scans: list[Scan]) -> list[Stay]:
    """The case's stays, per venue, overlapping ones merged, oldest first."""
    stays: list[Stay] = []
    open_by_venue: dict[str, int] = {}  # venue -> index of its latest stay in `stays`
    for scan in scans:  # oldest first
        venue = rules.venue_of(scan.door)
        end, basis = rules.stay_of(venue, scan.ts)
        i = open_by_venue.get(venue)
        if i is not None and stays[i].end_ms >= scan.ts:
            last = stays[i]
            merged_basis = last.basis if last.basis == basis else DEFAULT
            stays[i] = Stay(venue, last.start_ms, max(last.end_ms, end), merged_basis,
                            (*last.scans, scan.id))
            continue
        open_by_venue[venue] = len(stays)
        stays.append(Stay(venue, scan.ts, end, basis, (scan.id,)))
    return stays


def present(conn: sqlite3.Connection, doors: tuple[str, ...] | None, t1: int, t2: int
            ) -> list[tuple[str, int]]:
    """(event id, ts) of the scans at any of `doors` (None: every door) with
    t1 <= ts <= t2, oldest first: from the (door, ts) index alone, which holds the id."""
    if doors is None:
        return conn.execute(
            "SELECT id, ts FROM events INDEXED BY events_ts WHERE ts BETWEEN ? AND ? "
            "ORDER BY ts, id LIMIT ?", (t1, t2, MAX_ROWS)).fetchall()
    if not doors:
        return []
    marks = ",".join("?" * len(doors))
    return conn.execute(
        "SELECT id, ts FROM events INDEXED BY events_door_ts "
        f"WHERE door IN ({marks}) AND ts BETWEEN ? AND ? ORDER BY ts, id LIMIT ?",
        (*doors, t1, t2, MAX_ROWS)).fetchall()


def scans_by_id(conn: sqlite3.Connection, ids: list[str]) -> dict[str, Scan]:
    """The whole rows of these scans (only those that turned out to be contacts)."""
    found: dict[str, Scan] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {COLUMNS} FROM events WHERE id IN ({marks})", chunk):
            found[row[0]] = Scan(*row)
    return found


def trace_venue(conn: sqlite3.Connection, tree: VenueTree, subjects: list[str], t1: int,
                t2: int, tz: ZoneInfo, default_stay_ms: int, max_stay_ms: int) -> dict:
    """The case's stays in venues between t1 and t2, and everyone whose stay in the same
    venue overlapped one of them."""
    rules = StayRules(conn, tree, tz, default_stay_ms, max_stay_ms)
    own = set(subjects)
    scans = visits(conn, subjects, t1, t2)
    stays = case_stays(rules, scans)
    overlapping: list[tuple[int, str, int, str]] = []  # (stay, event id, until, basis)
    for n, stay in enumerate(stays):
        since = rules.since(stay.venue, stay.start_ms)
        for event_id, ts in present(conn, rules.doors_of(stay.venue), since, stay.end_ms):
            until, basis = rules.stay_of(stay.venue, ts)
            if until >= stay.start_ms:  # else: left before the case came in
                overlapping.append((n, event_id, until, basis))
    rows = scans_by_id(conn, sorted({event_id for _, event_id, _, _ in overlapping}))
    contacts: list[dict] = []
    for n, event_id, until, basis in overlapping:
        scan = rows.get(event_id)
        if scan is None or scan.subject in own:
            continue  # purged meanwhile, or the case's own scan
        contacts.append(dict(_scan_row(scan), stay=n, venue=stays[n].venue,
                             stay_until_ms=until, basis=basis))
    units = tree.units
    return {
        "visits": [_scan_row(s) for s in scans],
        "stays": [{"venue": s.venue, "start_ms": s.start_ms, "end_ms": s.end_ms,
                   "basis": s.basis, "scans": list(s.scans),
                   "venue_name": units[s.venue].name if s.venue in units else s.venue}
                  for s in stays],
        "contacts": contacts,
        "people": len({c["subject"] for c in contacts}),
        "default_stay_minutes": default_stay_ms // 60_000,
        "max_stay_minutes": rules.max_stay_ms // 60_000,
    }
