"""Simulated signal lights, buzzer and gate: records what the door showed, for tests and
the demo's terminal summary. On a kiosk, firmware/kiosk/board_signal.py drives the board."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TextIO

from firmware.verdict import PROMPT_TEXT, Look, Verdict, look_for

log = logging.getLogger(__name__)


class SimulatedLights:
    def __init__(self, report: TextIO | None = None) -> None:
        self.report = report  # each verdict as a JSON line, for a benchmark reading it
        self.shown: list[tuple[Verdict, Look]] = []
        self.prompts: list[str] = []
        self.gate_openings: list[int] = []
        self._changed = asyncio.Event()

    async def show(self, verdict: Verdict) -> None:
        look = look_for(verdict)
        self.shown.append((verdict, look))
        if self.report is not None:
            self.report.write(json.dumps({
                "shown_ns": time.perf_counter_ns(), "id": verdict.event_id,
                "colour": verdict.colour, "action": verdict.action, "prompt": verdict.prompt,
                "source": verdict.source, "light": look.light}) + "\n")
            self.report.flush()
        zh, en = PROMPT_TEXT[verdict.prompt]
        log.info(
            "signal %s %s tone=%s gate=%s | %s / %s",
            look.light, look.pattern, look.tone, "open" if look.gate else "closed", zh, en,
        )
        self._changed.set()

    async def run(self) -> None:
        """Simulated lights have no background work."""
        await asyncio.Event().wait()

    async def prompt(self, key: str) -> None:
        """A prompt that is no verdict ("not a health code", "read failed")."""
        self.prompts.append(key)
        zh, en = PROMPT_TEXT[key]
        log.info("prompt %s | %s / %s", key, zh, en)

    async def open_gate(self, ms: int) -> bool:
        """The person on duty opened the gate (recorded in `gate_openings`, ms each)."""
        self.gate_openings.append(ms)
        log.info("signal gate opened by staff for %d ms | %s", ms, PROMPT_TEXT["gate_by_staff"][0])
        self._changed.set()
        return True

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[Verdict, Look]]:
        """The first `count` signals shown, waiting up to `timeout` seconds for them."""
        async with asyncio.timeout(timeout):
            while len(self.shown) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.shown[:count]
