"""The site manager's console: live entries, alerts, kiosk health, counts, daily report.

The page and every asset it uses are served by the gateway (a site network has no
internet). Only `/`, the assets, `/healthz` and `/api/summary` (aggregate counts) answer
without sign-in; everything that shows entries, kiosks or anything about a person needs
a session whose role allows it (gateway/auth.py). The console keeps its own tables
(users, sessions, audit, alerts, reports, door counts) on its own connection to the
gateway's database file: the store's connection belongs to its group-commit writer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import aiosqlite
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from firmware import schema
from gateway import alerts, audit, auth, counts, report, retention, tracing, users
from gateway.auth import Principal, need
from gateway.live import Hub, entry_view
from gateway.personal import Pseudonymiser, mask

STATIC = Path(__file__).with_name("static")
ASSETS = {"console.js": "text/javascript", "console.css": "text/css",
          "chart.js": "text/javascript", "i18n.js": "text/javascript"}
VIEW_AUDIT_EVERY_MS = 10 * 60_000
# The console's tables in the gateway's file, each versioned on its own (firmware/schema.py).
COMPONENTS = (users.COMPONENT, auth.COMPONENT, audit.COMPONENT, alerts.COMPONENT,
              counts.COMPONENT, report.COMPONENT)

router = APIRouter()


class Console:
    """The console's state inside the running gateway (app.state.console)."""

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        cfg = gateway.config.console
        self.cfg = cfg
        self.tz = ZoneInfo(cfg.timezone)
        self.db: aiosqlite.Connection
        self._viewed: dict[str, int] = {}

    async def start(self) -> list[asyncio.Task]:
        gw = self.gateway
        self.db = await aiosqlite.connect(gw.config.db_path, isolation_level=None)
        await self.db.execute("PRAGMA busy_timeout=5000")
        await schema.migrate_async(self.db, gw.config.db_path, *COMPONENTS)
        self.sessions = auth.Sessions(self.db, self.cfg.session_minutes)
        await self.sessions.drop_expired()
        self.audit = audit.AuditLog(self.db)
        self.hub = Hub(gw.store.db)
        self.alerts = alerts.Alerts(self.db, self.hub.publish)
        self.hub.entry_hooks.append(self.alerts.on_entry)
        gw.checkin.listeners.append(self.hub.on_entry)
        self.reporter = report.Reporter(
            self.db, gw.store.db, gw.config.site, gw.config.platform.url, self.tz,
            self.cfg.report_deadline, self.cfg.report_lead_minutes,
        )
        return [
            asyncio.create_task(self.hub.run(), name="console-live"),
            asyncio.create_task(self.alerts.watch_kiosks(gw.store.kiosks, self.cfg.kiosk_check_s),
                                name="console-kiosk-watch"),
            asyncio.create_task(self.reporter.run(), name="console-report"),
            asyncio.create_task(retention.run(gw.config.db_path, self.cfg.retention_days,
                                              self.cfg.purge_at, self.tz, self.cfg.purge_vacuum),
                                name="console-retention"),
        ]

    async def stop(self) -> None:
        await self.reporter.close()
        await self.db.close()

    async def audit_view(self, who: Principal, what: str) -> None:
        """Record looking at masked entries, at most once per user per 10 minutes."""
        now = int(time.time() * 1000)
        key = f"{who.user}:{what}"
        if now - self._viewed.get(key, 0) >= VIEW_AUDIT_EVERY_MS:
            self._viewed[key] = now
            await self.audit.record(who.user, who.role, f"view_{what}")


def _console(request: Request) -> Console:
    return request.app.state.console


def _gateway(request: Request):
    return request.app.state.gateway


def _day(console: Console, day: str | None) -> date:
    if not day:
        return counts.today(console.tz, int(time.time() * 1000))
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise HTTPException(422, "day must be YYYY-MM-DD") from None


# --- open to everyone: the page, its assets, aggregate health --------------------------

