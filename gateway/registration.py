"""Scans the gateway makes itself: visitors registered by hand, and paper register entries.

A visitor with neither phone nor ID card is registered by staff at the console (or on
the kiosk's screen: firmware/kiosk/keyed.py, an ordinary scan from that kiosk): the
identifier they type (firmware/manual_id.py) becomes a scan with method `manual`, looked
up at the platform like any other, stored, counted, forwarded and traceable like any
other. Entries written in the paper register during an outage are keyed in afterwards:
each is stored with the time written in the register, marked as transcribed (medium
`register`, source `transcribed`), and forwarded with the colour staff saw then.

These scans come from no kiosk, so each kind has a kiosk name of its own, reserved in
firmware/protocol.py (`console`, `register`), and its own gap-free sequence: the
forwarder sends each kiosk's records in sequence order, and a number taken but never
stored would hold the next records back. So numbers are given out under one lock, only to
scans that will be stored, and taken back when a commit fails.

Exactly once: a transcribed entry's event id is derived (keyed hash) from its door, its
minute and the person, so keying in the same entry again, from the form or by uploading
the same file twice, finds it stored and adds nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from firmware import protocol
from firmware import verdict as verdicts
from firmware.verdict import Verdict
from gateway import standard2
from gateway.entry_policy import EntryPolicies, no_categories
from gateway.events import Observer, ScanStored
from gateway.kiosk_trust import KioskRegister
from gateway.paper_register import Entry
from gateway.personal import Pseudonymiser, mask
from gateway.read_model import ReadModel
from gateway.site_doors import site_doors
from gateway.status_cache import StatusCache
from gateway.store import Store
from gateway.venues import Units

log = logging.getLogger(__name__)
# a scan waiting to be stored: message, subject, verdict, and for a paper-register entry
# (colour seen, when keyed in)
Pending = tuple[dict, str, Verdict, tuple[str, int] | None]

CONSOLE_KIOSK = "console"  # visitors registered by hand at the console
REGISTER_KIOSK = "register"  # entries transcribed from a paper register


@dataclass(frozen=True, slots=True)
class Registered:
    id: str
    door: str
    ts: int
    masked: str
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Transcription:
    imported: list[Entry]
    already: list[tuple[Entry, int]]  # stored before, or an earlier line of the same batch


def transcribed_id(key: bytes, door: str, ts: int, subject: str) -> str:
    """A UUIDv7 whose time is the entry's and whose other bits are a keyed hash of door,
    minute and person: the same entry always gets the same id."""
    digest = hmac.new(key, f"transcribed|{door}|{ts}|{subject}".encode(),
                      hashlib.sha256).digest()
    raw = bytearray(16)
    raw[0:6] = ts.to_bytes(6, "big")
    raw[6] = 0x70 | (digest[0] & 0x0F)
    raw[7] = digest[1]
    raw[8] = 0x80 | (digest[2] & 0x3F)
    raw[9:16] = digest[3:10]
    return protocol.format_uuid(raw)


class Registrar:
    def __init__(self, site: str, store: Store, reads: ReadModel, statuses: StatusCache,
                 pseudonyms: Pseudonymiser, observers: Observer, register: KioskRegister,
                 units: Units, on_stored: Callable[[], None] = lambda: None,
                 policies: EntryPolicies | None = None, more_doors: tuple[str, ...] = ()) -> None:
        self.site = site
        self.more_doors = frozenset(more_doors)  # `[duty] doors`: the roster's doors too
        self.policies = policies or EntryPolicies({}, no_categories)
        self.kiosk_register = register
        self.units = units
        self.store = store
        self.reads = reads
        self.statuses = statuses
        self.pseudonyms = pseudonyms
        self.observers = observers
        self.on_stored = on_stored
        self.ids = protocol.EventIds()
        self._lock = asyncio.Lock()
        self._next: dict[str, int] = {}  # kiosk -> next sequence number

    async def doors(self) -> frozenset[str]:
        """The site's doors (gateway/site_doors.py), and those `[duty] doors` names, as
        the duty roster knows them (gateway/duty_desk.py)."""
        return self.more_doors | await site_doors(self.units, self.kiosk_register, self.reads)

    async def register(self, door: str, credential: str) -> Registered:
        """A visitor registered by hand now: the platform's colour, stored as a scan."""
        now = protocol.now_ms()
        msg = protocol.scan(self.ids.new(now), CONSOLE_KIOSK, door, 1, now, "manual",
                            credential, medium="keyed")
        subject = self.pseudonyms.subject("manual", credential)
        status = await self.statuses.status(subject, "manual", credential)
        verdict = verdicts.apply_policy(  # the door's entry policy, as at a kiosk
            verdicts.for_colour(msg["id"], status.colour, status.source),
            self.policies.for_door(door), status.tested_ms, now)
        await self._store(CONSOLE_KIOSK, [(msg, subject, verdict, None)])
        self.observers.observe(ScanStored(msg["id"], CONSOLE_KIOSK, door, now, "manual",
                                          verdict.colour, verdict.action, verdict.prompt,
                                          verdict.source))
        log.info("manual registration %s at %s -> %s", msg["id"], door, verdict.colour)
        return Registered(msg["id"], door, now, mask("manual", credential), verdict)

    async def transcribe(self, entries: list[Entry]) -> Transcription:
        """Store entries not stored before, each once, with its own time."""
        keyed = protocol.now_ms()
        items: list = []
        first_line: dict[str, int] = {}
        already: list[tuple[Entry, int]] = []
        for entry in entries:
            subject = self.pseudonyms.subject("manual", entry.credential)
            event_id = transcribed_id(self.pseudonyms.key, entry.door, entry.ts, subject)
            if event_id in first_line:
                already.append((entry, first_line[event_id]))
                continue
            first_line[event_id] = entry.line
            msg = protocol.scan(event_id, REGISTER_KIOSK, entry.door, 1, entry.ts, "manual",
                                entry.credential, medium="register")
            paper = (entry.colour, keyed)
            items.append((entry, (msg, subject, verdicts.transcribed(event_id, entry.colour),
                                  paper)))
        async with self._lock:
            stored = await self.reads.stored_ids([msg["id"] for _e, (msg, *_r) in items])
            fresh = [(e, item) for e, item in items if item[0]["id"] not in stored]
            already += [(e, 0) for e, item in items if item[0]["id"] in stored]
            await self._store_locked(REGISTER_KIOSK, [item for _e, item in fresh])
        log.info("paper register: %d entries transcribed, %d already stored", len(fresh),
                 len(already))
        return Transcription([e for e, _item in fresh], sorted(already, key=lambda a: a[0].line))

    async def _store(self, kiosk: str, items: list[Pending]) -> None:
        async with self._lock:
            await self._store_locked(kiosk, items)

    async def _store_locked(self, kiosk: str,
                            items: list[Pending]) -> None:
        if not items:
            return
        seq = self._next.get(kiosk) or await self.reads.high_seq(kiosk) + 1
        received = protocol.now_ms()
        waits = []
        for msg, subject, verdict, paper in items:
            msg["seq"] = seq
            seq += 1
            record = standard2.scan_record(self.site, msg, paper=paper)
            waits.append(self.store.add_scan_nowait(
                msg, received, subject, mask("manual", msg["credential"]), None, record,
                verdict, received))
        try:
            fresh = await asyncio.gather(*waits)
        except BaseException:
            self._next.pop(kiosk, None)  # read the mark again: nothing of this was stored
            raise
        self._next[kiosk] = seq
        if not all(fresh):  # an id stored meanwhile by another path: the numbers have a gap
            log.error("%s: %d of %d scans were stored before", kiosk,
                      fresh.count(False), len(fresh))
        self.on_stored()
