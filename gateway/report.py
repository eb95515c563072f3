"""The daily report: each door's scan count for the day, to the platform before 16:00.

The unit must report every day by a deadline (config `console.report_deadline`). The
gateway sends it by itself from `report_lead_minutes` before the deadline, retrying each
minute until the platform confirms, and a manager can send it at any time; every attempt
and its result are kept and shown. The report carries counts only, no personal data.

Upload (to the platform, beside the scan records):
    POST /api/v1/daily-reports
    {"site": "demo", "date": "2026-11-24", "generated_ms": 1795..., "total": 812,
     "doors": [{"door": "east-gate", "scans": 500, "green": 480, "yellow": 12, "red": 3,
                "unknown": 5, "offline": 0, "manual": 4, "transcribed": 2}]}
    200 -> confirmed; anything else -> not delivered, tried again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import aiosqlite

from firmware import schema
from gateway.counts import day_bounds, today
from gateway.platform import Platform
from gateway.store import patiently

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
COMPONENT = schema.Component("console_reports", SCHEMA)  # version 1; later: migrations

COLOURS = ("green", "yellow", "red", "unknown", "offline")
# of the scans: visitors registered by hand (method manual, transcribed ones included),
# and entries transcribed from the paper register after an outage
KINDS = ("manual", "transcribed")


async def build(events: aiosqlite.Connection, site: str, day: date, tz: ZoneInfo) -> dict:
    """`events`: a read-only connection to the gateway's database (the read model's)."""
    start, end = day_bounds(day, tz)
    doors: dict[str, dict] = {}
    async with events.execute(
        "SELECT door, coalesce(colour, 'offline'), count(*) FROM events "
        "WHERE ts >= ? AND ts < ? GROUP BY 1, 2",
        (start, end),
    ) as cur:
        for door, colour, n in await cur.fetchall():
            row = doors.setdefault(door, {"door": door, "scans": 0, **dict.fromkeys(COLOURS, 0),
                                          **dict.fromkeys(KINDS, 0)})
            row[colour if colour in COLOURS else "unknown"] += n
            row["scans"] += n
    async with events.execute(
        "SELECT door, count(*), sum(medium = 'register') FROM events "
        "WHERE ts >= ? AND ts < ? AND method = 'manual' GROUP BY 1",
        (start, end),
    ) as cur:
        for door, manual, transcribed in await cur.fetchall():
            doors[door].update(manual=manual, transcribed=transcribed or 0)
    rows = [doors[d] for d in sorted(doors)]
    return {"site": site, "date": day.isoformat(), "generated_ms": int(time.time() * 1000),
            "total": sum(r["scans"] for r in rows), "doors": rows}


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "site", "door", "scans", *COLOURS, *KINDS])
    for row in report["doors"]:
        writer.writerow([report["date"], report["site"], row["door"], row["scans"],
                         *(row[c] for c in (*COLOURS, *KINDS))])
    writer.writerow([report["date"], report["site"], "TOTAL", report["total"],
                     *(sum(r[c] for r in report["doors"]) for c in (*COLOURS, *KINDS))])
    return out.getvalue()


class Reporter:
    """`db`: the console's own connection (the attempts); `events`: a read-only one."""

    def __init__(self, db: aiosqlite.Connection, events: aiosqlite.Connection,
                 platform: Platform, site: str, tz: ZoneInfo, deadline: str,
                 lead_minutes: int) -> None:
        self.db = db
        self.events = events
        self.platform = platform
        self.site = site
        self.tz = tz
        hh, mm = deadline.split(":")
        self.deadline_minute = int(hh) * 60 + int(mm)
        self.lead_minutes = lead_minutes
        self._lock = asyncio.Lock()

    async def send(self, day: date, trigger: str) -> dict:
        """Build and upload one day's report; the attempt is recorded either way."""
        async with self._lock:
            report = await build(self.events, self.site, day, self.tz)
            ok, status = await self.platform.upload_report(report)
            await self.db.execute(
                "INSERT INTO console_reports (day, at_ms, trigger, ok, status, total) "
                "VALUES (?,?,?,?,?,?)",
                (report["date"], int(time.time() * 1000), trigger, int(ok), status,
                 report["total"]),
            )
            if not ok:
                log.warning("daily report for %s not delivered: %s", report["date"], status)
            return {"ok": ok, "status": status, "report": report}

    async def attempts(self, limit: int = 30) -> list[dict]:
        async with self.db.execute(
            "SELECT day, at_ms, trigger, ok, status, total FROM console_reports "
            "ORDER BY n DESC LIMIT ?", (limit,),
        ) as cur:
            return [{"day": r[0], "at_ms": r[1], "trigger": r[2], "ok": bool(r[3]),
                     "status": r[4], "total": r[5]} for r in await cur.fetchall()]

    async def delivered(self, day: date) -> bool:
        async with self.db.execute(
            "SELECT 1 FROM console_reports WHERE day=? AND ok=1 LIMIT 1", (day.isoformat(),)
        ) as cur:
            return await cur.fetchone() is not None

    def due(self, now_ms: int) -> bool:
        local = datetime.fromtimestamp(now_ms / 1000, self.tz)
        return local.hour * 60 + local.minute >= self.deadline_minute - self.lead_minutes

    def status(self, now_ms: int) -> dict:
        return {"deadline": f"{self.deadline_minute // 60:02d}:{self.deadline_minute % 60:02d}",
                "lead_minutes": self.lead_minutes, "today": today(self.tz, now_ms).isoformat()}

    async def run(self, check_every_s: float = 60.0) -> None:
        """Send today's report once it is due, until delivered; again the next day."""
        while True:
            now = int(time.time() * 1000)
            day = today(self.tz, now)
            if self.due(now) and not await self.delivered(day):
                await patiently(partial(self.send, day, "automatic"), "daily report")
            await asyncio.sleep(check_every_s)
