"""Coverage (应扫尽扫) per door and per unit, and the alerts that say when it fails.

Coverage is scans ÷ people counted by the door's counter (gateway/counts.py), only over
the hours a counter reported (an hour without a count says nothing). A unit's coverage
sums its own doors and those of every unit inside it (gateway/venues.py): a mall's
includes its shops' doors, both what they scanned and what their counters counted.

Two alerts, checked every `coverage_check_s`:

- `low_coverage`: a door or a unit whose coverage over the trailing
  `coverage_window_minutes` stays below `coverage_alert_below` for
  `coverage_alert_minutes` (with at least `coverage_alert_min_people` counted in the
  window, so three people and two scans at dawn raise nothing). Once per episode: it may
  raise again only after coverage has recovered.
- `unchecked_passes`: people counted through a kiosk's door while that kiosk was offline
  (nobody was checked there). The board's counts reach the gateway through the kiosk, so
  they often arrive once it is back: each offline spell is remembered for a day and
  looked at again until its passes are in.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosqlite

from gateway.counts import coverage
from gateway.venues import Units, VenueTree

log = logging.getLogger(__name__)

SPELL_KEPT_MS = 86_400_000  # how long an offline spell is looked at for late passes
_PASS_TAIL = re.compile(r"^[0-9a-f]+-\d+$")  # "<board boot hex>-<board seq>" after "<kiosk>-"


def unit_day(day: dict, tree: VenueTree) -> list[dict]:
    """Per unit, from gateway/counts.day_counts: each hour's scans, people counted and
    coverage over its doors and the doors of the units inside it; the day's totals."""
    hours = [h["hour_ms"] for h in day["doors"][0]["hours"]] if day["doors"] else []
    checked: dict[str, Counter[int]] = {}
    covered: dict[str, Counter[int]] = {}  # scans in the hours a counter reported
    people: dict[str, Counter[int]] = {}
    for door in day["doors"]:
        for code in tree.attribute(door["door"]).units:
            for h in door["hours"]:
                checked.setdefault(code, Counter())[h["hour_ms"]] += h["checked"]
                if h["people"] is not None:
                    covered.setdefault(code, Counter())[h["hour_ms"]] += h["checked"]
                    people.setdefault(code, Counter())[h["hour_ms"]] += h["people"]
    out = []
    for unit in tree.view():
        code = unit["code"]
        c, k, p = checked.get(code, Counter()), covered.get(code, Counter()), people.get(code)
        rows = [{"hour_ms": h, "checked": c[h],
                 "people": p[h] if p is not None and h in p else None,
                 "coverage": coverage(k[h], p[h]) if p is not None and h in p else None}
                for h in hours]
        out.append({"code": code, "name": unit["name"], "depth": unit["depth"],
                    "hours": rows, "checked": sum(c.values()),
                    "people": sum(p.values()) if p else None,
                    "coverage": coverage(sum(k.values()), sum(p.values())) if p else None})
    return out


@dataclass(frozen=True, slots=True)
class Thresholds:
    below: float  # coverage under this is low (0.9 = 90 %)
    window_ms: int  # coverage is taken over this trailing window
    for_ms: int  # low for this long raises the alert
    min_people: int  # fewer counted in the window: no judgement


@dataclass(slots=True)
class Spell:
    kiosk: str
    off_ms: int
    on_ms: int | None = None  # None: still offline


