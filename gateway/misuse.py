"""Replay and misuse signals: the same code shown again where it should not be.

A one-time code that turns up at a second door, or a code shown again after it expired,
means a photo of it is being passed around. The gateway watches the signed-code scans of
every kiosk of the site, so it sees the two-door case across kiosks. Codes are remembered
only as keyed fingerprints (HMAC-SHA256 under a site secret), never as text, so the
memory and any flag sent to the console hold no token. Memory is bounded: old and excess
entries are dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import OrderedDict
from dataclasses import dataclass

MISUSE_KINDS = ("second_door", "reused", "after_validity")


@dataclass(frozen=True, slots=True)
class Misuse:
    kind: str  # second_door | reused | after_validity
    fingerprint: str  # keyed hash of the code: safe to log and to show on the console
    door: str  # where it was shown now
    at: float
    first_door: str  # where it was first seen
    first_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "door": self.door,
            "at": self.at,
            "first_door": self.first_door,
            "first_at": self.first_at,
        }


@dataclass(slots=True)
class _Sighting:
    first_door: str
    first_at: float
    last_door: str
    last_at: float


class ReplayGuard:
    """Remembers codes seen recently and says when one is being misused.

    retry_grace_s: the same code at the same door within this time is a person scanning
    twice, not a replay. two_door_window_s: for codes that may be used many times (a
    certificate), a second door within this time means the code is being shared.
    """

    def __init__(
        self,
        secret: bytes | None = None,
        retry_grace_s: float = 10.0,
        two_door_window_s: float = 600.0,
        keep_s: float = 7 * 86400,
        max_entries: int = 100_000,
    ) -> None:
        self._secret = secret if secret is not None else os.urandom(32)
        self.retry_grace_s = retry_grace_s
        self.two_door_window_s = two_door_window_s
        self.keep_s = keep_s
        self.max_entries = max_entries
        self._seen: OrderedDict[str, _Sighting] = OrderedDict()

    def fingerprint(self, code: str | bytes) -> str:
        """Keyed hash of a code: its text, or for a signed code its signature bytes."""
        data = code.encode("utf-8") if isinstance(code, str) else code
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()[:32]

    def observe(
        self,
        code: str | bytes,
        door: str,
        at: float,
        not_after: float | None = None,
        one_time: bool = True,
    ) -> Misuse | None:
        """Record one presentation; return the misuse it reveals, if any."""
        fp = self.fingerprint(code)
        self._expire(at)
        seen = self._seen.get(fp)
        if seen is None:
            self._seen[fp] = _Sighting(door, at, door, at)
            self._trim()
            return None
        kind = self._judge(seen, door, at, not_after, one_time)
        seen.last_door, seen.last_at = door, at  # a retry at the same door extends its grace
        self._seen.move_to_end(fp)
        if kind is None:
            return None
        return Misuse(kind, fp, door, at, seen.first_door, seen.first_at)

    def _judge(
        self, seen: _Sighting, door: str, at: float, not_after: float | None, one_time: bool
    ) -> str | None:
        if not_after is not None and at >= not_after:
            return "after_validity"
        if door != seen.last_door:
            if one_time or at - seen.last_at <= self.two_door_window_s:
                return "second_door"
            return None
        if one_time and at - seen.last_at > self.retry_grace_s:
            return "reused"
        return None

    def _expire(self, now: float) -> None:
        while self._seen:
            fp, oldest = next(iter(self._seen.items()))
            if now - oldest.last_at <= self.keep_s:
                break
            del self._seen[fp]

    def _trim(self) -> None:
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
