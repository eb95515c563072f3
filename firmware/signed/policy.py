"""What the door does with a signed code the kiosk judged itself.

Only a fully valid code opens the gate. A red-listed code is refused outright. Every
other failure holds the person for the person on duty, because "this code did not check
out" is not the same as "this person is red": an expired certificate or a key the kiosk
does not know yet deserves a human look, not a red light. A damaged read asks for a
rescan. The fields match firmware/protocol.py (colour, action, prompt; source "kiosk").
"""

from __future__ import annotations

from .verify import Result

SOURCE = "kiosk"
_RESCAN = ("corrupted",)
_REFUSE = ("red_listed",)


def verdict_fields(result: Result) -> tuple[str, str, str]:
    """(colour, action, prompt) for a verify() result."""
    if result.valid:
        return "green", "open", "pass"
    if result.reason in _REFUSE:
        return "red", "refuse", "no_entry"
    if result.reason in _RESCAN:
        return "unknown", "hold", "read_failed"
    if result.reason == "not_signed_code":
        return "unknown", "hold", "not_health_code"
    return "unknown", "hold", "manual_check"
