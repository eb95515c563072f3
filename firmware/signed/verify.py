"""Verify one signed code the way the kiosk decides on its own: in order, cheaply, and
with one reason code per way it can fail.

Order matters: the outer layers are undone, the signature is checked against the trust
list, and only then is the signed content parsed and judged (key usage, validity window,
red list). A code is valid only if every step passed; there is no "valid with warnings".
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from . import cose, envelope, hcert
from .redlist import RedList
from .trustlist import TrustedKey, TrustList

LEEWAY_S = 300  # clock skew tolerated on "not yet valid" (kiosk clocks drift offline)

# Every reason code verify() can return; docs/signed-codes.md explains each.
REASONS = (
    "ok",
    "not_signed_code",  # no HC1: prefix: not ours to judge (an opaque token, a URL...)
    "corrupted",  # truncated or damaged: base45, zlib, CBOR or COSE structure broken
    "unsupported_algorithm",  # alg is neither ES256 nor PS256
    "no_kid",  # no key id in either header
    "no_trust_list",  # the kiosk holds no trust list yet
    "unknown_issuer",  # no trusted key has this kid
    "bad_certificate",  # the signer certificate with this kid was given but is unusable
    "bad_signature",  # a key with this kid exists, but none made this signature
    "bad_claims",  # signature good, content breaks the HCERT rules
    "wrong_key_usage",  # the key may not sign this type, or did so outside its window
    "not_yet_valid",
    "expired",
    "red_listed",
)


@dataclass(frozen=True, slots=True)
class Result:
    valid: bool
    reason: str
    issuer: str | None = None  # iss claim (country), else the key's country
    not_before: int | None = None  # seconds since the epoch
    not_after: int | None = None
    claims: dict[str, Any] | None = None  # only when the signature verified
    kid: str | None = None  # hex
    detail: str = ""
    uvci: str | None = None  # for replay detection and the red list; personal-ish
    signature: bytes | None = None  # identifies this exact code (replay, red list)

    def __repr__(self) -> str:  # claims hold names and birth dates: keep them out of logs
        return (
            f"Result(valid={self.valid!r}, reason={self.reason!r}, issuer={self.issuer!r},"
            f" kid={self.kid!r})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "detail": self.detail,
            "issuer": self.issuer,
            "kid": self.kid,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "claims": self.claims,
        }


def _fail(reason: str, detail: str = "", **known: Any) -> Result:
    return Result(False, reason, detail=detail, **known)


def _signer(msg: cose.Sign1, candidates: list[TrustedKey]) -> TrustedKey | None:
    for key in candidates:  # duplicate kids happen: try every key that has this one
        if key.alg == msg.alg and cose.verify_signature(msg, key.key):
            return key
    return None


def verify(
    code_text: str,
    trust_list: TrustList | None,
    at: float | None = None,
    red_list: RedList | None = None,
    leeway_s: int = LEEWAY_S,
) -> Result:
    """Judge one scanned text as a signed code at time `at` (default: now)."""
    now = time.time() if at is None else at
    try:
        msg = cose.decode_sign1(envelope.unwrap(code_text))
    except (envelope.EnvelopeError, cose.CoseError) as exc:
        return _fail(exc.reason, exc.detail)
    kid = msg.kid.hex()
    if trust_list is None:
        return _fail("no_trust_list", kid=kid)
    candidates = trust_list.candidates(msg.kid)
    if not candidates and msg.kid in trust_list.refused:
        return _fail("bad_certificate", trust_list.refused[msg.kid], kid=kid)
    if not candidates:
        return _fail("unknown_issuer", f"kid not in trust list v{trust_list.version}", kid=kid)
    key = _signer(msg, candidates)
    if key is None:
        return _fail("bad_signature", f"{len(candidates)} key(s) with this kid tried", kid=kid)
    try:
        claims = hcert.parse(msg.payload)
    except hcert.ClaimsError as exc:
        return _fail("bad_claims", str(exc), kid=kid, issuer=key.country)
    known: dict[str, Any] = {
        "kid": kid,
        "issuer": claims.iss or key.country,
        "not_before": claims.not_before,
        "not_after": claims.exp,
        "claims": claims.to_json(),
        "uvci": claims.uvci,
        "signature": msg.signature,
    }
    if claims.cert_type not in key.usage:
        detail = f"key may sign {'/'.join(sorted(key.usage))}, not {claims.cert_type}"
        return _fail("wrong_key_usage", detail, **known)
    if not key.may_sign_at(claims.iat):
        return _fail("wrong_key_usage", "signed outside the key's validity", **known)
    if key.country and claims.iss and claims.iss != key.country:
        return _fail("wrong_key_usage", "iss differs from the key's country", **known)
    if now + leeway_s < claims.not_before:
        return _fail("not_yet_valid", **known)
    if now > claims.exp:  # exp is the last valid second (inclusive)
        return _fail("expired", **known)
    if red_list is not None and (
        red_list.contains("uvci", claims.uvci) or red_list.contains("sig", msg.signature.hex())
    ):
        return _fail("red_listed", **known)
    return Result(True, "ok", **known)


NOT_DETECTED = "260415000"  # SNOMED CT, the EU DCC's `tr` value for a negative test


def negative_test_ms(result: Result) -> int | None:
    """When the negative test a valid signed test certificate records was sampled (ms
    since the epoch); None for any other code (a door that asks for a recent test then
    holds the person for the person on duty)."""
    claims = result.claims
    if not result.valid or not claims or claims.get("type") != "t":
        return None
    entry = claims["dcc"]["t"][0]
    sampled = entry.get("sc")
    if entry.get("tr") != NOT_DETECTED or not isinstance(sampled, str):
        return None
    try:
        when = dt.datetime.fromisoformat(sampled)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return int(when.timestamp() * 1000)
