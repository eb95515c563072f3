"""The outer layers of a signed code: context prefix, Base45 text and zlib compression.

These layers carry no trust at all; they are undone first and as cheaply as possible so
the signature check can run on the COSE bytes. The decompressed size is bounded, so a
crafted code (a "zip bomb" in a QR symbol) cannot make the kiosk allocate megabytes.
"""

from __future__ import annotations

import zlib

from . import base45

PREFIX = "HC1:"
MAX_TEXT = 8192  # chars; the largest QR symbol holds 4296 alphanumeric characters
MAX_COSE = 16384  # bytes after decompression


class EnvelopeError(ValueError):
    """The text is not a well-formed HC1 code; `reason` is a short code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


def unwrap(text: str) -> bytes:
    """HC1 text -> COSE bytes. Raises EnvelopeError('not_signed_code' | 'corrupted')."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise EnvelopeError("not_signed_code", "no HC1: prefix")
    body = text[len(PREFIX) :]
    if len(body) > MAX_TEXT:
        raise EnvelopeError("corrupted", "text longer than any QR symbol")
    try:
        raw = base45.decode(body)
    except base45.Base45Error as exc:
        raise EnvelopeError("corrupted", f"base45: {exc}") from None
    if raw[:1] != b"\x78":  # no zlib header: the spec allows uncompressed COSE
        return raw
    inflater = zlib.decompressobj()
    try:
        cose = inflater.decompress(raw, MAX_COSE + 1)
    except zlib.error as exc:
        raise EnvelopeError("corrupted", f"zlib: {exc}") from None
    if len(cose) > MAX_COSE:
        raise EnvelopeError("corrupted", f"decompresses past {MAX_COSE} bytes")
    if not inflater.eof:
        raise EnvelopeError("corrupted", "zlib: truncated stream")
    if inflater.unused_data:
        raise EnvelopeError("corrupted", "bytes after the zlib stream")
    return cose


def wrap(cose: bytes) -> str:
    """COSE bytes -> HC1 text (used by the key tool and tests)."""
    return PREFIX + base45.encode(zlib.compress(cose, 9))
