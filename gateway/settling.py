"""Which scans the gateway has received from each kiosk and not yet settled.

A kiosk asks where its numbering stands (its `online` status; the gateway answers with
`high_seq`, docs/protocol.md §1.9). The answer may only count what is committed, and the
broker delivers a kiosk's messages in the order it sent them, so every scan that kiosk sent
before the question has reached the gateway by the time the question does — but it may
still be on its way to the store (a live scan's task, a replay queue, the writer's next
round). The question therefore waits until each scan received before it is settled; if
any of them could not be stored, or they take too long, the gateway does not answer this
time (the kiosk asks again with its next status).

A scan is settled when check-in is done with it: stored (or found stored already),
refused for a foreign door, or dropped over its kiosk's replay budget (the gateway holds
none of those numbers, and a kiosk that still has the scan sends it again); or failed,
when the store could not take it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Question:
    waiting: set[int]
    failed: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Settling:
    def __init__(self) -> None:
        self._next = 0
        self._open: dict[str, set[int]] = {}  # kiosk -> tickets of unsettled scans
        self._tickets: dict[int, tuple[str, int]] = {}  # id(msg) -> (kiosk, ticket)
        self._questions: dict[str, list[_Question]] = {}

    def received(self, msg: dict) -> None:
        """A scan arrived (before anything is done with it)."""
        ticket, self._next = self._next, self._next + 1
        self._open.setdefault(msg["kiosk"], set()).add(ticket)
        self._tickets[id(msg)] = (msg["kiosk"], ticket)

    def settled(self, msg: dict, stored: bool = True) -> None:
        """Check-in is done with the scan; `stored` False when the store failed it."""
        found = self._tickets.pop(id(msg), None)
        if found is None:
            return
        kiosk, ticket = found
        unsettled = self._open.get(kiosk)
        if unsettled is not None:
            unsettled.discard(ticket)
            if not unsettled:
                del self._open[kiosk]
        for question in self._questions.get(kiosk, ()):
            if ticket in question.waiting:
                question.waiting.discard(ticket)
                question.failed |= not stored
                if not question.waiting:
                    question.done.set()

    async def all_stored(self, kiosk: str, timeout_s: float) -> bool:
        """Wait until every scan received from `kiosk` so far is settled: True if each
        was settled without a failure within `timeout_s`."""
        question = _Question(set(self._open.get(kiosk, ())))
        if not question.waiting:
            return True
        self._questions.setdefault(kiosk, []).append(question)
        try:
            async with asyncio.timeout(timeout_s):
                await question.done.wait()
        except TimeoutError:
            return False
        finally:
            asking = self._questions[kiosk]
            with contextlib.suppress(ValueError):
                asking.remove(question)
            if not asking:
                del self._questions[kiosk]
        return not question.failed
