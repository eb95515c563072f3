"""From frames to presentations: one code held up is one event, however long it is held.

The camera sees the same phone in thirty frames a second; the door must see one person.
A code is "present" while it keeps being read (brief misses up to `gone_after` do not
end it). It makes an event when it is first presented, and again only if it leaves and
comes back after `hold_off`, so a visitor who lowers and re-raises the phone is not
counted twice, but a genuine second visit is. While one health code is being served it
owns the door: a second code in view (the next person in the queue, a poster behind)
waits until the first has left, and a code shown at the same instant loses to the nearer
(larger) one. Codes that are not health codes only ever prompt, and never while someone
is being served.

`LatestFrame` is the hand-over between camera and decoder: one slot, overwritten. When
decoding falls behind, old frames are dropped, never queued, so what is decoded is
always what is in front of the camera now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sighting:
    text: str  # the decoded payload: personal data, never logged
    area: float  # pixels: nearer codes are larger
    exclusive: bool = True  # a health code claims the door; other codes only prompt

    def __repr__(self) -> str:
        return f"Sighting(area={self.area:.0f}, exclusive={self.exclusive})"


@dataclass(slots=True)
class _Track:
    since: float  # start of the current presentation
    last_seen: float
    last_event: float | None
    pending: bool  # presented and not yet answered


class PresentationTracker:
    def __init__(self, hold_off: float = 3.0, gone_after: float = 0.7) -> None:
        if hold_off < 0 or gone_after <= 0:
            raise ValueError("hold_off must be >= 0 and gone_after > 0 seconds")
        self.hold_off = hold_off
        self.gone_after = gone_after
        self._tracks: dict[str, _Track] = {}
        self._owner: str | None = None

    def observe(self, sightings: Sequence[Sighting], now: float) -> list[Sighting]:
        """Feed one decoded frame; returns the presentations that start an event now."""
        self._forget(now)
        by_text: dict[str, Sighting] = {}
        for s in sightings:
            if s.text not in by_text or s.area > by_text[s.text].area:
                by_text[s.text] = s
        for s in by_text.values():
            track = self._tracks.get(s.text)
            if track is None:
                self._tracks[s.text] = _Track(now, now, None, True)
            else:
                if now - track.last_seen > self.gone_after:  # it left and is back
                    track.since = now
                    track.pending = (
                        track.last_event is None or now - track.last_event >= self.hold_off
                    )
                track.last_seen = now
        return self._answer(by_text, now)

    def _answer(self, seen: dict[str, Sighting], now: float) -> list[Sighting]:
        if self._owner is not None:
            return []
        waiting = [t for t in seen if self._tracks[t].pending]
        health = [t for t in waiting if seen[t].exclusive]
        if health:
            first = min(health, key=lambda t: (self._tracks[t].since, -seen[t].area))
            self._answered(first, now)
            self._owner = first
            return [seen[first]]
        for text in waiting:
            self._answered(text, now)
        return [seen[t] for t in waiting]

    def _answered(self, text: str, now: float) -> None:
        track = self._tracks[text]
        track.pending = False
        track.last_event = now

    def _forget(self, now: float) -> None:
        if self._owner is not None and now - self._tracks[self._owner].last_seen > self.gone_after:
            self._owner = None
        for text in [
            t
            for t, tr in self._tracks.items()
            if now - tr.last_seen > max(self.gone_after, self.hold_off)
        ]:
            del self._tracks[text]

    @property
    def tracked(self) -> int:
        """Codes remembered right now (bounded: forgotten after hold-off)."""
        return len(self._tracks)


class LatestFrame(Generic[T]):
    """A one-slot mailbox: `put` overwrites, `get` waits for the newest item."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = asyncio.Event()
        self.dropped = 0
        self.delivered = 0

    def put(self, item: T) -> None:
        if self._item is not None:
            self.dropped += 1  # the decoder never saw it, and never will
        self._item = item
        self._ready.set()

    async def get(self) -> T:
        await self._ready.wait()
        self._ready.clear()
        item, self._item = self._item, None
        assert item is not None
        self.delivered += 1
        return item
