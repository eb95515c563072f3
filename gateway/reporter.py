"""Sending every unit's daily report so that no scan is missed, and keeping what the
platform answered.

Each report period (gateway/periods.py) is reported once it has closed (its cut-off,
`report_lead_minutes` before the deadline): every unit of the site (gateway/venues.py)
gets its report (gateway/report.py), in the platform's format (gateway/standard2.py),
keyed by unit and period: the platform keeps the latest revision for each, so sending
again replaces and never adds. The reporter then keeps at it:

- not delivered (platform down, an error): tried again every `retry_s`; a report first
  delivered after its deadline says `late: true` and the console shows it late.
- a scan of a closed period stored after its report (a kiosk that was offline replays its
  backlog): the period's reports are built again and every unit whose counts changed is
  sent as the next revision (a correction), replacing the earlier one at the platform.
  The console's event handler tells the reporter of each stored scan (`note_scan`); at
  start the last `RECHECK_DAYS` closed periods are checked again, for scans stored while
  the reporter was not running.
- a gateway that was off for days reports each missed period when it is back, late.
- the platform checks each report against the scan records it holds for the unit and
  period and answers confirmed or mismatched with the difference; both are kept per unit.
  So that the check sees the same scans, a period's first send waits until the forwarder
  has delivered every record queued before it (the upload queue's high-water mark when
  the period was first looked at), but not past `HOLD_MARGIN_MS` before the deadline.
  A report answered mismatched is sent again once the records queued before that answer
  have reached the platform (they may have been on their way), `MISMATCH_TRIES` sends in
  all; a difference that stays is left for a person (the console shows it).

The periods reported start with the one that was open when the reporter first ran
(`console_report_periods` remembers it). Every send, automatic or by a manager, is kept
in `console_reports` with its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import aiosqlite

from firmware import schema
from gateway import report, standard2
from gateway.periods import Period, Periods
from gateway.platform import Platform
from gateway.store import patiently
from gateway.venues import Units

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_reports (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    ok INTEGER NOT NULL,
    status TEXT NOT NULL,
    total INTEGER NOT NULL
);
"""
UNITS = """
-- One row per report period since the reporter first ran; settled: every unit's report
-- for it is at the platform as it stands (NULL: work to do).
CREATE TABLE IF NOT EXISTS console_report_periods (
    day TEXT PRIMARY KEY,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    upload_mark INTEGER,
    settled_ms INTEGER
) WITHOUT ROWID;
-- The latest report of each unit for each period, as sent (or to be sent), and what the
-- platform answered.
CREATE TABLE IF NOT EXISTS console_report_units (
    day TEXT NOT NULL,
    unit TEXT NOT NULL,
    revision INTEGER NOT NULL,
    digest TEXT NOT NULL,
    scans INTEGER NOT NULL,
    body TEXT NOT NULL,
    built_ms INTEGER NOT NULL,
    confirmed_ms INTEGER,
    first_ms INTEGER,
    late INTEGER NOT NULL DEFAULT 0,
    state TEXT,
    difference TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (day, unit)
) WITHOUT ROWID;
ALTER TABLE console_reports ADD COLUMN units INTEGER;
"""
COMPONENT = schema.Component("console_reports", SCHEMA, (schema.Migration(2, UNITS),))

RECHECK_DAYS = 7  # closed periods looked at again at start for scans stored late
HOLD_MARGIN_MS = 10 * 60_000  # stop waiting for the forwarder this long before a deadline
BATCH = 500  # reports per request
# A report the platform counted differently is sent again once the records queued before
# its answer have reached the platform (they may have been on their way), up to this many
# sends in all; after that it stays mismatched for a person to look at.
MISMATCH_TRIES = 3


@dataclass(slots=True)
class Ledger:
    revision: int
    digest: str
    confirmed_ms: int | None  # this revision is at the platform
    first_ms: int | None  # the unit's report for the period first reached the platform
    state: str | None  # the platform's answer: confirmed | mismatched
    tries: int