class CoverageWatch:
    """Raises `low_coverage` and `unchecked_passes` alerts (see the module docstring).
    `raise_alert(key, kind, **fields)` is the console's (idempotent on key)."""

    def __init__(self, events: aiosqlite.Connection, units: Units, thresholds: Thresholds,
                 kiosks: Callable[[], Awaitable[list[dict]]],
                 raise_alert: Callable[..., Awaitable[None]],
                 kiosk_doors: Callable[[str], frozenset[str]] = lambda _k: frozenset()) -> None:
        self.events = events
        self.units = units
        self.t = thresholds
        self.kiosks = kiosks
        self.raise_alert = raise_alert
        self.kiosk_doors = kiosk_doors  # the kiosk register's doors for a kiosk, if any
        self.low_since: dict[str, int] = {}  # door or unit -> when its coverage went low
        self.raised: set[str] = set()  # doors/units alerted in the current low episode
        self.spells: dict[tuple[str, int], Spell] = {}

    async def run(self, every_s: float) -> None:
        while True:
            try:
                await self.check(int(time.time() * 1000))
            except aiosqlite.Error as exc:  # a busy or failing disk: next time
                log.warning("coverage not checked: %s", exc)
            await asyncio.sleep(every_s)

    async def check(self, now_ms: int) -> None:
        await self.check_coverage(now_ms)
        await self.check_offline(now_ms)

    # --- low coverage -----------------------------------------------------------------
    async def window_counts(self, since_ms: int, until_ms: int
                            ) -> dict[str, tuple[int, int]]:
        """{door: (scans, people counted in)} over [since, until)."""
        async with self.events.execute(
                "SELECT door, count(*) FROM events WHERE ts >= ? AND ts < ? GROUP BY door",
                (since_ms, until_ms)) as cur:
            scans = {d: n for d, n in await cur.fetchall()}
        tree = self.units.tree()
        if tree.single:  # no register: the doors whose counters counted anyone lately
            async with self.events.execute(
                    "SELECT DISTINCT door FROM door_passes INDEXED BY "
                    "door_passes_door_direction_ts WHERE direction = 'in' AND ts >= ?",
                    (since_ms,)) as cur:
                counted = {d for (d,) in await cur.fetchall()}
        else:
            counted = set(tree.door_unit)
        doors = set(scans) | counted
        out = {}
        for door in sorted(doors):
            async with self.events.execute(
                    "SELECT count(*) FROM door_passes INDEXED BY door_passes_door_ts "
                    "WHERE door = ? AND ts >= ? AND ts < ? AND direction = 'in'",
                    (door, since_ms, until_ms)) as cur:
                row = await cur.fetchone()
            people = row[0] if row else 0
            if people or door in scans:
                out[door] = (scans.get(door, 0), people)
        return out

    async def check_coverage(self, now_ms: int) -> None:
        per_door = await self.window_counts(now_ms - self.t.window_ms, now_ms)
        tree = self.units.tree()
        totals: dict[tuple[str, str], list[int]] = {}  # (door|unit, name) -> [scans, people]
        for door, (scans, people) in per_door.items():
            if not people:
                continue  # no counter here: coverage unknown, never low
            for place in [("door", door), *(("unit", u) for u in tree.attribute(door).units)]:
                counted = totals.setdefault(place, [0, 0])
                counted[0] += scans
                counted[1] += people
        low_now = set()
        for (what, name), (scans, people) in totals.items():
            ratio = coverage(scans, people)
            if people < self.t.min_people or ratio is None or ratio >= self.t.below:
                continue
            key = f"{what}:{name}"
            low_now.add(key)
            since = self.low_since.setdefault(key, now_ms)
            if now_ms - since >= self.t.for_ms and key not in self.raised:
                self.raised.add(key)
                unit = tree.units.get(name) if what == "unit" else None
                await self.raise_alert(
                    f"coverage:{key}:{since}", "low_coverage", ts=since,
                    door=name if what == "door" else None,
                    kiosk=None, action=f"{round(ratio * 100)}%",
                    masked=f"{unit.name} ({name})" if unit else name,
                    colour=None)
        for was_low in list(self.low_since):
            if was_low not in low_now:  # recovered (or too few people): a new episode later
                del self.low_since[was_low]
                self.raised.discard(was_low)

    # --- people through a door whose kiosk was offline ----------------------------------
    async def check_offline(self, now_ms: int) -> None:
        for k in await self.kiosks():
            kiosk, state, changed = k["kiosk"], k["state"], k["changed_ms"]
            if state == "offline":
                self.spells.setdefault((kiosk, changed), Spell(kiosk, changed))
            else:
                for spell in self.spells.values():
                    if spell.kiosk == kiosk and spell.on_ms is None and spell.off_ms < changed:
                        spell.on_ms = changed
        for key, spell in list(self.spells.items()):
            if spell.on_ms is not None and now_ms - spell.on_ms > SPELL_KEPT_MS:
                del self.spells[key]
                continue
            passed = await self.passes_while_offline(spell, now_ms)
            if passed:
                await self.raise_alert(
                    f"unchecked:{spell.kiosk}:{spell.off_ms}", "unchecked_passes",
                    kiosk=spell.kiosk, ts=spell.off_ms, door=passed[0],
                    action=str(passed[1]), colour=None, masked=None)

    async def doors_of(self, kiosk: str) -> frozenset[str]:
        """The kiosk's doors: the kiosk register's, else the door of its latest scan."""
        enrolled = self.kiosk_doors(kiosk)
        if enrolled:
            return enrolled
        async with self.events.execute(
                "SELECT door FROM events INDEXED BY events_kiosk_seq WHERE kiosk = ? "
                "ORDER BY seq DESC LIMIT 1", (kiosk,)) as cur:
            row = await cur.fetchone()
        return frozenset([row[0]]) if row else frozenset()

    async def passes_while_offline(self, spell: Spell, now_ms: int
                                   ) -> tuple[str, int] | None:
        """(door, people) counted by this kiosk's board during the spell; None if none."""
        end = spell.on_ms if spell.on_ms is not None else now_ms
        prefix = spell.kiosk + "-"
        for door in sorted(await self.doors_of(spell.kiosk)):
            async with self.events.execute(
                    "SELECT id FROM door_passes INDEXED BY door_passes_door_ts "
                    "WHERE door = ? AND ts >= ? AND ts <= ? AND direction = 'in'",
                    (door, spell.off_ms, end)) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            mine = [i for i in ids if i.startswith(prefix)
                    and _PASS_TAIL.match(i[len(prefix):])]
            if mine:
                return door, len(mine)
        return None
