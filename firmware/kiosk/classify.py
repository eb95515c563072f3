"""What a decoded QR code is: an online health code, a signed offline code, or neither.

People hold up whatever their phone shows: payment codes, the venue poster they just
photographed, a random link. Only health codes may become events; everything else must
get a clear "this is not a health code" at the door instead of a silent nothing. Each
health-code platform issues its own URL shape, so the patterns are configuration (a JSON
file per deployment), not code. A pattern must match the whole payload, so a payment link
that merely contains a platform URL is still not a health code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["code", "signed_code", "not_health_code"]

# Base45 (RFC 9285) is the QR alphanumeric set: what an HC1 signed code's body consists of.
_BASE45 = re.compile(r"[0-9A-Z $%*+\-./:]+")
SIGNED_PREFIX = "HC1:"
SIGNED_MIN_BODY = 40  # a COSE signature alone is longer; shorter is not a signed code


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Classified:
    kind: Kind
    platform: str | None = None  # which platform's pattern matched (online codes)

    @property
    def is_health_code(self) -> bool:
        return self.kind != "not_health_code"


# name -> regular expression for the whole payload. The first is the demo platform
# simulator's; the others have the shape of provincial platforms' codes and must be
# confirmed with the operator before a deployment relies on them.
DEFAULT_PATTERNS: dict[str, str] = {
    "henan-demo": r"https://hc\.henan\.example/yk/v1\?t=[A-Za-z0-9]{32}",
    "yukang-like": r"https://[a-z0-9.-]+\.gov\.cn/(?:yk|ykm|hcode)/[A-Za-z0-9/_-]*\?(?:t|token|code)=[A-Za-z0-9_-]{16,128}",
    "bare-token": r"HC-[A-Za-z0-9]{24,64}",
}


def compile_platforms(patterns: dict[str, str]) -> tuple[Platform, ...]:
    """Bad configuration fails here, at start-up, with the offending entry named."""
    if not isinstance(patterns, dict) or not patterns:
        raise ValueError("health-code patterns must be a non-empty object {platform: regex}")
    platforms = []
    for name, source in patterns.items():
        if not isinstance(name, str) or not name or not isinstance(source, str) or not source:
            raise ValueError(
                f"health-code pattern entry {name!r}: name and regex must be non-empty strings"
            )
        try:
            platforms.append(Platform(name, re.compile(source)))
        except re.error as exc:
            raise ValueError(f"health-code pattern {name!r} is not a valid regex: {exc}") from exc
    return tuple(platforms)


def load_patterns(path: str | Path) -> tuple[Platform, ...]:
    """Read {platform: regex} from a JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read health-code patterns from {path}: {exc}") from exc
    return compile_platforms(data)


class Classifier:
    def __init__(self, platforms: Iterable[Platform] | None = None) -> None:
        self.platforms = (
            tuple(platforms) if platforms is not None else compile_platforms(DEFAULT_PATTERNS)
        )

    def classify(self, payload: str) -> Classified:
        text = payload.strip()
        if text.startswith(SIGNED_PREFIX):
            body = text[len(SIGNED_PREFIX) :]
            if len(body) >= SIGNED_MIN_BODY and _BASE45.fullmatch(body):
                return Classified("signed_code")
            return Classified("not_health_code")
        for platform in self.platforms:
            if platform.pattern.fullmatch(text):
                return Classified("code", platform.name)
        return Classified("not_health_code")


def mask(payload: str) -> str:
    """A log-safe stand-in for a payload: its shape, never its token."""
    if len(payload) <= 8:
        return "*" * len(payload)
    return f"{payload[:4]}…({len(payload)} chars)"
