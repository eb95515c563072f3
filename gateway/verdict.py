"""Verdict: what the door must do for a platform colour, decided in one table.

Only a fresh green opens. Anything the gateway could not check holds the person for the
person on duty ("manual check"); the kiosk never shows green for someone nobody checked.
"""

from __future__ import annotations

from gateway.store import StoredVerdict

DECISIONS: dict[str, tuple[str, str]] = {
    "green": ("open", "pass"),
    "yellow": ("hold", "wait_staff"),
    "red": ("refuse", "no_entry"),
    "unknown": ("hold", "manual_check"),
}


def decide(colour: str, source: str = "platform") -> StoredVerdict:
    """A stale colour (the platform did not answer; the cache's entry is past its
    time-to-live) never opens the gate: the person on duty decides, told what was last known."""
    action, prompt = DECISIONS.get(colour, DECISIONS["unknown"])
    if colour not in DECISIONS:
        colour = "unknown"
    if source == "stale" and colour != "red":
        action, prompt = "hold", "stale_status"
    return StoredVerdict(colour, action, prompt, source)
