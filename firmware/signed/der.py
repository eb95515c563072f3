"""A lenient reader for the few X.509 fields a verifier needs, for certificates whose
encoding `cryptography` refuses.

`cryptography` parses strictly by DER: a certificate that encodes a DEFAULT value
(`BasicConstraints` with an explicit `cA FALSE`), uses a long-form length where a short
one would do, or a BER-only form, is refused when it is loaded or, lazily, when its
extensions are first read. Issuers publish such certificates, and the codes they sign
are valid. Trust in a signer certificate here does not come from its encoding nor from
its own signature (it is on the trust list because the site put it there), so reading it
leniently costs nothing in safety, while the fields that matter stay strict: the public
key must load as a well-formed SubjectPublicKeyInfo, validity times must parse, and the
key usage and extended key usage are applied exactly as for a canonical certificate.

Only definite lengths are accepted (X.509 is never sent with indefinite ones), sizes are
bounded by the input, and nesting is bounded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MAX_DEPTH = 16

SEQUENCE, SET, OID, OCTETS, BITS, BOOLEAN, INTEGER = 0x30, 0x31, 0x06, 0x04, 0x03, 0x01, 0x02
UTC_TIME, GENERALIZED_TIME = 0x17, 0x18


class DerError(ValueError):
    """Bytes that are not a readable certificate, even leniently."""


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes
    raw: bytes  # the whole element, header included

    def children(self) -> list[Tlv]:
        return read_all(self.value)


def read(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    """One element at `pos` (single-byte tags, definite lengths, short or long form)."""
    if pos + 2 > len(data):
        raise DerError("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used in certificates")
    first = data[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length")
    else:
        n = first & 0x7F
        if n > 4 or start + n > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[start : start + n], "big")
        start += n
    end = start + length
    if end > len(data):
        raise DerError("truncated")
    return Tlv(tag, data[start:end], data[pos:end]), end


def read_all(data: bytes) -> list[Tlv]:
    out, pos = [], 0
    while pos < len(data):
        item, pos = read(data, pos)
        out.append(item)
    return out


def oid_text(value: bytes) -> str:
    if not value or value[-1] & 0x80:
        raise DerError("bad object identifier")
    arcs, n = [], 0
    for byte in value:
        n = (n << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(n)
            n = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def time_value(item: Tlv) -> dt.datetime:
    text = item.value.decode("ascii", "replace")
    try:
        if item.tag == UTC_TIME:
            moment = dt.datetime.strptime(text, "%y%m%d%H%M%SZ")
        elif item.tag == GENERALIZED_TIME:
            moment = dt.datetime.strptime(text, "%Y%m%d%H%M%SZ")
        else:
            raise DerError("validity is not a time")
    except ValueError:
        raise DerError(f"unreadable time {text[:20]!r}") from None
    return moment.replace(tzinfo=dt.UTC)


_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
}


@dataclass(frozen=True, slots=True)
class CertFields:
    spki: bytes  # the SubjectPublicKeyInfo element, to be loaded strictly
    not_before: dt.datetime
    not_after: dt.datetime
    country: str | None
    subject: str
    extensions: dict[str, tuple[bool, bytes]]  # OID -> (critical, extnValue contents)


def certificate_fields(data: bytes) -> CertFields:
    """The fields of an X.509 certificate a verifier uses, read without DER strictness."""
    cert, end = read(data)
    if cert.tag != SEQUENCE or end != len(data):
        raise DerError("not one certificate")
    parts = cert.children()
    if len(parts) != 3 or parts[0].tag != SEQUENCE:
        raise DerError("certificate is not tbs, algorithm, signature")
    tbs = parts[0].children()
    if tbs and tbs[0].tag == 0xA0:  # [0] version
        tbs = tbs[1:]
    if len(tbs) < 6:
        raise DerError("tbsCertificate too short")
    _serial, _alg, _issuer, validity, subject, spki = tbs[:6]
    if validity.tag != SEQUENCE or subject.tag != SEQUENCE or spki.tag != SEQUENCE:
        raise DerError("tbsCertificate fields out of order")
    times = validity.children()
    if len(times) != 2:
        raise DerError("validity is not two times")
    country, names = None, []
    for rdn in subject.children():
        for attr in rdn.children():
            pair = attr.children()
            if len(pair) >= 2 and pair[0].tag == OID:
                oid = oid_text(pair[0].value)
                value = pair[1].value.decode("utf-8", "replace")
                names.append(f"{_SHORT_NAMES.get(oid, oid)}={value}")
                if oid == "2.5.4.6":
                    country = value
    extensions: dict[str, tuple[bool, bytes]] = {}
    for extra in tbs[6:]:
        if extra.tag != 0xA3:  # [3] extensions; [1]/[2] unique ids are skipped
            continue
        inner = extra.children()
        if len(inner) != 1 or inner[0].tag != SEQUENCE:
            raise DerError("extensions are not a sequence")
        seq = inner[0]
        for ext in seq.children():
            fields = ext.children()
            if len(fields) < 2 or fields[0].tag != OID or fields[-1].tag != OCTETS:
                raise DerError("malformed extension")
            critical = len(fields) == 3 and fields[1].tag == BOOLEAN and fields[1].value != b"\0"
            oid = oid_text(fields[0].value)
            if oid in extensions:
                raise DerError(f"extension {oid} twice")
            extensions[oid] = (critical, fields[-1].value)
    return CertFields(
        spki.raw,
        time_value(times[0]),
        time_value(times[1]),
        country,
        ",".join(reversed(names))[:128],  # RFC 4514 order, as cryptography writes it
        extensions,
    )


def extended_key_usage(value: bytes) -> list[str]:
    seq, _ = read(value)
    if seq.tag != SEQUENCE:
        raise DerError("extended key usage is not a sequence")
    return [oid_text(item.value) for item in seq.children() if item.tag == OID]


def key_usage_digital_signature(value: bytes) -> bool:
    """Bit 0 (digitalSignature) of a KeyUsage BIT STRING."""
    bits, _ = read(value)
    if bits.tag != BITS or len(bits.value) < 1:
        raise DerError("key usage is not a bit string")
    return len(bits.value) > 1 and bool(bits.value[1] & 0x80)


# --- writing, for the key tools (tests build non-canonical certificates with it) --------


def encode(tag: int, value: bytes, long_form: bool = False) -> bytes:
    """One element; `long_form` writes the length in the long form even when short."""
    n = len(value)
    if n < 0x80 and not long_form:
        return bytes([tag, n]) + value
    size = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return bytes([tag, 0x80 | len(size)]) + size + value
