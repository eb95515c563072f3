"""Alerts: the entries and kiosks that need a person to step in, until someone has.

Every entry that did not simply open the gate (yellow, red, manual check) raises one, and
so does a kiosk going offline, a door or unit whose coverage stays low, and people counted
through a door while its kiosk was offline (gateway/coverage.py). An alert stays open
until the person on duty acknowledges it with what was done; the console keeps open
alerts in view and sounds them. Raising is idempotent on a key (the event id, or kiosk +
time it went offline), so a restarted gateway or a repeated status message never raises
the same alert twice.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

import aiosqlite

from firmware import schema
from gateway.events import MisuseSeen, ReplayFlood, ScanDistrusted
from gateway.store import patiently

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_alerts (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    kiosk TEXT,
    door TEXT,
    ts INTEGER NOT NULL,
    colour TEXT,
    action TEXT,
    masked TEXT,
    raised_ms INTEGER NOT NULL,
    acked_ms INTEGER,
    acked_by TEXT,
    outcome TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS console_alerts_open ON console_alerts (acked_ms, n);
"""
# Version 2 (一码一守): who was on duty at the door (the alert is theirs), its escalation
# to the site manager, a handover to the community or the CDC, and the gate opened by staff.
COMPONENT = schema.Component("console_alerts", SCHEMA, (schema.Migration(2, """
ALTER TABLE console_alerts ADD COLUMN assignee TEXT;
ALTER TABLE console_alerts ADD COLUMN escalated_ms INTEGER;
ALTER TABLE console_alerts ADD COLUMN escalated_to TEXT;
ALTER TABLE console_alerts ADD COLUMN escalation_error TEXT;
ALTER TABLE console_alerts ADD COLUMN handover_contact TEXT;
ALTER TABLE console_alerts ADD COLUMN handover_ms INTEGER;
ALTER TABLE console_alerts ADD COLUMN gate INTEGER;
"""),))

OUTCOMES = ("let_in_after_check", "turned_away", "sent_to_health_desk",
            "handed_to_community", "handed_to_cdc", "left_before_check",
            "kiosk_fixed", "false_alarm", "other")
# Outcomes that hand the person over: they need the contact and the time of the handover.
HANDOVERS = ("handed_to_community", "handed_to_cdc")
COLUMNS = ("n", "key", "kind", "kiosk", "door", "ts", "colour", "action", "masked",
           "raised_ms", "acked_ms", "acked_by", "outcome", "note", "assignee", "escalated_ms",
           "escalated_to", "escalation_error", "handover_contact", "handover_ms", "gate")


def needs_person(entry: dict) -> bool:
    return entry.get("action") != "open" or entry.get("colour") != "green"


async def _nobody(_door: str) -> list[str]:
    return []


