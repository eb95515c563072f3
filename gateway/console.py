"""The site manager's console: live entries, alerts, kiosk health, counts, daily report.

The page and every asset it uses are served by the gateway (a site network has no
internet). Only `/`, the assets and the liveness check `/healthz` answer without sign-in
(gateway/web_security.py); everything else needs a session, and whatever shows entries,
kiosks or anything about a person a role that allows it (gateway/auth.py). The console
reads scans and kiosks through the read model (gateway/read_model.py) and keeps its own
tables (users, sessions, audit, alerts, reports, door counts) on its own writer connection to the
gateway's database file: the store's connection belongs to its group-commit writer.

The console observes the gateway's events (gateway/events.py): they are queued on the
scan's path and handled by the console's own task, so a slow browser or a console write
never holds up a verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import asdict
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import aiosqlite
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from firmware import schema
from firmware.verdict import NO_POLICY
from gateway import (
    alerts,
    audit,
    auth,
    counts,
    coverage,
    duty,
    notify,
    report,
    reporter,
    retention,
    tracing,
    users,
    venue_tracing,
    venues,
)
from gateway.auth import Principal, need
from gateway.config import GatewayConfig
from gateway.duty_desk import DutyDesk
from gateway.entry_policy import EntryPolicies, policies_from_config
from gateway.escalation import Escalation
from gateway.events import (
    DoorCounted,
    Event,
    MisuseSeen,
    ReplayFlood,
    ScanDistrusted,
    ScanStored,
    VerdictSent,
)
from gateway.kiosk_trust import KioskRegister
from gateway.live import Hub, entry_view
from gateway.periods import Periods
from gateway.personal import Pseudonymiser
from gateway.platform import Platform
from gateway.read_model import ReadModel, connect_readonly
from gateway.replies import KioskReplies
from gateway.store import patiently

if TYPE_CHECKING:
    from gateway.app import Gateway

STATIC = Path(__file__).with_name("static")
ASSETS = {"console.js": "text/javascript", "console.css": "text/css",
          "chart.js": "text/javascript", "i18n.js": "text/javascript",
          "register.js": "text/javascript", "duty.js": "text/javascript"}
VIEW_AUDIT_EVERY_MS = 10 * 60_000
# The console's tables in the gateway's file, each versioned on its own (firmware/schema.py).
COMPONENTS = (users.COMPONENT, auth.COMPONENT, audit.COMPONENT, alerts.COMPONENT,
              counts.COMPONENT, reporter.COMPONENT, duty.COMPONENT)

router = APIRouter()


class Console:
    """The console's state inside the running gateway (Gateway.console)."""

    def __init__(self, config: GatewayConfig, db: aiosqlite.Connection, reads: ReadModel,
                 platform: Platform, replies: KioskReplies, register: KioskRegister,
                 report_db: aiosqlite.Connection) -> None:
        self.config = config
        self.cfg = config.console
        self.tz = ZoneInfo(self.cfg.timezone)
        self.db = db  # the console's own tables
        self.reads = reads
        self.sessions = auth.Sessions(db, self.cfg.session_minutes, auth.Throttle(
            self.cfg.sign_in_free_failures, int(self.cfg.sign_in_backoff_s * 1000),
            int(self.cfg.sign_in_backoff_max_s * 1000)))
        self.audit = audit.AuditLog(db)
        self.hub = Hub()
        self.units = venues.Units(config.site, config.units.register_file, config.units.roots)
        # door -> entry policy, from its unit's category (check-in and kiosks apply it)
        self.entry_policies = EntryPolicies(policies_from_config(config.entry_policies),
                                            self.units.category_of)
        self.roster = duty.Roster(db)
        self.alerts = alerts.Alerts(db, self.hub.publish, self._on_duty)
        self.desk = DutyDesk(config, self.roster, self.alerts, self.audit, replies, reads,
                             register, self.units, self.hub.publish)
        notifier_cfg = config.duty.notifier
        self.notifier = notify.from_config(notifier_cfg) if notifier_cfg else None
        self.periods = Periods(self.tz, self.cfg.report_deadline, self.cfg.report_lead_minutes)
        # the reporter writes a period's 5,000 reports in one transaction: on a connection
        # of its own, so no other console write lands inside it
        self.report_db = report_db
        self.reporter = reporter.Reporter(report_db, reads.db, platform, self.units,
                                          self.periods, config.site, self.cfg.report_retry_s,
                                          self.cfg.retention_days)
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._viewed: dict[str, int] = {}

    @classmethod
    async def open(cls, config: GatewayConfig, reads: ReadModel, platform: Platform,
                   replies: KioskReplies, register: KioskRegister) -> Console:
        db = await aiosqlite.connect(config.db_path, isolation_level=None)
        report_db = None
        try:
            await db.execute("PRAGMA busy_timeout=5000")
            await schema.migrate_async(db, config.db_path, *COMPONENTS)
            report_db = await aiosqlite.connect(config.db_path, isolation_level=None)
            await report_db.execute("PRAGMA busy_timeout=5000")
            console = cls(config, db, reads, platform, replies, register, report_db)
            await console.sessions.drop_expired()
        except BaseException:
            await db.close()  # its thread would keep a failed process from exiting
            if report_db is not None:
                await report_db.close()
            raise
        return console

    def tasks(self) -> dict[str, Coroutine[object, object, None]]:
        """The console's background work, for the gateway to run supervised."""
        cfg = self.cfg
        tasks = {
            "console-events": self.handle_events(),
            "console-kiosk-watch": self.alerts.watch_kiosks(self.reads.kiosks, cfg.kiosk_check_s,
                                                            self.reads.sequence_faults),
            "console-coverage-watch": coverage.CoverageWatch(
                self.reads.db, self.units, coverage.Thresholds(
                    cfg.coverage_alert_below, cfg.coverage_window_minutes * 60_000,
                    cfg.coverage_alert_minutes * 60_000, cfg.coverage_alert_min_people),
                self.reads.kiosks, self.alerts.on_watch).run(cfg.coverage_check_s),
            "console-report": self.reporter.run(),
            "console-retention": retention.run(self.config.db_path, cfg.retention_days,
                                               cfg.purge_at, self.tz, cfg.purge_vacuum),
            "duty-staff-list": self.desk.watch_staff_list(),
        }
        if self.notifier is not None:
            tasks["duty-escalation"] = Escalation(
                self.config.site, self.alerts, self.notifier, self.config.duty.escalate_after_s,
                self.audit.record).run()
        return tasks

    async def close(self) -> None:
        if self.notifier is not None:
            await self.notifier.close()
        await self.report_db.close()
        await self.db.close()

    async def _on_duty(self, door: str) -> list[str]:
        return [row["user"] for row in await self.roster.on_duty(door)]

    # --- events (observer: called on the scan's path, only queues) ----------------------
    def observe(self, event: Event) -> None:
        if not isinstance(event, VerdictSent):
            self._events.put_nowait(event)

    async def handle_events(self) -> None:
        """Each write waits out a busy database (alerts and counts are keyed: a retry
        never raises anything twice)."""
        while True:
            event = await self._events.get()
            if isinstance(event, ScanStored):
                self.reporter.note_scan(event.ts)
                view = await self._entry_view(event)
                self.hub.publish("entry", view)
                await patiently(partial(self.alerts.on_entry, view), "alert")
                await patiently(partial(self.desk.unattended, event.door, event.ts, "scan",
                                        event.kiosk), "alert")
            elif isinstance(event, MisuseSeen):
                await patiently(partial(self.alerts.on_misuse, event), "alert")
            elif isinstance(event, ScanDistrusted):
                await patiently(partial(self.alerts.on_distrust, event), "alert")
            elif isinstance(event, ReplayFlood):
                await patiently(partial(self.alerts.on_flood, event), "alert")
            elif isinstance(event, DoorCounted):
                now = int(time.time() * 1000)
                await patiently(partial(counts.record_people, self.db, event.door,
                                        event.hour_ms, event.people, now), "door count")
                await patiently(partial(self.desk.unattended, event.door, now, "people"),
                                "alert")

    async def _entry_view(self, scan: ScanStored) -> dict:
        """The entry as the console shows it: its masked forms read back from the store."""
        row = {"id": scan.id, "kiosk": scan.kiosk, "door": scan.door, "ts": scan.ts,
               "method": scan.method, "colour": scan.colour, "action": scan.action,
               "prompt": scan.prompt, "source": scan.source, "temp_dc": scan.temp_dc}
        stored = await self.reads.masked(scan.id)
        if stored:
            row.update(medium=stored[0], masked=stored[1], masked_name=stored[2])
        return entry_view(row)

    async def audit_view(self, who: Principal, what: str) -> None:
        """Record looking at masked entries, at most once per user per 10 minutes."""
        now = int(time.time() * 1000)
        key = f"{who.user}:{what}"
        if now - self._viewed.get(key, 0) >= VIEW_AUDIT_EVERY_MS:
            self._viewed[key] = now
            await self.audit.record(who.user, who.role, f"view_{what}")


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def _console(request: Request) -> Console:
    return _gateway(request).console