class Reporter:
    """`db`: a writer connection of the reporter's own (periods, reports, attempts: each
    period's reports are written in one transaction, which another writer's statements on
    the same connection would join); `events`: a read-only one on the gateway's database
    (the read model's)."""

    def __init__(self, db: aiosqlite.Connection, events: aiosqlite.Connection,
                 platform: Platform, units: Units, periods: Periods, site: str,
                 retry_s: float = 60.0, keep_days: int = 28) -> None:
        self.db = db
        self.events = events
        self.platform = platform
        self.units = units
        self.periods = periods
        self.tz: ZoneInfo = periods.tz
        self.site = site
        self.retry_s = retry_s
        self.keep_days = keep_days  # what was reported is kept as long as the scans
        self._lock = asyncio.Lock()
        self._dirty: set[date] = set()
        self._open_start: int | None = None  # the open period's start, as of the last tick

    # --- what the console's event handler tells it ----------------------------------------

    def note_scan(self, ts_ms: int) -> None:
        """A scan was stored; if its period has closed, that period is looked at again."""
        if self._open_start is not None and ts_ms < self._open_start:
            self._dirty.add(self.periods.period_of(ts_ms).day)

    # --- the schedule -----------------------------------------------------------------------

    async def run(self) -> None:
        now = int(time.time() * 1000)
        current = self.periods.period_of(now).day
        self._dirty.update(current - timedelta(days=n) for n in range(1, RECHECK_DAYS + 1))
        while True:
            await patiently(partial(self.tick, int(time.time() * 1000)), "daily report")
            await asyncio.sleep(self.retry_s)

    async def tick(self, now_ms: int) -> None:
        """Bring every closed period's reports to the platform as they stand now."""
        async with self._lock:
            current = self.periods.period_of(now_ms)
            self._open_start = current.start_ms
            await self._remember_periods(current)
            dirty, self._dirty = self._dirty, set()
            if dirty:
                await self.db.executemany(
                    "UPDATE console_report_periods SET settled_ms = NULL, upload_mark = NULL "
                    "WHERE day = ?", [(d.isoformat(),) for d in dirty])
            async with self.db.execute(
                "SELECT day FROM console_report_periods WHERE settled_ms IS NULL AND end_ms <= ? "
                "ORDER BY day", (now_ms,),
            ) as cur:
                days = [date.fromisoformat(r[0]) for r in await cur.fetchall()]
            for day in days:
                await self._settle(self.periods.period(day), "automatic", now_ms, hold=True)
            await self._recheck_mismatched(current, now_ms)
            await self._forget(current.day - timedelta(days=self.keep_days))

    async def _recheck_mismatched(self, current: Period, now_ms: int) -> None:
        since = (current.day - timedelta(days=RECHECK_DAYS)).isoformat()
        async with self.db.execute(
            "SELECT u.day, max(p.upload_mark) FROM console_report_units u "
            "JOIN console_report_periods p ON p.day = u.day WHERE u.state = 'mismatched' "
            "AND u.tries < ? AND u.day >= ? AND p.settled_ms IS NOT NULL GROUP BY u.day",
            (MISMATCH_TRIES, since),
        ) as cur:
            rows = await cur.fetchall()
        for day, mark in rows:
            if mark is not None and await self._records_pending(mark):
                continue
            await self._settle(self.periods.period(date.fromisoformat(day)), "recheck",
                               now_ms, hold=False, recheck=True)

    async def _forget(self, before: date) -> None:
        """Reports of periods older than the retention: their scans are purged too, so
        they could not be built again; the attempts go with them."""
        day = before.isoformat()
        async with self._transaction():
            for table in ("console_report_units", "console_report_periods", "console_reports"):
                await self.db.execute(f"DELETE FROM {table} WHERE day < ?", (day,))

    async def _remember_periods(self, current: Period) -> None:
        """A row for every period from the first one reported up to the open one."""
        async with self.db.execute("SELECT max(day) FROM console_report_periods") as cur:
            row = await cur.fetchone()
        last = date.fromisoformat(row[0]) if row and row[0] else current.day - timedelta(days=1)
        new = []
        day = last + timedelta(days=1)
        while day <= current.day:
            p = self.periods.period(day)
            new.append((day.isoformat(), p.start_ms, p.end_ms, p.deadline_ms))
            day += timedelta(days=1)
        if new:
            await self.db.executemany(
                "INSERT OR IGNORE INTO console_report_periods (day, start_ms, end_ms, "
                "deadline_ms) VALUES (?,?,?,?)", new)

    # --- building and sending ----------------------------------------------------------------

    async def send(self, day: date, trigger: str, now_ms: int | None = None) -> dict:
        """A manager's send: every unit's report for a closed period, again (the platform
        replaces what it has). An open period is refused: its counts are not final."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        period = self.periods.period(day)
        if period.end_ms > now:
            return {"ok": False, "status": "open", "day": day.isoformat(), "units": 0,
                    "closes": period.bounds(self.tz)["to"]}
        async with self._lock:
            await self._remember_periods(self.periods.period_of(now))
            return await self._settle(period, trigger, now, hold=False, force=True)

    async def _settle(self, period: Period, trigger: str, now_ms: int, hold: bool,
                      force: bool = False, recheck: bool = False) -> dict:
        day = period.day.isoformat()
        if hold and await self._forwarder_behind(period, now_ms):
            return {"ok": False, "status": "waiting for the forwarder", "day": day, "units": 0}
        built = report.build(await report.scans_by_door(self.events, period.start_ms,
                                                        period.end_ms),
                             self.units.tree(), period, self.tz, self.site, now_ms)
        ledger = await self._ledger(day)
        todo: list[tuple[str, dict, int, str, bool]] = []
        for unit, rep in built.reports.items():
            d = report.digest(rep)
            old = ledger.get(unit)
            # late: the unit's report first reaches the platform after the deadline (a
            # correction of a report that was on time is not late)
            late = ((old.first_ms if old and old.first_ms else now_ms) > period.deadline_ms)
            if old is None:
                todo.append((unit, rep, 1, d, late))
            elif old.digest != d:
                todo.append((unit, rep, old.revision + (old.confirmed_ms is not None), d, late))
            elif old.confirmed_ms is None or force or (
                    recheck and old.state == "mismatched" and old.tries < MISMATCH_TRIES):
                todo.append((unit, rep, old.revision, d, late))
        ok, status = True, "nothing to send"
        if todo:
            ok, status = await self._send(day, todo, now_ms)
            if await self._mismatched(day):  # a recheck waits for what is queued now
                await self.db.execute(
                    "UPDATE console_report_periods SET upload_mark = ? WHERE day = ?",
                    (await self._upload_mark(), day))
            await self.db.execute(
                "INSERT INTO console_reports (day, at_ms, trigger, ok, status, total, units) "
                "VALUES (?,?,?,?,?,?,?)",
                (day, now_ms, trigger, int(ok), status,
                 sum(built.reports[u]["scans"] for u in self.units.tree().top
                     if u in built.reports), len(todo)))
        async with self.db.execute(
            "SELECT count(*) FROM console_report_units WHERE day = ? AND confirmed_ms IS NOT NULL",
            (day,),
        ) as cur:
            row = await cur.fetchone()
        confirmed = row[0] if row else 0
        ledger = await self._ledger(day)
        if all(ledger.get(u) and ledger[u].confirmed_ms for u in built.reports):
            await self.db.execute(
                "UPDATE console_report_periods SET settled_ms = ? WHERE day = ?", (now_ms, day))
        if not ok:
            log.warning("daily reports for %s not all delivered: %s", day, status)
        return {"ok": ok, "status": status, "day": day, "units": len(todo),
                "confirmed": confirmed, "late": sum(1 for t in todo if t[4])}

    async def _forwarder_behind(self, period: Period, now_ms: int) -> bool:
        """Records queued before the period was first looked at are not all at the
        platform yet (and the deadline is not near)."""
        day = period.day.isoformat()
        async with self.db.execute(
            "SELECT upload_mark FROM console_report_periods WHERE day = ?", (day,)
        ) as cur:
            row = await cur.fetchone()
        mark = row[0] if row else None
        if mark is None:
            mark = await self._upload_mark()
            await self.db.execute(
                "UPDATE console_report_periods SET upload_mark = ? WHERE day = ?", (mark, day))
        if now_ms >= period.deadline_ms - HOLD_MARGIN_MS:
            return False
        return await self._records_pending(mark)

    async def _upload_mark(self) -> int:
        """The upload queue's high-water mark: every record queued so far is at or below."""
        async with self.events.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'uploads'"
        ) as cur:
            found = await cur.fetchone()
        return found[0] if found else 0

    async def _records_pending(self, mark: int) -> bool:
        """Records queued at or before `mark` are not all at the platform yet."""
        async with self.events.execute(
            "SELECT 1 FROM uploads WHERE n <= ? LIMIT 1", (mark,)
        ) as cur:
            return await cur.fetchone() is not None

    async def _mismatched(self, day: str) -> bool:
        async with self.db.execute(
            "SELECT 1 FROM console_report_units WHERE day = ? AND state = 'mismatched' "
            "AND tries < ? LIMIT 1", (day, MISMATCH_TRIES),
        ) as cur:
            return await cur.fetchone() is not None

    async def _ledger(self, day: str) -> dict[str, Ledger]:
        async with self.db.execute(
            "SELECT unit, revision, digest, confirmed_ms, first_ms, state, tries "
            "FROM console_report_units WHERE day = ?", (day,),
        ) as cur:
            return {u: Ledger(r, d, c, f, s, t) for u, r, d, c, f, s, t in await cur.fetchall()}

    async def _send(self, day: str, todo: list[tuple[str, dict, int, str, bool]],
                    now_ms: int) -> tuple[bool, str]:
        """Keep each report as it goes out, send in batches, keep each answer."""
        wire = {unit: json.dumps(standard2.daily_report(rep, revision, late),
                                 ensure_ascii=False)
                for unit, rep, revision, _d, late in todo}
        late_units = {unit for unit, *_r, late in todo if late}
        async with self._transaction():
            await self.db.executemany(
                "INSERT INTO console_report_units (day, unit, revision, digest, scans, body, "
                "built_ms) VALUES (?,?,?,?,?,?,?) ON CONFLICT(day, unit) DO UPDATE SET "
                "confirmed_ms = CASE WHEN revision = excluded.revision "
                "AND digest = excluded.digest THEN confirmed_ms END, "
                "revision = excluded.revision, digest = excluded.digest, "
                "scans = excluded.scans, body = excluded.body, built_ms = excluded.built_ms",
                [(day, unit, revision, d, rep["scans"], wire[unit], now_ms)
                 for unit, rep, revision, d, _late in todo])
        units = [unit for unit, *_rest in todo]
        ok, statuses = True, set()
        for start in range(0, len(units), BATCH):
            part = units[start:start + BATCH]
            results, status = await self.platform.upload_reports([wire[u] for u in part])
            statuses.add(status)
            ok = await self._keep_answers(day, part, results, status, late_units, now_ms) and ok
        return ok, ", ".join(sorted(statuses))

    async def _keep_answers(self, day: str, units: Iterable[str],
                            results: list[standard2.ReportResult] | None, status: str,
                            late: set[str], now_ms: int) -> bool:
        by_unit = {r.unit: r for r in results or [] if r.day == day}
        delivered, failed, superseded = [], [], []
        for unit in units:
            r = by_unit.get(unit)
            if r is not None and r.state in ("confirmed", "mismatched"):
                delivered.append((now_ms, now_ms, int(unit in late), r.state,
                                  json.dumps(r.difference) if r.difference else None,
                                  day, unit))
            elif r is not None and r.state == "superseded":
                superseded.append((f"the platform has a later revision than {r.revision}",
                                   day, unit))
            else:
                why = status if results is None else (
                    f"rejected: {r.reason}" if r is not None else "no answer for this unit")
                failed.append((why, day, unit))
        async with self._transaction():
            await self.db.executemany(
                "UPDATE console_report_units SET confirmed_ms = ?, "
                "first_ms = coalesce(first_ms, ?), late = ?, state = ?, difference = ?, "
                "tries = tries + 1, last_error = NULL WHERE day = ? AND unit = ?", delivered)
            await self.db.executemany(
                "UPDATE console_report_units SET tries = tries + 1, last_error = ? "
                "WHERE day = ? AND unit = ?", failed)
            # Our revision number is behind the platform's (a restored database): the next
            # send goes out as a later revision.
            await self.db.executemany(
                "UPDATE console_report_units SET tries = tries + 1, last_error = ?, "
                "revision = revision + 1, digest = '' WHERE day = ? AND unit = ?", superseded)
        return not failed and not superseded

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One commit (one fsync) for a period's thousands of rows, not one per row."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("COMMIT")

    # --- what the console shows ----------------------------------------------------------------

    async def view(self, day: date, now_ms: int) -> dict:
        """Each unit's report for the period: its counts now, what was reported, and the
        platform's answer: open / pending / confirmed / late / mismatched, or untracked (a
        period before the reporter first ran, never sent: a manager may send it)."""
        period = self.periods.period(day)
        tree = self.units.tree()
        built = report.build(await report.scans_by_door(self.events, period.start_ms,
                                                        period.end_ms),
                             tree, period, self.tz, self.site, now_ms)
        async with self.db.execute(
            "SELECT unit, revision, scans, confirmed_ms, late, state, difference, tries, "
            "last_error, digest FROM console_report_units WHERE day = ?", (day.isoformat(),),
        ) as cur:
            sent = {r[0]: tuple(r) for r in await cur.fetchall()}
        async with self.db.execute(
            "SELECT 1 FROM console_report_periods WHERE day = ?", (day.isoformat(),)
        ) as cur:
            tracked = await cur.fetchone() is not None
        rows = []
        for u in tree.view():
            rep = built.reports[u["code"]]
            s = sent.get(u["code"])
            rows.append({
                "unit": u["code"], "name": u["name"], "depth": u["depth"],
                "parent": u["parent"], "identifier": u["identifier"],
                "scans": rep["scans"], "own_scans": rep["own_scans"],
                "doors": rep["doors"], "units": rep["units"],
                **{c: rep[c] for c in (*report.COLOURS, *report.KINDS)},
                "state": _state(period, now_ms, s, tracked),
                "reported_scans": s[2] if s else None, "revision": s[1] if s else None,
                "confirmed_ms": s[3] if s else None, "late": bool(s[4]) if s else False,
                "difference": json.loads(s[6]) if s and s[6] else None,
                "tries": s[7] if s else 0, "last_error": s[8] if s else None,
                "current": s is not None and s[9] == report.digest(rep),
            })
        states: dict[str, int] = {}
        for r in rows:
            states[r["state"]] = states.get(r["state"], 0) + 1
        return {"period": period.bounds(self.tz), "units": rows, "states": states,
                "unplaced": built.unplaced, "reports": list(built.reports.values())}

    async def attempts(self, limit: int = 30) -> list[dict]:
        async with self.db.execute(
            "SELECT day, at_ms, trigger, ok, status, total, units FROM console_reports "
            "ORDER BY n DESC LIMIT ?", (limit,),
        ) as cur:
            return [{"day": r[0], "at_ms": r[1], "trigger": r[2], "ok": bool(r[3]),
                     "status": r[4], "total": r[5], "units": r[6]}
                    for r in await cur.fetchall()]

    def status(self, now_ms: int) -> dict:
        current = self.periods.period_of(now_ms)
        return {"deadline": f"{self.periods.deadline_minute // 60:02d}:"
                            f"{self.periods.deadline_minute % 60:02d}",
                "cutoff": self.periods.cutoff_text(), "lead_minutes": self.periods.lead_minutes,
                "timezone": self.tz.key, "open_period": current.bounds(self.tz)}


def _state(period: Period, now_ms: int, sent: tuple | None, tracked: bool) -> str:
    if period.end_ms > now_ms:
        return "open"
    if sent is None and not tracked:
        return "untracked"
    if sent is None or sent[3] is None:
        return "pending"
    if sent[5] == "mismatched":
        return "mismatched"
    return "late" if sent[4] else "confirmed"
