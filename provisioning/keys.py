"""Issuer keys, root keys and signing, for demos and tests: the issuer's side of signed
codes, kept out of the kiosk so no device ever holds a signing key it does not need.

Issuer keys come with a self-signed DSC-style certificate, because the EU format derives
the kid from the certificate (first 8 bytes of SHA-256 over its DER) and restricts what a
key may sign with extended key usage OIDs; the site root key signs the trust and red
lists the gateway distributes. Codes carry an EU-DCC-shaped payload with made-up people.
CLI: `python -m provisioning.keys --help` (see keys_cli.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from firmware.signed import cose, der, envelope, hcert, redlist, trustlist
from firmware.signed.signedlist import key_id
from firmware.signed.trustlist import EKU_TYPES, TrustedKey, TrustList

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_USAGE_OID = {t: oid for oid, t in EKU_TYPES.items() if ".0.1847" not in oid}


def new_private_key(alg: str = "ES256") -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "PS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError("alg must be ES256 or PS256")


def alg_of(key: PrivateKey) -> int:
    return cose.ES256 if isinstance(key, ec.EllipticCurvePrivateKey) else cose.PS256


@dataclass(frozen=True)
class Issuer:
    private_key: PrivateKey
    certificate: x509.Certificate

    @property
    def kid(self) -> bytes:
        return trustlist.key_from_certificate(self.certificate).kid

    def trusted_key(self) -> TrustedKey:
        return trustlist.key_from_certificate(self.certificate)


def new_issuer(
    country: str = "CN",
    alg: str = "ES256",
    usage: Iterable[str] | None = None,
    not_before: float | None = None,
    days: int = 730,
    name: str = "PlaceCode demo DSC",
) -> Issuer:
    """An issuer key and its self-signed DSC-style certificate; usage limits v/t/r."""
    key = new_private_key(alg)
    start = dt.datetime.fromtimestamp(
        time.time() - 86400 if not_before is None else not_before, dt.UTC
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
    )
    if usage is not None:
        oids = [x509.ObjectIdentifier(_USAGE_OID[t]) for t in sorted(set(usage))]
        builder = builder.add_extension(x509.ExtendedKeyUsage(oids), False)
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        cert = builder.sign(key, hashes.SHA256(), rsa_padding=pss)
    else:
        cert = builder.sign(key, hashes.SHA256())
    return Issuer(key, cert)


def noncanonical_certificate(issuer: Issuer, long_lengths: bool = False) -> bytes:
    """The issuer's certificate with a BasicConstraints extension that spells out its
    DEFAULT (cA FALSE), re-signed by the issuer: valid BER that is not DER, as some issuers
    publish. `cryptography` loads it and raises when its extensions are read; with
    `long_lengths` (long-form lengths where short ones fit) it refuses to load it at all.
    Sign codes for it with `kid=trustlist.kid_of(these bytes)`."""
    original = issuer.certificate.public_bytes(serialization.Encoding.DER)
    cert, _ = der.read(original)
    tbs, alg, _sig = cert.children()
    fields = tbs.children()
    explicit_default = der.encode(der.SEQUENCE, der.encode(der.BOOLEAN, b"\x00"))
    basic = der.encode(
        der.SEQUENCE,
        der.encode(der.OID, bytes.fromhex("551d13")) + der.encode(der.OCTETS, explicit_default),
    )
    rebuilt = []
    for field in fields:
        if field.tag == 0xA3:
            (seq,) = field.children()
            inner = b"".join(e.raw for e in seq.children()) + basic
            field_raw = der.encode(0xA3, der.encode(der.SEQUENCE, inner, long_form=long_lengths))
            rebuilt.append(field_raw)
        else:
            rebuilt.append(field.raw)
    tbs_raw = der.encode(der.SEQUENCE, b"".join(rebuilt))
    key = issuer.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(tbs_raw, ec.ECDSA(hashes.SHA256()))
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = key.sign(tbs_raw, pss, hashes.SHA256())
    return der.encode(der.SEQUENCE, tbs_raw + alg.raw + der.encode(der.BITS, b"\x00" + signature))


def sign_cose(key: PrivateKey, kid: bytes, payload: bytes, kid_protected: bool = True) -> bytes:
    """A tagged COSE_Sign1 over `payload` (ES256 for EC keys, PS256 for RSA keys)."""
    alg = alg_of(key)
    protected = cose.protected_header(alg, kid if kid_protected else None)
    to_be_signed = cose.sig_structure(protected, payload)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(to_be_signed, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = key.sign(to_be_signed, pss, hashes.SHA256())
    return cose.encode_sign1(alg, kid, payload, signature, kid_protected)


def sample_dcc(
    cert_type: str = "v", family: str = "Zhang", given: str = "Wei", dob: str = "1990-01-01"
) -> dict[str, Any]:
    """An EU-DCC-shaped object for a made-up person, with a fresh unique `ci`."""
    ci = "URN:UVCI:01:CN:" + base64.b32encode(os.urandom(10)).decode().rstrip("=")
    entry: dict[str, Any] = {"tg": "840539006", "co": "CN", "is": "PlaceCode demo", "ci": ci}
    if cert_type == "v":
        entry.update(vp="1119349007", mp="EU/1/20/1528", ma="ORG-100030215", dn=2, sd=2)
        entry["dt"] = "2021-06-01"
    elif cert_type == "t":
        entry.update(tt="LP6464-4", sc="2021-06-01T10:00:00Z", tr="260415000", tc="Demo lab")
    elif cert_type == "r":
        entry.update(fr="2021-05-01", df="2021-05-15", du="2021-11-01")
    else:
        raise ValueError("cert_type must be v, t or r")
    upper = {"fnt": family.upper(), "gnt": given.upper()}
    return {
        "ver": "1.3.0",
        "nam": {"fn": family, "gn": given, **upper},
        "dob": dob,
        cert_type: [entry],
    }


def sign_code(
    issuer: Issuer,
    dcc: dict[str, Any] | None = None,
    iat: float | None = None,
    exp: float | None = None,
    iss: str | None = "CN",
    kid_protected: bool = True,
    nbf: float | None = None,
    kid: bytes | None = None,
    float_times: bool = False,
) -> str:
    """An HC1: code text: base45(zlib(COSE_Sign1 over the CWT claims)). NumericDates are
    integers, or floats as sent (`float_times`, RFC 8392 allows both); `kid` overrides the
    one derived from the issuer's certificate (for a certificate published re-encoded)."""
    iat = time.time() if iat is None else iat
    exp = iat + 30 * 86400 if exp is None else exp
    as_time = float if float_times else int
    claims: dict[int, Any] = {hcert.IAT: as_time(iat), hcert.EXP: as_time(exp)}
    if iss is not None:
        claims[hcert.ISS] = iss
    if nbf is not None:
        claims[hcert.NBF] = as_time(nbf)
    claims[hcert.HCERT] = {hcert.DCC_V1: dcc if dcc is not None else sample_dcc()}
    kid = issuer.kid if kid is None else kid
    cose_bytes = sign_cose(issuer.private_key, kid, cbor2.dumps(claims), kid_protected)
    return envelope.wrap(cose_bytes)