def _day(console: Console, day: str | None) -> date:
    if not day:
        return counts.today(console.tz, int(time.time() * 1000))
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise HTTPException(422, "day must be YYYY-MM-DD") from None


# --- open to everyone: the page, its assets, liveness ---------------------------------

@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "console.html", media_type="text/html; charset=utf-8")


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(STATIC / name, media_type=ASSETS[name] + "; charset=utf-8")


@router.get("/api/summary")
async def summary(request: Request, _who: Annotated[Principal, Depends(auth.current)]) -> dict:
    gw = _gateway(request)
    kiosk_rows = await gw.reads.kiosks()
    return {
        "site": gw.config.site,
        "timezone": gw.config.console.timezone,
        "now_ms": int(time.time() * 1000),
        "mqtt_connected": gw.ingest.connected(),
        "counts": await gw.reads.counts(),
        "kiosks_online": sum(1 for k in kiosk_rows if k["state"] == "online"),
        "kiosks_total": len(kiosk_rows),
        "alerts_open": await gw.console.alerts.open_count(),
        "received": dict(gw.ingest.received),
        "rejected": dict(gw.ingest.rejected),
        "mqtt_faults": dict(gw.ingest.faults),
        "platform_errors": dict(gw.platform.errors),
        "checkin": dict(gw.checkin.counts),  # by colour, duplicates, replayed, misuse, flags
        "ingest": dict(gw.ingest.fair.counts),  # replays queued, dropped, floods
        "status_lookups": dict(gw.checkin.statuses.counts),  # cache, platform, stale, …
        "forwarder": {
            "backlog": await gw.reads.upload_backlog(),
            "uploaded": gw.forwarder.uploaded,
            "last_success": gw.forwarder.last_success,
            "last_error": gw.forwarder.last_error,
        },
        # scans that broke their kiosk's numbering (checked by the store from what is
        # stored: `reused` numbers, `late` ones behind what the platform already has)
        "sequence_faults": await gw.reads.sequence_fault_counts(),
        # the disk alarm: the store cannot write its file (full or failing), while it lasts
        "storage": storage_view(gw),
    }


