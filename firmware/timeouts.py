"""Waiting with a time limit without losing a cancellation.

On Python 3.11 `asyncio.wait_for` swallows a cancellation that arrives in the same turn
of the loop as the thing it waits for: it returns the result and the task carries on as
if nobody had stopped it (bpo-42130; rewritten on `asyncio.timeout` in 3.12). In a loop
that waits on an event with a time limit — the kiosk's status reports, the forwarder's
wake-up — the task then never ends, and so neither does the stop that awaits it (CI saw
a kiosk hang on teardown that way, once in a few runs). `asyncio.timeout` counts
cancellations and never drops one, so every wait with a limit goes through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
    """The awaitable's result, or TimeoutError after `seconds` (it is cancelled then)."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def event_set_within(event: asyncio.Event, seconds: float | None) -> bool:
    """True once the event is set, False if `seconds` pass first."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
