"""COSE_Sign1 (RFC 9052, CBOR tag 18): the signature container of HC1 codes and of the
trust and red lists the gateway distributes.

Only what a verifier needs: split the container, find alg and kid (the EU DCC spec lets
the kid sit in the protected or the unprotected header, so both are read, protected
first), and check the signature over the Sig_structure. ES256 and PS256 are supported
because every HCERT verifier must accept both. Nothing here looks at the payload: the
caller verifies first and only then parses what was signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .cbor import CborError, loads_exact

SIGN1_TAG = 18
HDR_ALG = 1
HDR_KID = 4
ES256 = -7
PS256 = -37
ALG_NAMES = {ES256: "ES256", PS256: "PS256"}
ALG_IDS = {name: alg for alg, name in ALG_NAMES.items()}
MAX_KID = 64

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class CoseError(ValueError):
    """A container that is not a usable COSE_Sign1; `reason` is a short code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Sign1:
    protected_bytes: bytes
    alg: int
    kid: bytes
    payload: bytes
    signature: bytes

    @property
    def alg_name(self) -> str:
        return ALG_NAMES.get(self.alg, str(self.alg))


def _header_map(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise CoseError("corrupted", f"{what} header is not a map")
    return value


def decode_sign1(data: bytes) -> Sign1:
    """Split a COSE_Sign1 without trusting it.

    Raises CoseError('corrupted' | 'unsupported_algorithm' | 'no_kid')."""
    try:
        item = loads_exact(data)
    except CborError as exc:
        raise CoseError("corrupted", f"cbor: {exc}") from None
    if isinstance(item, cbor2.CBORTag):
        if item.tag != SIGN1_TAG:
            raise CoseError("corrupted", f"CBOR tag {item.tag} is not COSE_Sign1")
        item = item.value
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise CoseError("corrupted", "COSE_Sign1 is not a 4-element array")
    protected_bytes, unprotected, payload, signature = item
    if not all(isinstance(x, bytes) for x in (protected_bytes, payload, signature)):
        raise CoseError("corrupted", "COSE_Sign1 fields have wrong types")
    try:
        protected = loads_exact(protected_bytes) if protected_bytes else {}
    except CborError as exc:
        raise CoseError("corrupted", f"protected header: {exc}") from None
    protected = _header_map(protected, "protected")
    unprotected = _header_map(unprotected, "unprotected")
    alg = protected.get(HDR_ALG)  # alg must be integrity-protected
    if alg not in ALG_NAMES:
        raise CoseError("unsupported_algorithm", str(alg)[:20])
    kid = protected.get(HDR_KID, unprotected.get(HDR_KID))
    if not isinstance(kid, bytes) or not 0 < len(kid) <= MAX_KID:
        raise CoseError("no_kid", "kid missing or malformed")
    return Sign1(protected_bytes, alg, kid, payload, signature)


def sig_structure(protected_bytes: bytes, payload: bytes) -> bytes:
    """The bytes actually signed (RFC 9052 section 4.4), with empty external_aad."""
    return cbor2.dumps(["Signature1", protected_bytes, b"", payload])


def verify_signature(msg: Sign1, key: PublicKey) -> bool:
    """True if `key` made this signature. A key of the wrong type for `alg` is False."""
    to_be_signed = sig_structure(msg.protected_bytes, msg.payload)
    try:
        if msg.alg == ES256:
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
                return False
            if len(msg.signature) != 64:
                return False
            r = int.from_bytes(msg.signature[:32], "big")
            s = int.from_bytes(msg.signature[32:], "big")
            key.verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hashes.SHA256()))
            return True
        if msg.alg == PS256:
            if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
                return False
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            key.verify(msg.signature, to_be_signed, pss, hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def encode_sign1(
    alg: int, kid: bytes, payload: bytes, signature: bytes, kid_protected: bool = True
) -> bytes:
    """Assemble a tagged COSE_Sign1 (the key tool signs; see protected_header())."""
    protected_bytes = protected_header(alg, kid if kid_protected else None)
    unprotected = {} if kid_protected else {HDR_KID: kid}
    return cbor2.dumps(
        cbor2.CBORTag(SIGN1_TAG, [protected_bytes, unprotected, payload, signature])
    )


def protected_header(alg: int, kid: bytes | None) -> bytes:
    header: dict[int, Any] = {HDR_ALG: alg}
    if kid is not None:
        header[HDR_KID] = kid
    return cbor2.dumps(header)