class Alerts:
    def __init__(self, db: aiosqlite.Connection, publish: Callable[[str, dict], None],
                 on_duty: Callable[[str], Awaitable[list[str]]] = _nobody) -> None:
        self.db = db
        self.publish = publish
        self.on_duty = on_duty  # door -> the users on duty there now (gateway/duty.py)

    async def _raise(self, key: str, kind: str, **fields: object) -> None:
        row = {"key": key, "kind": kind, "raised_ms": int(time.time() * 1000), **fields}
        names = list(row)
        cur = await self.db.execute(
            f"INSERT OR IGNORE INTO console_alerts ({','.join(names)}) "
            f"VALUES ({','.join('?' * len(names))})",
            [row[n] for n in names],
        )
        if cur.rowcount:
            row["n"] = cur.lastrowid
            self.publish("alert", row)

    async def on_entry(self, view: dict) -> None:
        """An entry that needs a person; a visitor held for a high temperature is its own
        kind, so the person on duty knows to re-check before anything else."""
        if needs_person(view):
            duty = await self.on_duty(view["door"])
            kind, action = "entry", view["action"]
            if view.get("prompt") == "high_temperature":
                # the reading, for the person on duty who re-checks (°C, one decimal)
                kind = "high_temperature"
                action = f"{view['temp_dc'] / 10:.1f}" if view.get("temp_dc") else action
            await self._raise(
                view["id"], kind, kiosk=view["kiosk"], door=view["door"], ts=view["ts"],
                colour=view["colour"], action=action,
                masked=view.get("masked_name") or view.get("masked"),
                assignee=",".join(duty) or None,
            )

    async def on_unattended(self, door: str, since_ms: int, ts: int, what: str) -> None:
        """Scans or people at a door with nobody on duty: once per unattended stretch
        (`since_ms`, when its last person signed off) and day, `what` saying what came."""
        day = int(time.time() * 1000) // 86_400_000
        await self._raise(f"unattended:{door}:{since_ms}:{day}", "door_unattended",
                          door=door[:64], ts=ts, action=what)

    async def on_misuse(self, seen: MisuseSeen) -> None:
        """A one-time signed code at a second door, or presented again."""
        await self._raise(
            f"misuse:{seen.id}", "misuse", kiosk=seen.kiosk, door=seen.door, ts=seen.ts,
            action=seen.misuse.kind, masked=f"first seen at {seen.misuse.first_door}",
        )

    async def on_distrust(self, seen: ScanDistrusted) -> None:
        """A kiosk's claim the gateway did not believe: flags in `action`."""
        await self._raise(f"claim:{seen.id}", "kiosk_claim", kiosk=seen.kiosk, door=seen.door,
                          ts=seen.ts, action=",".join(seen.flags))

    async def on_flood(self, flood: ReplayFlood) -> None:
        """A kiosk over its replay budget; once per flood window (fair_ingest reports it)."""
        at = int(time.time() * 1000)
        await self._raise(f"flood:{flood.kiosk}:{at // 60_000}", "replay_flood",
                          kiosk=flood.kiosk, ts=at, action=str(flood.dropped))

    async def on_watch(self, key: str, kind: str, **fields: object) -> None:
        """An alert a watcher raised (gateway/coverage.py: low_coverage, unchecked_passes);
        once per key, waiting out a busy database."""
        await patiently(partial(self._raise, key, kind, **fields), f"{kind} alert")

    async def watch_kiosks(self, kiosks: Callable, every_s: float,
                           sequence_faults: Callable | None = None) -> None:
        """Raise an alert for each kiosk that is offline, once per time it went offline,
        and for each scan that broke its kiosk's numbering (recorded by the store in the
        transaction that stored the scan, so none is missed across a restart)."""
        seen_ms = 0
        while True:
            for k in await kiosks():
                if k["state"] == "offline":
                    await patiently(partial(
                        self._raise, f"kiosk:{k['kiosk']}:{k['changed_ms']}", "kiosk_offline",
                        kiosk=k["kiosk"], ts=k["changed_ms"]), "kiosk alert")
            for fault in await sequence_faults(seen_ms) if sequence_faults else ():
                await patiently(partial(self.on_sequence_fault, fault), "sequence alert")
                seen_ms = max(seen_ms, fault["found_ms"])
            await asyncio.sleep(every_s)

    async def on_sequence_fault(self, fault: dict) -> None:
        """A scan whose (kiosk, epoch, seq) another scan holds, or that reached the gateway
        after higher numbers of its epoch went to the platform: `action` says which."""
        epoch = f"epoch {fault['epoch']} " if fault["epoch"] else ""
        await self._raise(f"seq:{fault['id']}", "sequence_fault", kiosk=fault["kiosk"],
                          door=fault["door"], ts=fault["ts"] or fault["found_ms"],
                          action=fault["kind"], masked=f"{epoch}seq {fault['seq']}")

    async def list(self, open_only: bool, limit: int = 200) -> list[dict]:
        where = "WHERE acked_ms IS NULL" if open_only else ""
        async with self.db.execute(
            f"SELECT {','.join(COLUMNS)} FROM console_alerts {where} ORDER BY n DESC LIMIT ?",
            (limit,),
        ) as cur:
            return [dict(zip(COLUMNS, r, strict=True)) for r in await cur.fetchall()]

    async def open_count(self) -> int:
        async with self.db.execute(
            "SELECT count(*) FROM console_alerts WHERE acked_ms IS NULL") as cur:
            row = await cur.fetchone()
        return row[0] if row else 0

    async def get(self, n: int) -> dict | None:
        async with self.db.execute(
            f"SELECT {','.join(COLUMNS)} FROM console_alerts WHERE n=?", (n,)) as cur:
            row = await cur.fetchone()
        return dict(zip(COLUMNS, row, strict=True)) if row else None

    async def acknowledge(self, n: int, user: str, outcome: str, note: str,
                          handover_contact: str | None = None, handover_ms: int | None = None,
                          gate: int | None = None) -> dict | None:
        """Close an open alert; None if there is no such open alert."""
        at = int(time.time() * 1000)
        cur = await self.db.execute(
            "UPDATE console_alerts SET acked_ms=?, acked_by=?, outcome=?, note=?, "
            "handover_contact=?, handover_ms=?, gate=? WHERE n=? AND acked_ms IS NULL",
            (at, user, outcome, note, handover_contact, handover_ms, gate, n),
        )
        if not cur.rowcount:
            return None
        done = {"n": n, "acked_ms": at, "acked_by": user, "outcome": outcome, "note": note,
                "handover_contact": handover_contact, "handover_ms": handover_ms, "gate": gate}
        self.publish("ack", done)
        return done

    async def open_entry_at(self, door: str, raised_after_ms: int) -> dict | None:
        """The newest entry alert still open at `door`, raised after `raised_after_ms`."""
        async with self.db.execute(
            f"SELECT {','.join(COLUMNS)} FROM console_alerts WHERE acked_ms IS NULL "
            "AND kind='entry' AND door=? AND raised_ms > ? ORDER BY n DESC LIMIT 1",
            (door, raised_after_ms),
        ) as cur:
            row = await cur.fetchone()
        return dict(zip(COLUMNS, row, strict=True)) if row else None

    # --- escalation (gateway/escalation.py) ---------------------------------------------

    async def due_for_escalation(self, raised_before_ms: int) -> builtins.list[dict]:
        async with self.db.execute(
            f"SELECT {','.join(COLUMNS)} FROM console_alerts WHERE acked_ms IS NULL "
            "AND escalated_ms IS NULL AND raised_ms <= ? ORDER BY n LIMIT 100",
            (raised_before_ms,),
        ) as cur:
            return [dict(zip(COLUMNS, r, strict=True)) for r in await cur.fetchall()]

    async def escalated(self, n: int, to: str) -> bool:
        at = int(time.time() * 1000)
        cur = await self.db.execute(
            "UPDATE console_alerts SET escalated_ms=?, escalated_to=?, escalation_error=NULL "
            "WHERE n=? AND escalated_ms IS NULL", (at, to, n))
        if cur.rowcount:
            self.publish("escalated", {"n": n, "escalated_ms": at, "escalated_to": to})
        return bool(cur.rowcount)

    async def escalation_failed(self, n: int, reason: str) -> None:
        await self.db.execute("UPDATE console_alerts SET escalation_error=? WHERE n=?",
                              (reason[:200], n))
