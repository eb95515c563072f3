"""Simulated signal lights, buzzer and gate: records what the door showed, for tests and
the demo's terminal summary. On a kiosk, firmware/kiosk/board_signal.py drives the board."""

from __future__ import annotations

import asyncio
import logging

from firmware.kiosk.signal import PROMPT_TEXT, Look, Verdict, look_for

log = logging.getLogger(__name__)


class SimulatedLights:
    def __init__(self) -> None:
        self.shown: list[tuple[Verdict, Look]] = []
        self.changed = asyncio.Condition()

    async def show(self, verdict: Verdict) -> None:
        look = look_for(verdict)
        self.shown.append((verdict, look))
        zh, en = PROMPT_TEXT[verdict.prompt]
        log.info(
            "signal %s %s tone=%s gate=%s | %s / %s",
            look.light, look.pattern, look.tone, "open" if look.gate else "closed", zh, en,
        )
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[Verdict, Look]]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.shown) >= count), timeout)
        return self.shown[:count]
