"""Strict CBOR decoding for untrusted bytes: one item, nothing after it.

cbor2.loads stops after the first item and ignores the rest, so two different byte
strings would decode to the same code. A signed code with trailing bytes is corrupted,
and this module says so. Input size is bounded by the caller (envelope.MAX_COSE).
"""

from __future__ import annotations

import io
from typing import Any

import cbor2


class CborError(ValueError):
    """Bytes that are not exactly one well-formed CBOR item."""


def loads_exact(data: bytes) -> Any:
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CborError(str(exc)[:120]) from None
    if stream.tell() != len(data):
        raise CborError(f"{len(data) - stream.tell()} bytes after the CBOR item")
    return item