def storage_view(gw: Gateway) -> dict:
    fault = gw.store.fault
    return {"fault": fault.detail if fault else None,
            "since_ms": fault.since_ms if fault else None,
            "refused_batches": gw.store.storage_faults}


@router.get("/healthz")
async def healthz(request: Request) -> dict:
    """Liveness, and whether the broker is connected (what an installer's check needs)."""
    return {"ok": True, "mqtt_connected": _gateway(request).ingest.connected()}


# --- entries, live feed, kiosks -------------------------------------------------------

@router.get("/api/entries")
async def entries(request: Request, who: Annotated[Principal, Depends(need("live"))],
                  limit: int = 50) -> list[dict]:
    await _console(request).audit_view(who, "entries")
    rows = await _gateway(request).reads.latest(min(max(limit, 1), 500))
    return [dict(entry_view(r), decide_ms=r["decide_ms"]) for r in rows]


@router.get("/api/live")
async def live(request: Request, who: Annotated[Principal, Depends(need("live"))]):
    console = _console(request)
    await console.audit.record(who.user, who.role, "open_live_feed")
    token = request.cookies.get(auth.COOKIE)

    async def still_signed_in() -> bool:
        return await console.sessions.lookup(token) is not None

    return StreamingResponse(
        console.hub.stream(request.is_disconnected, still_signed_in),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/kiosks")
async def kiosks(request: Request, _who: Annotated[Principal, Depends(need("kiosks"))]
                 ) -> list[dict]:
    now = int(time.time() * 1000)
    reads = _gateway(request).reads
    rows = await reads.kiosks()
    for row in rows:
        row["since_seen_s"] = round((now - row["last_seen_ms"]) / 1000, 1)
        # The offset a kiosk measured against the gateway's clock, when its status carries
        # one; beside it an estimate from its latest live scan (labelled as such).
        row.setdefault("clock_offset_ms", None)
        row["clock_offset_estimate_ms"] = await reads.clock_estimate(row["kiosk"])
    return rows


# --- alerts ----------------------------------------------------------------------------

class Ack(BaseModel):
    outcome: str = Field(pattern="^(" + "|".join(alerts.OUTCOMES) + ")$")
    note: str = Field("", max_length=500)
    # a handover to the community or the CDC: who took the person, and when
    handover_contact: str | None = Field(None, min_length=2, max_length=100)
    handover_ms: int | None = Field(None, ge=0)


def _check_handover(body: Ack, alert: dict | None) -> None:
    """A handover names its contact and time, a time not in the future nor before the
    alert; other outcomes carry neither."""
    if body.outcome not in alerts.HANDOVERS:
        if body.handover_contact is not None or body.handover_ms is not None:
            raise HTTPException(422, "a contact and time belong only to a handover")
        return
    if not (body.handover_contact or "").strip() or body.handover_ms is None:
        raise HTTPException(422, "a handover needs the contact (name, phone) and its time")
    if body.handover_ms > int(time.time() * 1000) + 60_000:
        raise HTTPException(422, "the handover time is in the future")
    if alert is not None and body.handover_ms < alert["raised_ms"] - 60_000:
        raise HTTPException(422, "the handover time is before the alert")


@router.get("/api/alerts")
async def alert_list(request: Request, _who: Annotated[Principal, Depends(need("live"))],
                     open: bool = True) -> list[dict]:
    console = _console(request)
    await console.audit_view(_who, "alerts")
    return await console.alerts.list(open_only=open)


@router.post("/api/alerts/{n}/ack")
async def alert_ack(n: int, body: Ack, request: Request,
                    who: Annotated[Principal, Depends(need("ack"))]) -> dict:
    console = _console(request)
    _check_handover(body, await console.alerts.get(n))
    contact = body.handover_contact.strip() if body.handover_contact else None
    done = await console.alerts.acknowledge(n, who.user, body.outcome, body.note, contact,
                                            body.handover_ms)
    if done is None:
        raise HTTPException(409, "no such open alert (already acknowledged?)")
    await console.audit.record(who.user, who.role, "ack_alert", alert=n, outcome=body.outcome,
                               handover_ms=body.handover_ms)
    return done


# --- counts and coverage -----------------------------------------------------------------

class DoorCount(BaseModel):
    door: str = Field(min_length=1, max_length=64)
    hour_ms: int = Field(ge=0)
    people: int = Field(ge=0, le=1_000_000)


@router.get("/api/counts")
async def day_counts(request: Request, _who: Annotated[Principal, Depends(need("counts"))],
                     day: str | None = None) -> dict:
    console = _console(request)
    result = await counts.day_counts(console.reads.db, console.db, _day(console, day),
                                     console.tz)
    # per unit: its doors and those of the units inside it (a mall with its shops)
    return dict(result, units=coverage.unit_day(result, console.units.tree()))


@router.get("/api/counts/days")
async def days_counts(request: Request, _who: Annotated[Principal, Depends(need("counts"))],
                      days: Annotated[int, Query(ge=1, le=62)] = 14) -> list[dict]:
    console = _console(request)
    last = _day(console, None)
    first = date.fromordinal(last.toordinal() - days + 1)
    return await counts.days_counts(console.reads.db, first, last, console.tz)


@router.post("/api/door-counts")
async def feed_count(body: DoorCount, request: Request,
                     who: Annotated[Principal, Depends(need("feed_counts"))]) -> dict:
    await counts.record_people(_console(request).db, body.door, body.hour_ms, body.people,
                               int(time.time() * 1000))
    return {"ok": True}


# --- units: venues, the shops inside them, their doors (read only) ----------------------------

@router.get("/api/units")
async def units_view(request: Request, _who: Annotated[Principal, Depends(need("units"))],
                     day: str | None = None) -> dict:
    """The site's units as the register has them, each with the day's scans on its own
    doors and rolled up over everything inside it."""
    console = _console(request)
    tree = console.units.tree()
    the_day = _day(console, day)
    start, end = counts.day_bounds(the_day, console.tz)
    per_door = await counts.scans_by_door(console.reads.db, start, end)
    rolled = tree.rollup({d: {"scans": n} for d, n in per_door.items()})
    rows = tree.view()
    for row in rows:
        row["scans_own"] = sum(per_door.get(d["door"], 0) for d in row["doors"])
        row["scans"] = rolled[row["code"]]["scans"] if row["code"] in rolled else 0
        for d in row["doors"]:
            d["scans"] = per_door.get(d["door"], 0)
        policy = console.entry_policies.by_category.get(row["category"], NO_POLICY)
        row["policy"] = policy.to_dict()
    if tree.single and rows:  # no register: every door that scanned is the site's
        rows[0]["doors"] = [{"door": d, "name": "", "scans": n}
                            for d, n in sorted(per_door.items())]
        rows[0]["scans_own"] = rows[0]["scans"] = sum(per_door.values())
    unplaced = tree.unplaced(per_door)
    return {"day": the_day.isoformat(), "register": console.units.status(), "units": rows,
            "unplaced_doors": [{"door": d, "scans": per_door[d]} for d in unplaced]}


# --- daily report --------------------------------------------------------------------------

class SendReport(BaseModel):
    day: str | None = None


def _period_day(console: Console, day: str | None, now_ms: int) -> date:
    """The report period asked for; by default the latest one that has closed."""
    if day:
        return _day(console, day)
    return console.periods.period_of(now_ms).day - timedelta(days=1)


@router.get("/api/report")
async def report_view(request: Request, _who: Annotated[Principal, Depends(need("report"))],
                      day: str | None = None) -> dict:
    """Each unit's report for one period (its bounds stated), with the platform's answer:
    open / pending / confirmed / late / mismatched."""
    console = _console(request)
    now = int(time.time() * 1000)
    view = await console.reporter.view(_period_day(console, day, now), now)
    view.pop("reports")
    return dict(view, attempts=await console.reporter.attempts(),
                schedule=console.reporter.status(now))


@router.get("/api/report.csv")
async def report_csv(request: Request, who: Annotated[Principal, Depends(need("report"))],
                     day: str | None = None) -> PlainTextResponse:
    console = _console(request)
    now = int(time.time() * 1000)
    view = await console.reporter.view(_period_day(console, day, now), now)
    return PlainTextResponse(
        "\ufeff" + report.to_csv(view["reports"]), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="report-{view["period"]["day"]}.csv"'},
    )


@router.post("/api/report/send")
async def report_send(body: SendReport, request: Request,
                      who: Annotated[Principal, Depends(need("report"))]) -> dict:
    """Send a closed period's reports again (the platform replaces what it has)."""
    console = _console(request)
    now = int(time.time() * 1000)
    result = await console.reporter.send(_period_day(console, body.day, now),
                                         f"by {who.user}", now)
    await console.audit.record(who.user, who.role, "send_report", day=result["day"],
                               ok=result["ok"], status=result["status"])
    if result["status"] == "open":
        raise HTTPException(409, f"the period is still open: it closes at {result['closes']} "
                                 "and is sent by itself then")
    return result


# --- audit log (read only: there is no route that changes it) -----------------------------

@router.get("/api/audit")
async def audit_log(request: Request, _who: Annotated[Principal, Depends(need("audit"))],
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
    log = _console(request).audit
    return {"rows": await log.latest(limit), "chain_broken_at": await log.verify_chain()}


# --- tracing (tracer only; every query audited, naming the person only by keyed hash) ----

class TracePerson(BaseModel):
    kind: str = Field(pattern="^(id_card|passport|phone|code)$")
    value: str = Field(min_length=1, max_length=512)
    from_ms: int = Field(ge=0)
    to_ms: int = Field(ge=0)
    window_minutes: int | None = Field(None, ge=1, le=24 * 60)
    format: str = Field("json", pattern="^(json|csv)$")


class TraceDoor(BaseModel):
    door: str = Field(min_length=1, max_length=64)
    from_ms: int = Field(ge=0)
    to_ms: int = Field(ge=0)
    format: str = Field("json", pattern="^(json|csv)$")


def _csv(text: str) -> PlainTextResponse:
    return PlainTextResponse("\ufeff" + text, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="trace.csv"'})


def _check_range(from_ms: int, to_ms: int) -> None:
    if to_ms < from_ms:
        raise HTTPException(422, "the range ends before it starts")
    if to_ms - from_ms > 62 * 86_400_000:
        raise HTTPException(422, "at most 62 days per query")


def _trace_subjects(console: Console, kind: str, value: str) -> list[str]:
    """The pseudonyms a traced identifier is stored under; a bad one is a 422 with why."""
    try:
        return tracing.subjects_for(Pseudonymiser(console.config.pseudonym_key), kind, value,
                                    console.cfg.code_url_prefixes)
    except tracing.TraceError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/api/trace/person")
async def trace_person(body: TracePerson, request: Request,
                       who: Annotated[Principal, Depends(need("trace"))]):
    console = _console(request)
    _check_range(body.from_ms, body.to_ms)
    subjects = _trace_subjects(console, body.kind, body.value)
    window = (body.window_minutes or console.cfg.trace_window_minutes) * 60_000
    started = time.perf_counter()

    def query() -> dict:
        conn = connect_readonly(console.config.db_path)
        try:
            return tracing.trace_person(conn, subjects, body.from_ms, body.to_ms, window)
        finally:
            conn.close()

    result = await asyncio.to_thread(query)
    took = round((time.perf_counter() - started) * 1000, 1)
    await console.audit.record(
        who.user, who.role, "trace_person", kind=body.kind, subjects=subjects,
        masked=tracing.masked(body.kind, body.value), from_ms=body.from_ms, to_ms=body.to_ms,
        window_min=window // 60_000, visits=len(result["visits"]),
        contacts=len(result["contacts"]), format=body.format,
    )
    if body.format == "csv":
        rows = [dict(v, role="visit") for v in result["visits"]]
        rows += [dict(c, role="contact") for c in result["contacts"]]
        return _csv(tracing.to_csv(rows, console.tz))
    return dict(result, took_ms=took, window_minutes=window // 60_000)


class TraceVenue(BaseModel):
    kind: str = Field(pattern="^(id_card|passport|phone|code)$")
    value: str = Field(min_length=1, max_length=512)
    from_ms: int = Field(ge=0)
    to_ms: int = Field(ge=0)
    default_stay_minutes: int | None = Field(None, ge=1, le=24 * 60)
    format: str = Field("json", pattern="^(json|csv)$")


@router.post("/api/trace/venue")
async def trace_venue(body: TraceVenue, request: Request,
                      who: Annotated[Principal, Depends(need("trace"))]):
    """Venue-wide (时空关联): everyone whose stay in a venue the case was in overlapped
    the case's (gateway/venue_tracing.py); audited like the other traces."""
    console = _console(request)
    _check_range(body.from_ms, body.to_ms)
    subjects = _trace_subjects(console, body.kind, body.value)
    stay = (body.default_stay_minutes or console.cfg.trace_default_stay_minutes) * 60_000
    longest = console.cfg.trace_max_stay_minutes * 60_000
    tree = console.units.tree()
    started = time.perf_counter()

    def query() -> dict:
        conn = connect_readonly(console.config.db_path)
        try:
            return venue_tracing.trace_venue(conn, tree, subjects, body.from_ms, body.to_ms,
                                             console.tz, stay, longest)
        finally:
            conn.close()

    result = await asyncio.to_thread(query)
    took = round((time.perf_counter() - started) * 1000, 1)
    await console.audit.record(
        who.user, who.role, "trace_venue", kind=body.kind, subjects=subjects,
        masked=tracing.masked(body.kind, body.value), from_ms=body.from_ms, to_ms=body.to_ms,
        venues=sorted({s["venue"] for s in result["stays"]}),
        default_stay_min=stay // 60_000, visits=len(result["visits"]),
        contacts=len(result["contacts"]), format=body.format,
    )
    if body.format == "csv":
        stays = result["stays"]
        rows = [dict(v, role="visit") for v in result["visits"]]
        rows += [dict(c, role=f"contact ({c['basis']})", visit_id=stays[c["stay"]]["scans"][0],
                      gap_ms=c["ts"] - stays[c["stay"]]["start_ms"])
                 for c in result["contacts"]]
        return _csv(tracing.to_csv(rows, console.tz))
    return dict(result, took_ms=took)


@router.post("/api/trace/door")
async def trace_door(body: TraceDoor, request: Request,
                     who: Annotated[Principal, Depends(need("trace"))]):
    console = _console(request)
    _check_range(body.from_ms, body.to_ms)
    path = console.config.db_path

    def query() -> list[dict]:
        conn = connect_readonly(path)
        try:
            return [asdict(s) for s in tracing.at_door(conn, body.door, body.from_ms, body.to_ms)]
        finally:
            conn.close()

    started = time.perf_counter()
    rows = await asyncio.to_thread(query)
    took = round((time.perf_counter() - started) * 1000, 1)
    await console.audit.record(who.user, who.role, "trace_door", door=body.door,
                               from_ms=body.from_ms, to_ms=body.to_ms, rows=len(rows),
                               format=body.format)
    if body.format == "csv":
        return _csv(tracing.to_csv([dict(r, role="present") for r in rows], console.tz))
    return {"scans": rows, "people": len({r["subject"] for r in rows}), "took_ms": took}
