"""The trust list: which issuer keys a kiosk accepts for signed codes, and for what.

Issuer keys (EU "DSC" style; kid = first 8 bytes of SHA-256 over the DER certificate) are
collected by the gateway and published as one signed document (see signedlist.py and
docs/signed-codes.md). Each entry can restrict what its key may sign (vaccination, test,
recovery) and when it may sign; a code signed outside that is refused. Kids are only
8 bytes, so two keys can share one: candidates() returns every key with that kid and the
verifier tries them all.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import cose
from .hcert import CERT_TYPES
from .signedlist import DocumentError, Header, SignedStore, b64decode, require_int

TYPE = "placecode.trust-list"
MAX_KEYS = 4096
# EU DCC extended key usage OIDs restricting a DSC to certificate types (both arcs in use).
EKU_TYPES = {
    "1.3.6.1.4.1.1847.2021.1.1": "t",
    "1.3.6.1.4.1.1847.2021.1.2": "v",
    "1.3.6.1.4.1.1847.2021.1.3": "r",
    "1.3.6.1.4.1.0.1847.2021.1.1": "t",
    "1.3.6.1.4.1.0.1847.2021.1.2": "v",
    "1.3.6.1.4.1.0.1847.2021.1.3": "r",
}


@dataclass(frozen=True, slots=True)
class TrustedKey:
    kid: bytes
    key: cose.PublicKey
    country: str | None = None
    usage: frozenset[str] = frozenset(CERT_TYPES)  # certificate types it may sign
    not_before: int | None = None  # the key may sign from here (iat is checked)...
    not_after: int | None = None  # ...to here
    label: str = ""

    @property
    def alg(self) -> int:
        return cose.ES256 if isinstance(self.key, ec.EllipticCurvePublicKey) else cose.PS256

    def may_sign_at(self, iat: int) -> bool:
        if self.not_before is not None and iat < self.not_before:
            return False
        return self.not_after is None or iat <= self.not_after

    def to_json(self) -> dict[str, Any]:
        spki = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        out: dict[str, Any] = {
            "kid": base64.b64encode(self.kid).decode(),
            "key": base64.b64encode(spki).decode(),
            "usage": sorted(self.usage),
        }
        for name in ("country", "not_before", "not_after"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.label:
            out["label"] = self.label
        return out


@dataclass(frozen=True, slots=True)
class TrustList:
    version: int
    keys: tuple[TrustedKey, ...]
    site: str = ""
    issued: int = 0
    _by_kid: dict[bytes, list[TrustedKey]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for k in self.keys:
            self._by_kid.setdefault(k.kid, []).append(k)

    def candidates(self, kid: bytes) -> list[TrustedKey]:
        return self._by_kid.get(kid, [])

    def body(self) -> dict[str, Any]:
        """The JSON object that gets signed (see docs/signed-codes.md)."""
        return {
            "type": TYPE,
            "v": 1,
            "site": self.site,
            "version": self.version,
            "issued": self.issued,
            "keys": [k.to_json() for k in self.keys],
        }


def _public_key(der: bytes) -> cose.PublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except ValueError:
        raise DocumentError("malformed", "key is not a DER SubjectPublicKeyInfo") from None
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return key
    raise DocumentError("malformed", "key is neither P-256 nor RSA >= 2048")


def _entry(raw: Any) -> TrustedKey:
    if not isinstance(raw, dict):
        raise DocumentError("malformed", "key entry is not an object")
    kid = b64decode(raw.get("kid"), "kid")
    if not 0 < len(kid) <= cose.MAX_KID:
        raise DocumentError("malformed", "kid length")
    key = _public_key(b64decode(raw.get("key"), "key"))
    usage = raw.get("usage", list(CERT_TYPES))
    if not isinstance(usage, list) or not set(usage) <= set(CERT_TYPES):
        raise DocumentError("malformed", "usage must list of v/t/r")
    country = raw.get("country")
    if country is not None and (not isinstance(country, str) or len(country) > 64):
        raise DocumentError("malformed", "country")
    label = raw.get("label", "")
    if not isinstance(label, str) or len(label) > 128:
        raise DocumentError("malformed", "label")
    return TrustedKey(
        kid,
        key,
        country,
        frozenset(usage),
        require_int(raw, "not_before", False),
        require_int(raw, "not_after", False),
        label,
    )


def parse(header: Header, body: dict[str, Any]) -> TrustList:
    keys = body.get("keys")
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise DocumentError("malformed", f"keys must be a list of at most {MAX_KEYS}")
    return TrustList(header.version, tuple(_entry(k) for k in keys), header.site, header.issued)


def store(path: Path | str, roots: Iterable[cose.PublicKey], site: str | None) -> SignedStore:
    """The kiosk's trust list: feed it every message of placecode/<site>/trust/list."""
    return SignedStore(path, roots, TYPE, parse, site)


def key_from_certificate(cert: x509.Certificate, label: str = "") -> TrustedKey:
    """A DSC-style certificate as a trusted key: kid from the DER, usage from its EKU."""
    der = cert.public_bytes(serialization.Encoding.DER)
    usage = frozenset(CERT_TYPES)
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        restricted = {EKU_TYPES[o.dotted_string] for o in eku if o.dotted_string in EKU_TYPES}
        if restricted:
            usage = frozenset(restricted)
    except x509.ExtensionNotFound:
        pass
    countries = cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    key = cert.public_key()
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise ValueError("certificate key is neither EC nor RSA")
    return TrustedKey(
        kid=hashlib.sha256(der).digest()[:8],
        key=key,
        country=str(countries[0].value) if countries else None,
        usage=usage,
        not_before=int(cert.not_valid_before_utc.replace(tzinfo=UTC).timestamp()),
        not_after=int(cert.not_valid_after_utc.timestamp()),
        label=label or cert.subject.rfc4514_string()[:128],
    )


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM file (one or more) or a single DER certificate."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]
