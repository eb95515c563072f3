"""CWT claims of an HC1 code (iss 1, exp 4, nbf 5, iat 6, hcert -260), checked strictly.

Only called on a payload whose signature has already been verified, yet still treated as
hostile: a legitimate issuer can have a bug, and a leaked key can sign anything. Every
field is checked for type, length and shape before anything reads it; what comes out is
plain JSON-ready data (str keys, str/int/float/bool/list/dict values), so nothing later
can trip over CBOR tags, byte strings or integer map keys.

Liberal where the specifications are: a NumericDate may be an integer or a floating-point
number (RFC 8392 section 2), or, as some issuers send it, a tag 1 epoch date/time; a date
or date/time inside the certificate may be a tagged CBOR date (tag 0, 1, 100 or 1004) and
comes out as ISO 8601 text, as if it had been sent as text. Older DCC schema versions
(1.0.x) are read too: a certificate group may hold more than one entry there, and the
groups a certificate does not use may be present but empty (or null). What is never
relaxed: exactly one group with entries, every entry a map, every field a plain value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cbor import CborError, loads_exact

ISS, EXP, NBF, IAT, HCERT = 1, 4, 5, 6, -260
DCC_V1 = 1
CERT_TYPES = ("v", "t", "r")  # vaccination, test, recovery (EU DCC)
MAX_TIME = 1 << 40
MAX_STR = 256
MAX_ITEMS = 32
MAX_DEPTH = 6


class ClaimsError(ValueError):
    """Signed content that breaks the HCERT rules."""


@dataclass(frozen=True, slots=True)
class Claims:
    iss: str | None
    iat: float  # NumericDates as sent: int, or float (RFC 8392)
    exp: float
    nbf: float | None
    cert_type: str  # one of CERT_TYPES
    dcc: dict[str, Any]  # the EU-DCC-like object under hcert/1, JSON-ready

    @property
    def not_before(self) -> float:
        return max(self.iat, self.nbf) if self.nbf is not None else self.iat

    @property
    def uvci(self) -> str | None:
        """Unique certificate identifier of the first entry (`ci`), used by the red list."""
        entry = self.dcc[self.cert_type][0]
        ci = entry.get("ci")
        return ci if isinstance(ci, str) else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"iss": self.iss, "iat": self.iat, "exp": self.exp}
        if self.nbf is not None:
            out["nbf"] = self.nbf
        out["type"] = self.cert_type
        out["dcc"] = self.dcc
        return out


def _time(claims: Mapping, key: int, name: str, required: bool) -> float | None:
    """A NumericDate: int or finite float seconds since the epoch (RFC 8392), or a tag 1
    date/time (cbor2 gives a datetime). Integral floats come out as int."""
    if key not in claims:
        if required:
            raise ClaimsError(f"{name} missing")
        return None
    value = claims[key]
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClaimsError(f"{name} is not a NumericDate")
    if isinstance(value, float) and not math.isfinite(value):
        raise ClaimsError(f"{name} is not a finite NumericDate")
    if not 0 <= value < MAX_TIME:
        raise ClaimsError(f"{name} is not a NumericDate in range")
    return int(value) if isinstance(value, int) or value.is_integer() else value


def _iso(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ClaimsError("date/time without a time zone")
        text = value.astimezone(dt.UTC).isoformat()
        return text.replace("+00:00", "Z")
    return value.isoformat()


def _plain(value: Any, depth: int, where: str) -> Any:
    """Copy CBOR data into plain JSON-ready data, refusing anything odd."""
    if depth > MAX_DEPTH:
        raise ClaimsError(f"{where} nested too deep")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) >= 1 << 53:
            raise ClaimsError(f"{where} integer out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ClaimsError(f"{where} is not a finite number")
        return value
    if isinstance(value, dt.date):  # tag 0/1 date/time, tag 100/1004 date
        return _iso(value)
    if isinstance(value, str):
        if len(value) > MAX_STR:
            raise ClaimsError(f"{where} string longer than {MAX_STR}")
        return value
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            raise ClaimsError(f"{where} has more than {MAX_ITEMS} items")
        return [_plain(v, depth + 1, where) for v in value]
    if isinstance(value, Mapping):
        if len(value) > MAX_ITEMS:
            raise ClaimsError(f"{where} has more than {MAX_ITEMS} keys")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not 0 < len(k) <= 32:
                raise ClaimsError(f"{where} has a non-text key")
            out[k] = _plain(v, depth + 1, where + "." + k)
        return out
    raise ClaimsError(f"{where} has a value of type {type(value).__name__}")


def _dcc(hcert: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(hcert, Mapping) or set(hcert) != {DCC_V1}:
        raise ClaimsError("hcert must be a map holding only key 1")
    dcc = _plain(hcert[DCC_V1], 1, "dcc")
    if not isinstance(dcc, dict):
        raise ClaimsError("dcc is not a map")
    for field in ("ver", "dob"):
        if not isinstance(dcc.get(field), str):
            raise ClaimsError(f"dcc.{field} missing")
    if not isinstance(dcc.get("nam"), dict):
        raise ClaimsError("dcc.nam missing")
    for group in CERT_TYPES:  # older schemas: unused groups present, empty or null
        if group in dcc and dcc[group] in ([], None):
            del dcc[group]
    present = [t for t in CERT_TYPES if t in dcc]
    if len(present) != 1:
        raise ClaimsError("dcc must hold exactly one of v, t, r")
    entries = dcc[present[0]]
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise ClaimsError(f"dcc.{present[0]} must be a list of entries")
    return present[0], dcc


def parse(payload: bytes) -> Claims:
    """Verified CWT payload bytes -> Claims, or ClaimsError."""
    try:
        claims = loads_exact(payload)
    except CborError as exc:
        raise ClaimsError(f"payload is not CBOR: {exc}") from None
    if not isinstance(claims, Mapping):
        raise ClaimsError("payload is not a CWT claims map")
    iss = claims.get(ISS)
    if iss is not None and (not isinstance(iss, str) or not 0 < len(iss) <= 64):
        raise ClaimsError("iss is not a short text")
    iat = _time(claims, IAT, "iat", True)
    exp = _time(claims, EXP, "exp", True)
    nbf = _time(claims, NBF, "nbf", False)
    assert iat is not None and exp is not None
    if exp <= iat:
        raise ClaimsError("exp is not after iat")
    if HCERT not in claims:
        raise ClaimsError("hcert (-260) missing")
    cert_type, dcc = _dcc(claims[HCERT])
    return Claims(iss, iat, exp, nbf, cert_type, dcc)
