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
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import cose, der
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

    def may_sign_at(self, iat: float) -> bool:
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
    # kid -> why its certificate was refused (check-code given a certificate it cannot use):
    # a code with that kid is then told so, rather than "unknown issuer"
    refused: dict[bytes, str] = field(default_factory=dict)
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


class CertificateError(ValueError):
    """A signer certificate that cannot be trusted as a key: unreadable even leniently, a
    key that is neither P-256 nor RSA >= 2048, or a key usage that forbids signing."""


KEY_USAGE, EXT_KEY_USAGE = "2.5.29.15", "2.5.29.37"


def kid_of(certificate_der: bytes) -> bytes:
    """The EU DCC kid: the first 8 bytes of SHA-256 over the certificate as published."""
    return hashlib.sha256(certificate_der).digest()[:8]


def key_from_certificate(cert: x509.Certificate, label: str = "") -> TrustedKey:
    """A DSC-style certificate as a trusted key: kid from the DER, usage from its EKU."""
    return key_from_der(cert.public_bytes(serialization.Encoding.DER), label)


def key_from_der(data: bytes, label: str = "") -> TrustedKey:
    """A signer certificate (DER bytes as published) as a trusted key, or CertificateError.

    Read with `cryptography` when it accepts the encoding; a certificate it refuses as DER
    (an explicit DEFAULT, a long-form length: see der.py) is read leniently instead. Either
    way the key, validity, key usage and extended key usage are applied the same, strictly.
    """
    try:
        fields = _strict_fields(data)
    except (ValueError, UnsupportedAlgorithm):  # refused as DER, at load or lazily
        try:
            fields = _lenient_fields(data)
        except (der.DerError, ValueError, IndexError) as exc:
            raise CertificateError(f"unreadable certificate: {str(exc)[:80]}") from None
    spki, not_before, not_after, country, subject, key_usage, eku = fields
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # strict: a well-formed key
        raise CertificateError("certificate key is not a well-formed public key") from None
    if not (
        (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1")
        or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048)
    ):
        raise CertificateError("certificate key is neither P-256 nor RSA >= 2048")
    if key_usage is False:
        raise CertificateError("key usage does not allow digital signatures")
    usage = frozenset(CERT_TYPES)
    restricted = {EKU_TYPES[o] for o in eku if o in EKU_TYPES}
    if restricted:
        usage = frozenset(restricted)
    return TrustedKey(
        kid=kid_of(data),
        key=key,
        country=country,
        usage=usage,
        not_before=int(not_before.timestamp()),
        not_after=int(not_after.timestamp()),
        label=(label or subject)[:128],
    )


# (spki DER, not_before, not_after, country, subject, digitalSignature allowed or None
# when no KeyUsage, extended key usage OIDs)
_Fields = tuple[bytes, Any, Any, "str | None", str, "bool | None", list[str]]


def _strict_fields(data: bytes) -> _Fields:
    cert = x509.load_der_x509_certificate(data)
    spki = _spki(cert)
    exts = cert.extensions  # parsed lazily: a non-DER extension raises ValueError here
    key_usage = None
    try:
        key_usage = exts.get_extension_for_class(x509.KeyUsage).value.digital_signature
    except x509.ExtensionNotFound:
        pass
    eku: list[str] = []
    try:
        eku = [o.dotted_string for o in exts.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        pass
    countries = cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    return (
        spki,
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        str(countries[0].value) if countries else None,
        cert.subject.rfc4514_string(),
        key_usage,
        eku,
    )


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _lenient_fields(data: bytes) -> _Fields:
    f = der.certificate_fields(data)
    key_usage = None
    if KEY_USAGE in f.extensions:
        key_usage = der.key_usage_digital_signature(f.extensions[KEY_USAGE][1])
    eku = (
        der.extended_key_usage(f.extensions[EXT_KEY_USAGE][1])
        if EXT_KEY_USAGE in f.extensions
        else []
    )
    return (f.spki, f.not_before, f.not_after, f.country, f.subject, key_usage, eku)


def certificate_blobs(data: bytes) -> list[bytes]:
    """The DER bytes of every certificate in a PEM file (one or more blocks) or of a single
    DER certificate, without parsing them (so one bad certificate does not hide the rest).
    Raises CertificateError for PEM text whose base64 does not decode."""
    if b"-----BEGIN" not in data:
        return [data]
    blobs = []
    for block in re.findall(
        rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", data, re.DOTALL
    ):
        try:
            blobs.append(base64.b64decode(b"".join(block.split()), validate=True))
        except (ValueError, binascii.Error):
            raise CertificateError("PEM block is not base64") from None
    if not blobs:
        raise CertificateError("no CERTIFICATE block in the PEM text")
    return blobs


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM file (one or more) or a single DER certificate."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]
