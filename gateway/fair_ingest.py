"""Fair ingest: no kiosk's traffic waits behind another kiosk's.

The broker hands the gateway every kiosk's messages on one connection, in one loop; if
that loop ever waits (for room in a queue, say), every door waits. So the loop never
waits here: each kiosk has its own bounded replay queue, filled at most at its own
rate (a token bucket), and emptied round-robin, a few scans per kiosk per batch. What
does not fit is dropped unacknowledged: a real kiosk keeps every scan in its outbox
until the gateway acknowledges it and sends it again later, so nothing is lost, while
a flood of made-up scans costs the gateway almost nothing. Live scans (someone waits at
the door) are limited per kiosk too: one door has one visitor at a time, so more than
`live_in_flight` unanswered scans from one kiosk are not live; the rest take the replay
path (stored, no platform lookup). A kiosk that keeps overrunning its budget is
reported once per `flood_window_s` (an alert on the console).

Live scans come first within the gateway too: while any visitor's scan is being answered,
backlog work waits (`live_done`), up to `live_first_s` at a time so that a door busy
without pause still lets the backlog through.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Kiosk:
    queue: deque = field(default_factory=deque)
    tokens: float = 0.0
    refilled: float = 0.0
    live: int = 0  # live scans in flight
    dropped: int = 0  # in the current flood window
    window_start: float = 0.0
    reported: bool = False


class FairIngest:
    def __init__(
        self,
        replay_rate: float = 500.0,  # replays per second per kiosk, sustained
        replay_burst: int = 2000,
        queue_per_kiosk: int = 2000,
        batch_per_kiosk: int = 100,
        live_in_flight: int = 8,
        flood_after: int = 1000,  # drops within one window that make a flood
        flood_window_s: float = 60.0,
        on_flood: Callable[[str, int], None] = lambda kiosk, dropped: None,
        clock: Callable[[], float] = time.monotonic,
        live_first_s: float = 0.05,
    ) -> None:
        self.replay_rate = replay_rate
        self.replay_burst = replay_burst
        self.queue_per_kiosk = queue_per_kiosk
        self.batch_per_kiosk = batch_per_kiosk
        self.live_in_flight = live_in_flight
        self.flood_after = flood_after
        self.flood_window_s = flood_window_s
        self.on_flood = on_flood
        self.clock = clock
        self.live_first_s = live_first_s
        self._live = 0  # live scans in flight, every kiosk's
        self._no_live = asyncio.Event()
        self._no_live.set()
        self._kiosks: dict[str, _Kiosk] = {}
        self._ready: OrderedDict[str, None] = OrderedDict()  # kiosks with queued replays
        self._wake = asyncio.Event()
        self.counts: Counter[str] = Counter()

    def _kiosk(self, name: str) -> _Kiosk:
        k = self._kiosks.get(name)
        if k is None:
            now = self.clock()
            k = self._kiosks[name] = _Kiosk(tokens=self.replay_burst, refilled=now,
                                            window_start=now)
        return k

    # --- live scans ---------------------------------------------------------------------

    def start_live(self, kiosk: str) -> bool:
        """True: handle this scan as live (call `end_live` when answered); False: the
        kiosk already has `live_in_flight` scans waiting, so this one is not a visitor
        at the door: offer it as a replay."""
        k = self._kiosk(kiosk)
        if k.live >= self.live_in_flight:
            self.counts["live_over_budget"] += 1
            return False
        k.live += 1
        self._live += 1
        self._no_live.clear()
        return True

    def end_live(self, kiosk: str) -> None:
        k = self._kiosks.get(kiosk)
        if k is not None and k.live > 0:
            k.live -= 1
            self._live -= 1
            if self._live == 0:
                self._no_live.set()

    async def live_done(self) -> None:
        """Until no live scan is being answered, or `live_first_s` has passed."""
        if self._live:
            try:
                async with asyncio.timeout(self.live_first_s):
                    await self._no_live.wait()
            except TimeoutError:
                self.counts["live_first_timeouts"] += 1

    # --- replays ------------------------------------------------------------------------

    def offer(self, kiosk: str, msg: dict) -> bool:
        """Queue a replay without waiting; False if it was dropped (the kiosk resends)."""
        if not self.take(kiosk):
            return False
        self.push(kiosk, msg)
        return True

    def take(self, kiosk: str) -> bool:
        """Room for one more replay from this kiosk, taken from its budget; False: over
        its rate or its queue is full, counted as dropped (the caller drops it)."""
        k = self._kiosk(kiosk)
        now = self.clock()
        k.tokens = min(self.replay_burst, k.tokens + (now - k.refilled) * self.replay_rate)
        k.refilled = now
        if k.tokens < 1 or len(k.queue) >= self.queue_per_kiosk:
            self._dropped(kiosk, k, now)
            return False
        k.tokens -= 1
        return True

    def push(self, kiosk: str, msg: dict) -> None:
        """Queue a replay that `take` made room for."""
        self._kiosk(kiosk).queue.append(msg)
        self._ready[kiosk] = None
        self._wake.set()
        self.counts["queued"] += 1

    def _dropped(self, name: str, k: _Kiosk, now: float) -> None:
        self.counts["dropped"] += 1
        if now - k.window_start > self.flood_window_s:
            k.window_start, k.dropped, k.reported = now, 0, False
        k.dropped += 1
        if k.dropped >= self.flood_after and not k.reported:
            k.reported = True
            self.counts["floods"] += 1
            self.on_flood(name, k.dropped)

    def queued(self, kiosk: str | None = None) -> int:
        if kiosk is not None:
            k = self._kiosks.get(kiosk)
            return len(k.queue) if k else 0
        return sum(len(k.queue) for k in self._kiosks.values())

    async def next_batch(self) -> list[dict]:
        """Waits for replays; then up to `batch_per_kiosk` from each kiosk that has some,
        taking turns, so one kiosk's backlog delays another's by one small batch at most."""
        while not self._ready:
            self._wake.clear()
            await self._wake.wait()
        batch: list[dict] = []
        for name in list(self._ready):
            k = self._kiosks[name]
            for _ in range(min(self.batch_per_kiosk, len(k.queue))):
                batch.append(k.queue.popleft())
            if not k.queue:
                del self._ready[name]
            else:
                self._ready.move_to_end(name)  # next batch starts with another kiosk
        return batch

    def forget_idle(self) -> None:
        """Drop the state of kiosks with nothing queued or in flight (bounded memory:
        called from time to time; a kiosk name can only come from a broker login)."""
        for name in [n for n, k in self._kiosks.items() if not k.queue and not k.live]:
            del self._kiosks[name]
