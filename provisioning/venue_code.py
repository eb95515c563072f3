"""What a door's QR code says, and the one function that reads it back.

Visitors scan the poster with a phone camera app, so the content is a URL the app opens.
It is upper case on purpose: a QR code of only 0-9, A-Z and $%*+-./: is encoded in
alphanumeric mode, about a third smaller than byte mode, so the same poster prints
with bigger modules that survive glare and distance (shared/seeds: codes that "scan as
invalid" in sunlight). The check character (ISO 7064 MOD 37,36) catches a code typed by
hand from the printed line under the QR. docs/venue-code.md is the contract.

    HTTPS://PLACECODE.EXAMPLE/V/41010300012345/D01/D   (URL, in the QR)
    41010300012345-D01-D                               (printed under it, typed by hand)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_BASE = "HTTPS://PLACECODE.EXAMPLE"
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# A venue code: the 6-digit administrative division of the venue, then 1-18 of 0-9 A-Z
# (the registry issues 8-digit serials; existing codes a district already uses keep theirs).
VENUE_RE = re.compile(r"^\d{6}[0-9A-Z]{1,18}$")
DOOR_RE = re.compile(r"^[0-9A-Z]{1,8}$")
_HOST_RE = re.compile(r"^[A-Z0-9.-]{1,64}(:\d{1,5})?$")
_URL_RE = re.compile(r"^HTTPS?://([^/]+)/V/([^/]+)/([^/]+)/([^/])$")
_SHORT_RE = re.compile(r"^([0-9A-Z]+)-([0-9A-Z]+)-([0-9A-Z])$")


class VenueCodeError(ValueError):
    """Content that is not a door code; `reason` is short, for counters and prompts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (f": {detail}" if detail else ""))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DoorCode:
    venue: str
    door: str
    host: str = ""

    @property
    def door_id(self) -> str:
        """The door as scan messages name it (protocol field `door`)."""
        return door_id(self.venue, self.door)

    @property
    def short(self) -> str:
        return f"{self.venue}-{self.door}-{check_char(self.venue + self.door)}"


def check_char(text: str) -> str:
    """ISO 7064 MOD 37,36 check character over 0-9 A-Z."""
    m = 36
    p = m
    for ch in text:
        p = (p + ALPHANUMERIC.index(ch)) % m or m
        p = (p * 2) % (m + 1)
    return ALPHANUMERIC[(m + 1 - p) % m]


def check_venue(venue: str) -> str:
    if not VENUE_RE.match(venue):
        raise VenueCodeError("bad_venue", "6-digit division code then 1-18 of 0-9 A-Z")
    return venue


def check_door(door: str) -> str:
    if not DOOR_RE.match(door):
        raise VenueCodeError("bad_door", "1-8 of 0-9 A-Z")
    return door


def door_id(venue: str, door: str) -> str:
    return f"{check_venue(venue)}/{check_door(door)}"


def door_url(venue: str, door: str, base: str = DEFAULT_BASE) -> str:
    """The QR content for one door."""
    base = base.rstrip("/").upper()
    if not base.startswith(("HTTPS://", "HTTP://")) or not _HOST_RE.match(base.split("://", 1)[1]):
        raise VenueCodeError("bad_base", base)
    check_venue(venue)
    check_door(door)
    return f"{base}/V/{venue}/{door}/{check_char(venue + door)}"


def parse(content: str, hosts: tuple[str, ...] | None = None) -> DoorCode:
    """Read a door code from QR content (URL) or the printed short form.

    `hosts`, if given, is the set of hosts this deployment issues codes under; a code
    from any other host is refused (a look-alike poster must not check people in).
    """
    text = content.strip().upper()
    if len(text) > 200:
        raise VenueCodeError("too_long")
    host = ""
    url = _URL_RE.match(text)
    if url:
        host, venue, door, check = url.groups()
        if hosts is not None and host not in {h.upper() for h in hosts}:
            raise VenueCodeError("foreign_host", host)
    else:
        short = _SHORT_RE.match(text)
        if not short:
            raise VenueCodeError("not_venue_code")
        venue, door, check = short.groups()
    check_venue(venue)
    check_door(door)
    if check_char(venue + door) != check:
        raise VenueCodeError("bad_check")
    return DoorCode(venue, door, host)
