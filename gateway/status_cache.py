"""Status lookups with a cache, one request per person at a time, and a hard deadline.

A visitor waits at the door, so a known colour is answered from the cache while it is
fresh (time-to-live per colour: a red or yellow status changes sooner than a green one),
concurrent scans of the same person share one platform request, and a lookup that misses
its deadline falls back to the last known colour marked stale — never presented as
fresh — or to "could not check".
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from gateway.platform import Lookup, Platform


@dataclass(frozen=True, slots=True)
class Status:
    colour: str  # green | yellow | red | unknown
    source: str  # platform | cache | stale
    tested_ms: int | None = None  # the latest negative test the platform told of


class StatusCache:
    def __init__(
        self,
        platform: Platform,
        ttl_s: dict[str, float],
        max_stale_s: float = 86_400,
        max_entries: int = 200_000,
        clock=time.monotonic,
    ) -> None:
        self.platform = platform
        self.ttl_s = ttl_s
        self.max_stale_s = max_stale_s
        self.max_entries = max_entries
        self.clock = clock
        # subject -> (colour, fetched at, latest negative test)
        self._known: dict[str, tuple[str, float, int | None]] = {}
        self._in_flight: dict[str, asyncio.Future[Lookup]] = {}
        self.counts: Counter[str] = Counter()

    async def status(self, subject: str, method: str, credential: str) -> Status:
        """`subject` is the keyed hash of the person: the cache never holds credentials."""
        now = self.clock()
        known = self._known.get(subject)
        if known and now - known[1] < self.ttl_s.get(known[0], 0):
            self.counts["cache"] += 1
            return Status(known[0], "cache", known[2])
        found = await self._lookup(subject, method, credential)
        if found.colour != "unknown":
            self._remember(subject, found)
            self.counts["platform"] += 1
            return Status(found.colour, "platform", found.tested_ms)
        if known and now - known[1] < self.max_stale_s:
            self.counts["stale"] += 1
            return Status(known[0], "stale", known[2])
        self.counts["unchecked"] += 1
        return Status("unknown", "platform")

    async def _lookup(self, subject: str, method: str, credential: str) -> Lookup:
        shared = self._in_flight.get(subject)
        if shared is not None:
            self.counts["coalesced"] += 1
            return await asyncio.shield(shared)
        future = asyncio.ensure_future(self.platform.status(method, credential))
        self._in_flight[subject] = future
        try:
            return await asyncio.shield(future)
        finally:
            if self._in_flight.get(subject) is future:
                del self._in_flight[subject]

    def _remember(self, subject: str, found: Lookup) -> None:
        if len(self._known) >= self.max_entries:
            # drop the oldest tenth; dicts keep insertion order
            for key in list(self._known)[: self.max_entries // 10]:
                del self._known[key]
        self._known.pop(subject, None)
        self._known[subject] = (found.colour, self.clock(), found.tested_ms)
