"""The daily report of each unit: its scans in one report period, per door and per unit
inside it, rolled up (gateway/periods.py for the periods, gateway/venues.py for the units,
gateway/reporter.py for sending them, gateway/standard2.py for the platform's format).

A period's scans are read once, grouped by door and colour (one range scan on the store's
time index through the read model), and every unit's report is made from that in memory:
a unit's report lists every door under it (its own and those of the shops, stalls and
zones inside it, each with the unit it belongs to), the units directly inside it with
their rolled-up totals, and its total over all of them. A door the tree does not know
(not in the register) is reported by no unit and listed as `unplaced`. The report carries
counts only, no personal data. Beside the colours, each count says how many of the scans
were visitors registered by hand (`manual`, method manual) and how many of those were
transcribed from the paper register after an outage (`transcribed`, medium register).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import aiosqlite

from gateway.periods import Period
from gateway.venues import VenueTree

COLOURS = ("green", "yellow", "red", "unknown", "offline")
# of the scans: visitors registered by hand (method manual, transcribed ones included),
# and entries transcribed from the paper register after an outage
KINDS = ("manual", "transcribed")


async def scans_by_door(events: aiosqlite.Connection, start_ms: int, end_ms: int
                        ) -> dict[str, Counter[str]]:
    """{door: {colour or kind: scans}} for scans with ts in [start, end); a scan with no
    verdict (the platform was not asked: offline) counts as `offline`."""
    out: dict[str, Counter[str]] = {}
    async with events.execute(
        "SELECT door, coalesce(colour, 'offline'), count(*), sum(method = 'manual'), "
        "sum(method = 'manual' AND medium = 'register') FROM events "
        "WHERE ts >= ? AND ts < ? GROUP BY 1, 2",
        (start_ms, end_ms),
    ) as cur:
        for door, colour, n, manual, transcribed in await cur.fetchall():
            c = out.setdefault(door, Counter())
            c[colour if colour in COLOURS else "unknown"] += n
            c["manual"] += manual or 0
            c["transcribed"] += transcribed or 0
    return out


@dataclass(frozen=True, slots=True)
class Built:
    """One period's reports: {unit: report}, and the doors no unit owns."""

    period: Period
    reports: dict[str, dict]
    unplaced: dict[str, int]


def _row(counts: Counter[str] | None) -> dict[str, int]:
    c = counts or Counter()
    return {"scans": sum(c[k] for k in COLOURS), **{k: c[k] for k in (*COLOURS, *KINDS)}}


def build(per_door: dict[str, Counter[str]], tree: VenueTree, period: Period, tz: ZoneInfo,
          site: str, generated_ms: int) -> Built:
    """Every unit's report for the period (revision and lateness are the sender's)."""
    bounds = period.bounds(tz)
    rolled = {code: _row(c) for code, c in tree.rollup(per_door).items()}
    door_row: dict[str, dict] = {}  # each door's row, made once and shared by every report

    def row_of(d: str, code: str) -> dict:
        found = door_row.get(d)
        if found is None:
            owner = tree.door_unit.get(d)
            found = door_row[d] = {
                "door": d, "unit": owner or code,
                "name": tree.units[owner].door_names.get(d, "") if owner else "",
                **_row(per_door.get(d))}
        return found

    reports: dict[str, dict] = {}
    for code, unit in tree.units.items():
        under = tree.doors_under(code)
        doors = sorted(per_door) if under is None else under
        door_rows = [row_of(d, code) for d in doors]
        units = [{"unit": c, "name": tree.units[c].name, **rolled[c]} for c in unit.children]
        total = rolled[code]
        own = sum(r["scans"] for r in door_rows if r["unit"] == code)
        reports[code] = {
            "unit": code, "name": unit.name, "category": unit.category,
            "identifier": unit.identifier, "identifier_kind": unit.identifier_kind,
            "parent": unit.parent, "site": site, "period": bounds,
            "generated_ms": generated_ms, "own_scans": own, **total,
            "doors": door_rows, "units": units,
        }
    unplaced = {d: sum(c.values()) for d, c in per_door.items()
                if tree.attribute(d).unit is None}
    return Built(period, reports, unplaced)


_COUNTS = ("scans", *COLOURS, *KINDS)


def digest(report: dict) -> str:
    """What a correction would change: the counts, not when they were made."""
    parts = [report["unit"], str(report["parent"]), *(str(report[k]) for k in _COUNTS)]
    for row in (*report["doors"], *report["units"]):
        parts.append(row.get("door") or row["unit"])
        parts.extend(str(row[k]) for k in _COUNTS)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def to_csv(reports: list[dict]) -> str:
    """One line per unit and door (the unit's own and those inside it), then its total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "from", "to", "unit", "unit_name", "door", "door_unit",
                     "scans", *COLOURS, *KINDS])
    for r in reports:
        p = r["period"]
        for d in r["doors"]:
            writer.writerow([p["day"], p["from"], p["to"], r["unit"], r["name"], d["door"],
                             d["unit"], d["scans"], *(d[c] for c in (*COLOURS, *KINDS))])
        writer.writerow([p["day"], p["from"], p["to"], r["unit"], r["name"], "TOTAL", "",
                         r["scans"], *(r[c] for c in (*COLOURS, *KINDS))])
    return out.getvalue()
