"""Strict CBOR decoding for untrusted bytes: one item, nothing after it, no map that
holds the same key twice.

cbor2.loads stops after the first item and ignores the rest, and keeps the last of two
equal map keys, so different byte strings would decode to the same code and a signed map
could say two things at once (which one a verifier sees depends on its library). Both
are refused here: the bytes are walked once (item structure, lengths, nesting depth and
map keys) before cbor2 builds the values. Tags are left to cbor2, so standard tagged
values (tag 0/1 date/time and others) come out as Python objects for the caller to judge.
Input size is bounded by the caller (envelope.MAX_COSE).
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

MAX_DEPTH = 32


class CborError(ValueError):
    """Bytes that are not exactly one well-formed CBOR item with unique map keys."""


def loads_exact(data: bytes) -> Any:
    end = _walk(data, 0, 0)
    if end != len(data):
        raise CborError(f"{len(data) - end} bytes after the CBOR item")
    stream = io.BytesIO(data)
    try:
        return cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CborError(str(exc)[:120]) from None


def _head(data: bytes, pos: int) -> tuple[int, int, int | None, int]:
    """(major type, additional info, argument or None if indefinite, next position)."""
    if pos >= len(data):
        raise CborError("truncated")
    first = data[pos]
    major, info = first >> 5, first & 0x1F
    pos += 1
    if info < 24:
        return major, info, info, pos
    if info <= 27:
        size = 1 << (info - 24)
        if pos + size > len(data):
            raise CborError("truncated")
        return major, info, int.from_bytes(data[pos : pos + size], "big"), pos + size
    if info == 31 and major in (2, 3, 4, 5, 7):
        return major, info, None, pos
    raise CborError(f"reserved additional information {info}")


def _walk(data: bytes, pos: int, depth: int) -> int:
    """Check one item starting at `pos`; return the position after it."""
    if depth > MAX_DEPTH:
        raise CborError("nested too deep")
    major, _, arg, pos = _head(data, pos)
    if major in (0, 1):
        return pos
    if major in (2, 3):
        if arg is not None:
            if pos + arg > len(data):
                raise CborError("truncated string")
            return pos + arg
        while True:  # indefinite string: definite chunks of the same type, then break
            if pos < len(data) and data[pos] == 0xFF:
                return pos + 1
            chunk_major, _, chunk_len, pos = _head(data, pos)
            if chunk_major != major or chunk_len is None:
                raise CborError("bad chunk in an indefinite-length string")
            if pos + chunk_len > len(data):
                raise CborError("truncated string")
            pos += chunk_len
    if major == 4:
        if arg is not None and arg > len(data) - pos:
            raise CborError("array longer than the input")
        count = 0
        while arg is None or count < arg:
            if arg is None and pos < len(data) and data[pos] == 0xFF:
                return pos + 1
            pos = _walk(data, pos, depth + 1)
            count += 1
        return pos
    if major == 5:
        if arg is not None and 2 * arg > len(data) - pos:
            raise CborError("map longer than the input")
        seen: set = set()
        count = 0
        while arg is None or count < arg:
            if arg is None and pos < len(data) and data[pos] == 0xFF:
                return pos + 1
            start = pos
            pos = _walk(data, pos, depth + 1)
            key = _key_identity(data[start:pos])
            if key in seen:
                raise CborError("map holds a key twice")
            seen.add(key)
            pos = _walk(data, pos, depth + 1)
            count += 1
        return pos
    if major == 6:
        return _walk(data, pos, depth + 1)
    # major 7: simple values and floats; the argument bytes were consumed by _head
    if arg is None:
        raise CborError("unexpected break")
    return pos


def _key_identity(raw: bytes) -> Any:
    """What makes two map keys the same key: the decoded value with its type (1, 1.0 and
    True differ), so a key written in two encodings (0x01 and 0x18 0x01) still collides.
    Integers and definite-length strings (nearly every key) are read here directly."""
    major, _, arg, pos = _head(raw, 0)
    if major in (0, 1) and pos == len(raw):
        return ("int", arg if major == 0 else -1 - arg)  # type: ignore[operator]
    if major in (2, 3) and arg is not None and pos + arg == len(raw):
        return ("bytes" if major == 2 else "str", raw[pos:])
    try:
        value = cbor2.loads(raw)
    except Exception:  # an undecodable key is caught by the full decode
        return ("raw", raw)
    try:
        hash(value)
    except TypeError:
        return ("raw", raw)
    return (type(value).__name__, value)
