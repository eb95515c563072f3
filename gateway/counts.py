"""Counts per door per hour and per day, and coverage: entries checked ÷ people counted.

Entries checked come from the event store (a range scan on its time index, read through
the read model's read-only connection). People counted come from each door board's pass
counter: the kiosks send every counted person over MQTT, the store keeps them
(`door_passes`) and the console writes each door's hourly total into
`console_door_counts`, which a counter without a kiosk can also feed (POST
/api/door-counts). Where no count exists for a door and hour, coverage is unknown (None,
shown as "—"), never 0 % or 100 %. Hours and days are the site's local ones (config
`console.timezone`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from firmware import schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_door_counts (
    door TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    people INTEGER NOT NULL CHECK (people >= 0),
    reported_ms INTEGER NOT NULL,
    PRIMARY KEY (door, hour_ms)
) WITHOUT ROWID;
"""
COMPONENT = schema.Component("console_door_counts", SCHEMA)  # version 1; later: migrations

HOUR_MS = 3_600_000


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def today(tz: ZoneInfo, now_ms: int) -> date:
    return datetime.fromtimestamp(now_ms / 1000, tz).date()


def coverage(checked: int, people: int | None) -> float | None:
    if people is None:
        return None
    if people == 0:
        return None if checked == 0 else 1.0
    return round(checked / people, 4)


async def record_people(db: aiosqlite.Connection, door: str, hour_ms: int, people: int,
                        now_ms: int) -> None:
    """Store a board's pass count for one hour (the latest report for the hour wins)."""
    await db.execute(
        "INSERT INTO console_door_counts (door, hour_ms, people, reported_ms) VALUES (?,?,?,?) "
        "ON CONFLICT(door, hour_ms) DO UPDATE SET people=excluded.people, "
        "reported_ms=excluded.reported_ms",
        (door, hour_ms - hour_ms % HOUR_MS, people, now_ms),
    )


async def checked_by_hour(events: aiosqlite.Connection, start_ms: int, end_ms: int
                          ) -> dict[tuple[str, int], dict[str, int]]:
    """{(door, hour_start_ms): {colour: n}} for scans with ts in [start, end)."""
    out: dict[tuple[str, int], dict[str, int]] = {}
    async with events.execute(
        "SELECT door, ts - ((ts - ?) % ?) AS hour, coalesce(colour, 'offline'), count(*) "
        "FROM events WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3",
        (start_ms, HOUR_MS, start_ms, end_ms),
    ) as cur:
        for door, hour, colour, n in await cur.fetchall():
            out.setdefault((door, hour), {})[colour] = n
    return out


async def people_by_hour(db: aiosqlite.Connection, start_ms: int, end_ms: int
                         ) -> dict[tuple[str, int], int]:
    async with db.execute(
        "SELECT door, hour_ms, people FROM console_door_counts WHERE hour_ms >= ? AND hour_ms < ?",
        (start_ms, end_ms),
    ) as cur:
        return {(d, h): p for d, h, p in await cur.fetchall()}


async def day_counts(events: aiosqlite.Connection, db: aiosqlite.Connection,
                     day: date, tz: ZoneInfo) -> dict:
    """One day per door and per hour: scans by colour, people counted, coverage.
    `events`: read-only; `db`: the console's own connection (its door counts)."""
    start, end = day_bounds(day, tz)
    checked = await checked_by_hour(events, start, end)
    people = await people_by_hour(db, start, end)
    doors = sorted({d for d, _h in checked} | {d for d, _h in people})
    hours = list(range(start, end, HOUR_MS))
    per_door = []
    for door in doors:
        rows: list[dict[str, Any]] = []
        for hour in hours:
            by_colour = checked.get((door, hour), {})
            n = sum(by_colour.values())
            p = people.get((door, hour))
            local = datetime.fromtimestamp(hour / 1000, tz).hour
            rows.append({"hour_ms": hour, "hour": local, "checked": n, "by_colour": by_colour,
                         "people": p, "coverage": coverage(n, p)})
        total = sum(r["checked"] for r in rows)
        counted = [r["people"] for r in rows if r["people"] is not None]
        # Day coverage only over the hours the board reported: an hour without a count
        # says nothing about how many walked in.
        covered = sum(r["checked"] for r in rows if r["people"] is not None)
        per_door.append({
            "door": door, "hours": rows, "checked": total,
            "people": sum(counted) if counted else None,
            "coverage": coverage(covered, sum(counted)) if counted else None,
        })
    return {"day": day.isoformat(), "start_ms": start, "end_ms": end, "doors": per_door,
            "checked": sum(d["checked"] for d in per_door)}


async def scans_by_door(events: aiosqlite.Connection, start_ms: int, end_ms: int
                        ) -> dict[str, int]:
    """{door: scans with ts in [start, end)}."""
    async with events.execute(
        "SELECT door, count(*) FROM events WHERE ts >= ? AND ts < ? GROUP BY door",
        (start_ms, end_ms),
    ) as cur:
        return {d: n for d, n in await cur.fetchall()}


async def days_counts(events: aiosqlite.Connection, day_from: date, day_to: date,
                      tz: ZoneInfo) -> list[dict]:
    """Scans per door per day over a range of days (for the daily chart)."""
    out = []
    day = day_from
    while day <= day_to:
        per_door = await scans_by_door(events, *day_bounds(day, tz))
        out.append({"day": day.isoformat(), "doors": per_door, "checked": sum(per_door.values())})
        day += timedelta(days=1)
    return out
