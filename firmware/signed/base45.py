"""Base45 (RFC 9285), the text layer of HC1 codes.

QR alphanumeric mode packs 45 characters into 5.5 bits each, so a signed code printed as
Base45 text is a denser symbol than the same bytes as Base64 in byte mode. Decoding is
strict: a character outside the alphabet, a dangling single character or a triplet that
overflows 16 bits is an error, never silently repaired, because a repaired code is a
different code than the one the issuer signed.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """Text that is not valid Base45."""


def encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        n = data[-1]
        out += (ALPHABET[n % 45], ALPHABET[n // 45])
    return "".join(out)


def decode(text: str) -> bytes:
    if len(text) % 3 == 1:
        raise Base45Error(f"length {len(text)} leaves a single character")
    try:
        values = [_VALUE[ch] for ch in text]
    except KeyError as exc:
        raise Base45Error("character outside the Base45 alphabet") from exc
    out = bytearray()
    full = len(values) - len(values) % 3
    for i in range(0, full, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise Base45Error(f"triplet at {i} overflows 16 bits")
        out += n.to_bytes(2, "big")
    if full != len(values):
        n = values[full] + values[full + 1] * 45
        if n > 0xFF:
            raise Base45Error("final pair overflows 8 bits")
        out.append(n)
    return bytes(out)
