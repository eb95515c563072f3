"""Signal: turns a verdict into what the person at the door sees, hears and passes.

The kiosk only knows the `Signal` interface. The board firmware (lights, buzzer, gate)
and the status screen implement it on real hardware; simulators/lights.py stands in
for them. What each verdict looks like is decided here, once, in `LOOKS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Verdict:
    event_id: str
    colour: str  # green | yellow | red | unknown
    action: str  # open | hold | refuse
    prompt: str  # key of the voice/screen prompt
    source: str  # platform | cache | kiosk | timeout

    @classmethod
    def from_message(cls, msg: dict) -> Verdict:
        return cls(msg["id"], msg["colour"], msg["action"], msg["prompt"], msg["source"])


@dataclass(frozen=True, slots=True)
class Look:
    light: str  # green | amber | red
    pattern: str  # steady | blink | slow_blink
    tone: str  # buzzer pattern name
    gate: bool  # open the gate


# What the door does. Green only for a checked green person; the board knows exactly
# these lights, patterns and tones (firmware/board_link.py).
LOOKS: dict[str, Look] = {
    "open": Look("green", "steady", "pass", True),
    "hold": Look("amber", "slow_blink", "attention", False),
    "refuse": Look("red", "blink", "deny", False),
    # a colour from a stale cache: not fresh, so not green and not the usual hold
    "stale": Look("amber", "blink", "manual", False),
    # nothing could be checked and the site's gate fails open: amber, never green
    "open_unchecked": Look("amber", "steady", "manual", True),
}

# Chinese first, English second: what the screen shows and the voice says.
PROMPT_TEXT: dict[str, tuple[str, str]] = {
    "pass": ("绿码，请通行", "Green code, please pass"),
    "wait_staff": ("黄码，请等待工作人员", "Yellow code, please wait for staff"),
    "no_entry": ("红码，禁止通行", "Red code, no entry"),
    "manual_check": ("无法核验，请工作人员人工核验", "Cannot verify, staff will check you"),
    "stale_status": ("状态未更新，请人工核验", "Status not current, staff will check"),
    "not_health_code": ("这不是健康码", "This is not a health code"),
    "show_code": ("请出示健康码", "Please show your health code"),
    "place_card": ("请放置身份证", "Please place your ID card"),
    "read_failed": ("读取失败，请重试", "Read failed, please try again"),
}


def look_for(verdict: Verdict) -> Look:
    if verdict.action == "open":
        return LOOKS["open"] if verdict.colour == "green" else LOOKS["open_unchecked"]
    if verdict.source == "stale" and verdict.action == "hold":
        return LOOKS["stale"]
    return LOOKS[verdict.action]


class Signal(Protocol):
    async def show(self, verdict: Verdict) -> None:
        """Show the verdict to the person at the door (lights, tone, screen, gate)."""
        ...
