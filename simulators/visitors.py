"""Simulated visitors arriving at a kiosk: a ReadingSource the kiosk cannot tell from a
camera or ID reader. Most show a phone code; some bring paper or an ID card."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

from firmware.kiosk.reading import Reading
from simulators.population import Person, population


def reading_for(person: Person, rng: random.Random) -> Reading:
    roll = rng.random()
    if roll < 0.15:
        return Reading("id_card", person.id_number, medium="card", name=person.name)
    return Reading("code", person.code_url, medium="paper" if roll < 0.25 else "screen")


class SimulatedVisitors:
    def __init__(self, platform_seed: int, seed: int, rate_hz: float) -> None:
        self.people = population(platform_seed)
        self.rng = random.Random(seed)
        self.rate_hz = rate_hz

    async def __aiter__(self) -> AsyncIterator[Reading]:
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate_hz))
            yield reading_for(self.rng.choice(self.people), self.rng)


class QueuedReadings:
    """Readings pushed by a test or benchmark, one presentation each."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Reading] = asyncio.Queue()

    def present(self, reading: Reading) -> None:
        self.queue.put_nowait(reading)

    async def __aiter__(self) -> AsyncIterator[Reading]:
        while True:
            yield await self.queue.get()