@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "console.html", media_type="text/html; charset=utf-8")


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(STATIC / name, media_type=ASSETS[name] + "; charset=utf-8")


@router.get("/api/summary")
async def summary(request: Request) -> dict:
    gw = _gateway(request)
    kiosk_rows = await gw.store.kiosks()
    console = getattr(request.app.state, "console", None)
    return {
        "site": gw.config.site,
        "timezone": gw.config.console.timezone,
        "now_ms": int(time.time() * 1000),
        "mqtt_connected": gw.link.connected.is_set(),
        "counts": await gw.store.counts(),
        "kiosks_online": sum(1 for k in kiosk_rows if k["state"] == "online"),
        "kiosks_total": len(kiosk_rows),
        "alerts_open": await console.alerts.open_count() if console else None,
        "received": dict(gw.link.received),
        "rejected": dict(gw.link.rejected),
        "platform_errors": dict(gw.platform.errors),
        "forwarder": {
            "backlog": await gw.store.upload_backlog(),
            "uploaded": gw.forwarder.uploaded,
            "last_success": gw.forwarder.last_success,
            "last_error": gw.forwarder.last_error,
        },
    }


@router.get("/healthz")
async def healthz(request: Request) -> dict:
    return {"ok": True, "mqtt_connected": _gateway(request).link.connected.is_set()}


# --- entries, live feed, kiosks -------------------------------------------------------

@router.get("/api/entries")
async def entries(request: Request, who: Annotated[Principal, Depends(need("live"))],
                  limit: int = 50) -> list[dict]:
    await _console(request).audit_view(who, "entries")
    rows = await _gateway(request).store.latest(min(max(limit, 1), 500))
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
    store = _gateway(request).store
    rows = await store.kiosks()
    for row in rows:
        row["since_seen_s"] = round((now - row["last_seen_ms"]) / 1000, 1)
        # Kiosks do not report their clock offset yet. What the gateway can tell: on the
        # kiosk's latest live scan, gateway receipt time minus the kiosk's scan time =
        # clock offset + delivery (tens of ms on a site LAN). Labelled an estimate.
        row["clock_offset_ms"] = row["health"].get("clock_offset_ms")
        row["clock_offset_estimate_ms"] = None
        async with store.db.execute(
            "SELECT ts - received_ms FROM events WHERE kiosk = ? AND source IS NOT NULL "
            "ORDER BY seq DESC LIMIT 1", (row["kiosk"],),
        ) as cur:
            last = await cur.fetchone()
        if last is not None:
            row["clock_offset_estimate_ms"] = last[0]
    return rows


# --- alerts ----------------------------------------------------------------------------

class Ack(BaseModel):
    outcome: str = Field(pattern="^(" + "|".join(alerts.OUTCOMES) + ")$")
    note: str = Field("", max_length=500)


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
    done = await console.alerts.acknowledge(n, who.user, body.outcome, body.note)
    if done is None:
        raise HTTPException(409, "no such open alert (already acknowledged?)")
    await console.audit.record(who.user, who.role, "ack_alert", alert=n, outcome=body.outcome)
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
    return await counts.day_counts(_gateway(request).store.db, console.db,
                                   _day(console, day), console.tz)


@router.get("/api/counts/days")
async def days_counts(request: Request, _who: Annotated[Principal, Depends(need("counts"))],
                      days: Annotated[int, Query(ge=1, le=62)] = 14) -> list[dict]:
    console = _console(request)
    last = _day(console, None)
    first = date.fromordinal(last.toordinal() - days + 1)
    return await counts.days_counts(_gateway(request).store.db, first, last, console.tz)


@router.post("/api/door-counts")
async def feed_count(body: DoorCount, request: Request,
                     who: Annotated[Principal, Depends(need("feed_counts"))]) -> dict:
    await counts.record_people(_console(request).db, body.door, body.hour_ms, body.people,
                               int(time.time() * 1000))
    return {"ok": True}


