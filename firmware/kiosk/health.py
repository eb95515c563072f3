"""Kiosk health: each device reports its own state here; the status message carries it.

Devices (camera, reader, board) call `report(part, ok, detail)`; the kiosk publishes the
whole map on its retained status topic whenever something changes, so the console shows
a fault while it lasts and its recovery when it ends.
"""

from __future__ import annotations

import asyncio


class Health:
    def __init__(self) -> None:
        self._parts: dict[str, str] = {}
        self.changed = asyncio.Event()

    def report(self, part: str, ok: bool, detail: str = "") -> None:
        state = "ok" if ok else ("fault: " + detail if detail else "fault")
        if self._parts.get(part) != state:
            self._parts[part] = state
            self.changed.set()

    def snapshot(self) -> dict[str, str]:
        return dict(self._parts)

    @property
    def ok(self) -> bool:
        return all(state == "ok" for state in self._parts.values())
