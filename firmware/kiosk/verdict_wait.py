"""Waiting for verdicts: each scan waits for the verdict carrying its own event id.

A verdict that arrives late, or for a replayed scan, finds no waiter and is only an
acknowledgement. A scan whose verdict does not arrive in time gets the kiosk's own
answer: hold for the person on duty ("manual check") — never green.
"""

from __future__ import annotations

import asyncio

from firmware import verdict
from firmware.timeouts import within
from firmware.verdict import Verdict


class VerdictWaiters:
    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Verdict]] = {}

    def expect(self, event_id: str) -> None:
        self._waiting[event_id] = asyncio.get_running_loop().create_future()

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def deliver(self, verdict: Verdict) -> bool:
        """Hand a verdict to its waiting scan; False if nobody waits for it any more."""
        future = self._waiting.get(verdict.event_id)
        if future is None or future.done():
            return False
        future.set_result(verdict)
        return True

    async def wait(self, event_id: str, timeout: float) -> Verdict:
        future = self._waiting[event_id]
        try:
            return await within(future, timeout)
        except TimeoutError:
            return verdict.manual_check(event_id)
        finally:
            self._waiting.pop(event_id, None)
