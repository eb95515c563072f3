"""What an input device hands to the kiosk: one credential presented by one person.

Every input (camera decoder, ID-card reader, simulated visitors) is an async iterator of
Readings; the kiosk does not know or care which device produced one. That is the seam
that lets the same kiosk run on a Pi with real hardware and on CI with simulators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

Method = Literal["code", "signed_code", "id_card", "manual"]
Medium = Literal["screen", "paper", "card", "keyed", "unknown"]


@dataclass(frozen=True, slots=True)
class Reading:
    method: Method
    # health-code token/URL, HC1 text, ID number, or a manual credential
    # (firmware/manual_id.py): personal data, never log
    credential: str
    medium: Medium = "unknown"
    name: str | None = None  # cardholder name from an ID card: personal data, never log

    def __repr__(self) -> str:  # keeps personal data out of logs and tracebacks
        return f"Reading(method={self.method!r}, medium={self.medium!r})"


class ReadingSource(Protocol):
    """An input device: yields one Reading per presentation, forever or until closed."""

    def __aiter__(self) -> AsyncIterator[Reading]: ...
