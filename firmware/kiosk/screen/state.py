"""What the status screen shows now: one of a few states, and the prompt's two lines.

Verdict states last as long as the door shows them, then the screen falls back to
"please show your code". "manual" stays until the kiosk says otherwise, because it means
a person must act.
"""

from __future__ import annotations

import time
from typing import Literal

from firmware.verdict import PROMPT_TEXT, Verdict

State = Literal["idle", "green", "yellow", "red", "manual", "prompt"]
IDLE_PROMPT = "show_code"
_ACTION_STATE: dict[str, State] = {"open": "green", "hold": "yellow", "refuse": "red"}


def state_for(verdict: Verdict) -> State:
    if verdict.prompt in ("manual_check", "high_temperature"):
        return "manual"
    return _ACTION_STATE[verdict.action]


class ScreenState:
    def __init__(self, door: str = "", verdict_s: float = 4.0, prompt_s: float = 3.0) -> None:
        self.door = door
        self.verdict_s = verdict_s
        self.prompt_s = prompt_s
        self.version = 0
        self._state: State = "idle"
        self._prompt = IDLE_PROMPT
        self._until: float | None = None
        self._manual_reason = ""

    def show_verdict(self, verdict: Verdict) -> None:
        self._set(state_for(verdict), verdict.prompt, self.verdict_s)

    def show_prompt(self, key: str) -> None:
        """A hint without a verdict: place your card, read failed, not a health code."""
        if key not in PROMPT_TEXT:
            raise ValueError(f"unknown prompt {key!r}")
        self._set("prompt", key, self.prompt_s)

    def manual_check(self, reason: str = "") -> None:
        """Staff must check people by hand (board fail-safe, kiosk link down)."""
        self._manual_reason = reason
        self._set("manual", "manual_check", None)

    def clear_manual(self) -> None:
        if self._state == "manual" and self._until is None:
            self._set("idle", IDLE_PROMPT, None)

    def _set(self, state: State, prompt: str, seconds: float | None) -> None:
        self._state = state
        self._prompt = prompt
        self._until = None if seconds is None else time.monotonic() + seconds
        self.version += 1

    def snapshot(self) -> dict[str, object]:
        if self._until is not None and time.monotonic() >= self._until:
            self._set("idle", IDLE_PROMPT, None)
        zh, en = PROMPT_TEXT[self._prompt]
        return {"state": self._state, "prompt": self._prompt, "zh": zh, "en": en,
                "door": self.door, "version": self.version}
