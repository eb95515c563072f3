"""Signal on real hardware: the door board's lights, buzzer and gate, the voice prompt and
the status screen, all from one verdict.

What a verdict looks like is decided once, in firmware/verdict.py LOOKS; this module only
translates a Look into board commands. The screen and the voice go first (they cannot fail
in a way that matters), then the board. If the board does not acknowledge, the gate has not
opened, so the person is told to wait for staff: the screen and voice switch to "manual
check" rather than leave a green screen in front of a locked gate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from firmware import board_link as link
from firmware.kiosk.board import BoardError, BoardLink
from firmware.kiosk.screen.state import ScreenState
from firmware.kiosk.voice import Voice
from firmware.verdict import LOOKS, Look, Verdict, look_for

log = logging.getLogger(__name__)


def check_looks(looks: dict[str, Look] = LOOKS) -> None:
    """Every look must be something the board can show; fail at start, not at the door."""
    for action, look in looks.items():
        for value, allowed in ((look.light, link.LIGHTS), (look.pattern, link.PATTERNS),
                               (look.tone, link.TONES)):
            if value not in allowed:
                raise ValueError(f"LOOKS[{action!r}]: board cannot show {value!r}")


class BoardSignal:
    def __init__(self, board: BoardLink, voice: Voice | None = None,
                 screen: ScreenState | None = None, *, show_ms: int = 3000,
                 gate_ms: int = 3000,
                 serve_screen: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        check_looks()
        self.board = board
        self.voice = voice
        self.screen = screen
        self.show_ms = show_ms
        self.gate_ms = gate_ms
        self.serve_screen = serve_screen  # the status page for the HDMI panel

    async def run(self) -> None:
        """Keep the board connected, mirror its fail-safe on the screen, serve the screen."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.keep_board())
            tasks.create_task(self.watch())
            if self.serve_screen is not None:
                tasks.create_task(self.serve_screen())

    async def keep_board(self, retry_s: float = 1.0) -> None:
        """The board may be absent at start or unplugged later: keep trying to reach it."""
        while True:
            try:
                await self.board.start(timeout=2.0)
                await self.board.set_idle("ready")
                return
            except (BoardError, OSError):
                self.board.health.report("board", False, "absent")
                await asyncio.sleep(retry_s)

    async def show(self, verdict: Verdict) -> None:
        look = look_for(verdict)
        if self.screen:
            self.screen.show_verdict(verdict)
        if self.voice:
            await self.voice.play(verdict.prompt)
        commands = [self.board.show(look.light, look.pattern, look.tone, self.show_ms)]
        if look.gate:
            commands.append(self.board.open_gate(self.gate_ms))
        results = await asyncio.gather(*commands, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, BoardError):
                raise failure
        if failures:
            log.warning("board did not take verdict %s: %s", verdict.action, failures[0])
            await self.prompt("manual_check")

    async def open_gate(self, ms: int) -> bool:
        """The person on duty opens the gate once: amber (never green), the gate for `ms`,
        and "opened by staff" on the screen and in the voice."""
        look = LOOKS["by_staff"]
        if self.screen:
            self.screen.show_prompt("gate_by_staff")
        if self.voice:
            await self.voice.play("gate_by_staff")
        results = await asyncio.gather(
            self.board.show(look.light, look.pattern, look.tone, ms),
            self.board.open_gate(ms), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, BoardError):
                raise failure
        if failures:
            log.warning("board did not take the gate opening: %s", failures[0])
            await self.prompt("manual_check")
            return False
        return True

    async def prompt(self, key: str) -> None:
        """A prompt with no verdict (show your code, place your card, read failed...)."""
        if self.screen:
            if key == "manual_check":
                self.screen.manual_check("board")
            else:
                self.screen.show_prompt(key)
        if self.voice:
            await self.voice.play(key)

    async def watch(self, every_s: float = 0.25) -> None:
        """Mirror the board's fail-safe and the link's health on the screen, forever."""
        while True:
            board_down = self.board.health.snapshot().get("board", "ok") != "ok"
            if self.screen:
                if self.board.beat.get("failsafe") or board_down:
                    self.screen.manual_check("board")
                else:
                    self.screen.clear_manual()
            await asyncio.sleep(every_s)
