"""Simulated signal lights, buzzer and gate: records what the door showed, for tests and
the demo's terminal summary. On a kiosk, firmware/kiosk/board_signal.py drives the board."""

from __future__ import annotations

import asyncio
import logging

from firmware.verdict import PROMPT_TEXT, Look, Verdict, look_for

log = logging.getLogger(__name__)


class SimulatedLights:
    def __init__(self) -> None:
        self.shown: list[tuple[Verdict, Look]] = []
        self.prompts: list[str] = []
        self._changed = asyncio.Event()

    async def show(self, verdict: Verdict) -> None:
        look = look_for(verdict)
        self.shown.append((verdict, look))
        zh, en = PROMPT_TEXT[verdict.prompt]
        log.info(
            "signal %s %s tone=%s gate=%s | %s / %s",
            look.light, look.pattern, look.tone, "open" if look.gate else "closed", zh, en,
        )
        self._changed.set()

    async def prompt(self, key: str) -> None:
        """A prompt that is no verdict ("not a health code", "read failed")."""
        self.prompts.append(key)
        zh, en = PROMPT_TEXT[key]
        log.info("prompt %s | %s / %s", key, zh, en)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[Verdict, Look]]:
        """The first `count` signals shown, waiting up to `timeout` seconds for them."""
        async with asyncio.timeout(timeout):
            while len(self.shown) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.shown[:count]
