"""Visitors registered by hand on the kiosk's own screen: a reading source fed by staff.

A visitor with neither phone nor ID card (a child, a foreigner with a passport, a
forgotten phone) is registered by the person on duty on the kiosk's panel (the screen
app's /register page): ID number, passport and nationality, or phone number, checked by
firmware/manual_id.py. The entry becomes a Reading of method `manual`, medium `keyed`,
and from there is a scan like any other: numbered, queued in the outbox, sent, looked up
at the platform by the gateway, shown on the door.

Only while someone is signed on for duty at this door (a staff card tapped at this kiosk,
answered "on" by the gateway) does the form take entries: a visitor at an unattended
kiosk cannot register anybody. The cards are held in memory only, as the desk saw them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from firmware import manual_id
from firmware.kiosk.reading import Reading


class NobodyOnDuty(Exception):
    """The form is closed: nobody is signed on for duty at this door."""


class KeyedEntries:
    """A ReadingSource: one Reading per visitor the person on duty registered."""

    def __init__(self, max_waiting: int = 16) -> None:
        self._queue: asyncio.Queue[Reading] = asyncio.Queue(maxsize=max_waiting)
        self._on_duty: set[str] = set()

    @property
    def open(self) -> bool:
        return bool(self._on_duty)

    def duty_changed(self, card: str, result: str | None) -> None:
        """A staff card's tap, as the gateway answered it (firmware/kiosk/staff_desk.py)."""
        if result == "on":
            self._on_duty.add(card)
        elif result == "off":
            self._on_duty.discard(card)

    def submit(self, document: str, number: str, nationality: str = "") -> None:
        """Queue a visitor. Raises NobodyOnDuty, or manual_id.ManualIdError naming the
        rule a typed identifier broke (nothing is queued then)."""
        if not self._on_duty:
            raise NobodyOnDuty
        credential = manual_id.credential(document, number, nationality)
        if self._queue.full():
            raise manual_id.ManualIdError("busy", "entries are waiting: try again in a moment")
        self._queue.put_nowait(Reading("manual", credential, medium="keyed"))

    async def __aiter__(self) -> AsyncIterator[Reading]:
        while True:
            yield await self._queue.get()