def sign_document(root: PrivateKey, body: dict[str, Any]) -> bytes:
    """A signed trust or red list: COSE_Sign1 over the UTF-8 JSON body, kid = root key id."""
    payload = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return sign_cose(root, key_id(root.public_key()), payload)


def sign_trust_list(
    root: PrivateKey,
    site: str,
    version: int,
    keys: Iterable[TrustedKey | Issuer],
    issued: float | None = None,
) -> bytes:
    entries = tuple(k.trusted_key() if isinstance(k, Issuer) else k for k in keys)
    issued_at = int(time.time() if issued is None else issued)
    return sign_document(root, TrustList(version, entries, site, issued_at).body())


def sign_red_list(
    root: PrivateKey,
    site: str,
    version: int,
    entries: Iterable[tuple[str, str]],
    issued: float | None = None,
    salt: bytes | None = None,
) -> bytes:
    """entries: (kind, identifier) pairs, kind in uvci | id | sig; hashed here."""
    salt = os.urandom(redlist.SALT_LEN) if salt is None else salt
    hashes_ = frozenset(redlist.entry_hash(salt, kind, ident) for kind, ident in entries)
    issued_at = int(time.time() if issued is None else issued)
    return sign_document(root, redlist.RedList(version, salt, hashes_, site, issued_at).body())


# --- files ------------------------------------------------------------------------------


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: PrivateKey | cose.PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_secret(path: Path, data: bytes) -> None:
    """Private keys are created owner-read-only, never world-readable even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def load_private_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"{path}: not an EC or RSA private key")
    return key


def load_issuer(key_path: Path, cert_path: Path) -> Issuer:
    cert = trustlist.load_certificates(cert_path.read_bytes())[0]
    return Issuer(load_private_key(key_path), cert)


if __name__ == "__main__":
    from provisioning.keys_cli import main

    raise SystemExit(main())