# --- daily report --------------------------------------------------------------------------

class SendReport(BaseModel):
    day: str | None = None


@router.get("/api/report")
async def report_view(request: Request, _who: Annotated[Principal, Depends(need("report"))],
                      day: str | None = None) -> dict:
    console = _console(request)
    now = int(time.time() * 1000)
    return {
        "report": await report.build(_gateway(request).store.db, console.gateway.config.site,
                                     _day(console, day), console.tz),
        "attempts": await console.reporter.attempts(),
        "schedule": console.reporter.status(now),
    }


@router.get("/api/report.csv")
async def report_csv(request: Request, who: Annotated[Principal, Depends(need("report"))],
                     day: str | None = None) -> PlainTextResponse:
    console = _console(request)
    built = await report.build(_gateway(request).store.db, console.gateway.config.site,
                               _day(console, day), console.tz)
    return PlainTextResponse(
        "\ufeff" + report.to_csv(built), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{built["date"]}.csv"'},
    )


@router.post("/api/report/send")
async def report_send(body: SendReport, request: Request,
                      who: Annotated[Principal, Depends(need("report"))]) -> dict:
    console = _console(request)
    result = await console.reporter.send(_day(console, body.day), f"by {who.user}")
    await console.audit.record(who.user, who.role, "send_report", day=result["report"]["date"],
                               ok=result["ok"], status=result["status"])
    return result


# --- audit log (read only: there is no route that changes it) -----------------------------

@router.get("/api/audit")
async def audit_log(request: Request, _who: Annotated[Principal, Depends(need("audit"))],
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
    log = _console(request).audit
    return {"rows": await log.latest(limit), "chain_broken_at": await log.verify_chain()}


# --- tracing (tracer only; every query audited, naming the person only by keyed hash) ----

class TracePerson(BaseModel):
    kind: str = Field(pattern="^(id_card|code)$")
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


@router.post("/api/trace/person")
async def trace_person(body: TracePerson, request: Request,
                       who: Annotated[Principal, Depends(need("trace"))]):
    console = _console(request)
    _check_range(body.from_ms, body.to_ms)
    cfg = console.gateway.config
    try:
        subjects = tracing.subjects_for(Pseudonymiser(cfg.pseudonym_key), body.kind, body.value,
                                        console.cfg.code_url_prefixes)
    except tracing.TraceError as exc:
        raise HTTPException(422, str(exc)) from None
    window = (body.window_minutes or console.cfg.trace_window_minutes) * 60_000
    started = time.perf_counter()

    def query() -> dict:
        conn = tracing.connect_readonly(str(cfg.db_path))
        try:
            return tracing.trace_person(conn, subjects, body.from_ms, body.to_ms, window)
        finally:
            conn.close()

    result = await asyncio.to_thread(query)
    took = round((time.perf_counter() - started) * 1000, 1)
    await console.audit.record(
        who.user, who.role, "trace_person", kind=body.kind, subjects=subjects,
        masked=mask(body.kind, body.value.strip()), from_ms=body.from_ms, to_ms=body.to_ms,
        window_min=window // 60_000, visits=len(result["visits"]),
        contacts=len(result["contacts"]), format=body.format,
    )
    if body.format == "csv":
        rows = [dict(v, role="visit") for v in result["visits"]]
        rows += [dict(c, role="contact") for c in result["contacts"]]
        return _csv(tracing.to_csv(rows, console.tz))
    return dict(result, took_ms=took, window_minutes=window // 60_000)


@router.post("/api/trace/door")
async def trace_door(body: TraceDoor, request: Request,
                     who: Annotated[Principal, Depends(need("trace"))]):
    console = _console(request)
    _check_range(body.from_ms, body.to_ms)
    path = str(console.gateway.config.db_path)

    def query() -> list[dict]:
        conn = tracing.connect_readonly(path)
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
