"""Sending the outbox: the live scan first, the backlog behind it in a bounded window.

After an outage a kiosk may hold a day of scans. They drain in batches, but never more
than `window` unacknowledged at once, so the scan of the person now at the door is
never stuck behind thousands of old ones — at the kiosk or in the gateway's queue.
Whatever is in flight sits in the broker's and the gateway's inbound queues ahead of the
next live scan, so the window is kept to what one round trip needs: large enough that
the drain is not bound by round trips and each ack and each commit covers many scans
(the cost per scan falls with the batch), small enough that a live scan waits behind at
most a few milliseconds of replays (`just bench-drain` shows both).
Scans nobody waits for any more go out on the kiosk's `backlog` topic, which the gateway
reads on a connection of its own and only stores: a live scan on the `scan` topic never
queues behind them at the broker (docs/protocol.md §1.4).
Each scan unacknowledged for `resend_after_s` is sent again, on its own clock: a gateway
that failed to store one batch while acknowledging everything after it (a locked
database) must not leave that batch waiting forever behind a busy door's acks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from firmware.kiosk.outbox import Outbox, Pending

log = logging.getLogger(__name__)

Publish = Callable[[bytes], Awaitable[None]]


def mark_replay(payload: bytes) -> bytes:
    """A scan nobody waits for, as a kiosk without the `backlog` topic sends it on the
    `scan` topic (firmware/shop/unit.py does the same; tests and benchmarks of that path
    use this). The JSON object gets one more member spliced in before its closing brace
    rather than decoding and encoding a day of backlog."""
    body = payload.rstrip()
    if len(body) < 3 or not body.endswith(b"}") or b'"replay"' in body:
        msg = json.loads(payload)
        msg["replay"] = True
        return json.dumps(msg).encode()
    return body[:-1] + b',"replay":true}'


class OutboxSender:
    def __init__(
        self,
        outbox: Outbox,
        waiting: Callable[[], Iterable[str]],
        window: int = 100,
        batch: int = 25,
        resend_after_s: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.waiting = waiting
        self.window = window
        self.batch = batch
        self.resend_after_s = resend_after_s
        self.unacked: dict[str, float] = {}  # sent on this connection, not yet acknowledged
        self.progress = asyncio.Event()
        self.resends = 0
        self._cursor = 0  # every scan up to this seq has been sent on this connection
        self._publish: Publish | None = None  # the current connection's live scans' channel

    def acknowledged(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self.unacked.pop(event_id, None)
        self.progress.set()

    async def send_live(self, pending: Pending) -> None:
        """The scan of the person at the door goes out at once, ahead of any backlog.
        Without a connection it waits in the outbox like any other."""
        publish = self._publish
        if publish is None:
            return
        self.unacked[pending.id] = time.monotonic()
        if pending.seq == self._cursor + 1:
            self._cursor = pending.seq  # no backlog before it: nothing left to look up
        await publish(pending.payload)

    async def run(self, live: Publish, backlog: Publish) -> None:
        """Send for one connection, live scans through `live` and the rest through
        `backlog`; everything unacknowledged is sent again on the next connection."""
        self.unacked.clear()
        self._cursor = 0
        self._publish = live
        try:
            await self._run(live, backlog)
        finally:
            self._publish = None

    async def _run(self, live: Publish, backlog: Publish) -> None:
        while True:
            self.outbox.added.clear()
            self.progress.clear()
            live_ids = [i for i in self.waiting() if i not in self.unacked]
            waited = await self.outbox.by_ids(live_ids) if live_ids else []
            await self._send(live, backlog, waited)
            old: list[Pending] = []
            room = self.window - len(self.unacked)
            if room > 0 and self._cursor < self.outbox.newest_seq:
                rows = await self.outbox.after(self._cursor, min(room, self.batch))
                if rows:
                    self._cursor = max(self._cursor, rows[-1].seq)
                old = [r for r in rows if r.id not in self.unacked]
                await self._send(live, backlog, old)
            if waited or old or await self._resend_overdue(live, backlog):
                continue
            await self._wait_for_work()

    def _overdue_in(self) -> float:
        """Seconds until the oldest unacknowledged scan is due to be sent again."""
        if not self.unacked:
            return self.resend_after_s
        return max(0.0, min(self.unacked.values()) + self.resend_after_s - time.monotonic())

    async def _resend_overdue(self, live: Publish, backlog: Publish) -> bool:
        """Send again every scan the gateway has not acknowledged within resend_after_s."""
        if self._overdue_in() > 0:
            return False
        due = time.monotonic() - self.resend_after_s
        overdue = [i for i, sent in self.unacked.items() if sent <= due]
        rows = await self.outbox.by_ids(overdue)
        for event_id in overdue:
            self.unacked.pop(event_id, None)  # confirmed meanwhile: gone from the outbox
        self.resends += 1
        log.warning("%d scans unacknowledged for %.0f s; sending them again",
                    len(rows), self.resend_after_s)
        await self._send(live, backlog, rows, again=True)
        return bool(rows)

    async def _send(self, live: Publish, backlog: Publish, rows: Sequence[Pending],
                    again: bool = False) -> None:
        """A scan someone still waits for at the door goes out live; any other on the
        backlog topic, or, sent `again` after going unacknowledged, on the scan topic
        marked as a replay: a broker whose ACL predates the backlog topic (a site not yet
        provisioned again after an update) drops it there without a word, and the
        backlog must still reach the gateway."""
        if not rows:
            return
        now = time.monotonic()
        waiting = set(self.waiting())
        for row in rows:
            self.unacked[row.id] = now
        await asyncio.gather(*(
            live(r.payload) if r.id in waiting
            else live(mark_replay(r.payload)) if again
            else backlog(r.payload)
            for r in rows
        ))

    async def _wait_for_work(self) -> None:
        """Wait for a new scan, an ack, or the next unacknowledged scan to fall due."""
        added = asyncio.ensure_future(self.outbox.added.wait())
        acked = asyncio.ensure_future(self.progress.wait())
        try:
            await asyncio.wait(
                (added, acked), timeout=self._overdue_in(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            added.cancel()
            acked.cancel()
