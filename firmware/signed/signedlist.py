"""Signed, versioned documents the gateway hands to kiosks (trust list, red list).

Both travel as a retained MQTT message: a COSE_Sign1 whose payload is a UTF-8 JSON
object with a `type`, the `site`, a `version` and an `issued` time, signed by a site
root key that was put on the kiosk when it was provisioned. The broker, the gateway
and the network are not trusted: a kiosk accepts a document only if a root key signed
it and its version is higher than the one it holds, so a replayed old list, an unsigned
one or one for another site changes nothing. The last accepted document is kept on disk
(written atomically) and re-verified at start, so a restart neither forgets the list nor
trusts a file someone edited.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives import serialization

from . import cose

T = TypeVar("T")
# bytes of a signed document; also the site broker's message size limit (gateway/broker/
# mosquitto.conf). A trust list of a few hundred keys is ~100 KB; a red list holds
# ~19,000 entries (16-byte hashes in base64) in this much.
MAX_DOCUMENT = 512 * 1024


class DocumentError(ValueError):
    """A document refused; `reason` is a short code for counters and the console."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


def key_id(key: cose.PublicKey) -> bytes:
    """Root key id: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER."""
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:8]


def b64decode(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or len(value) > 8192:
        raise DocumentError("malformed", f"{what} is not base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise DocumentError("malformed", f"{what} is not base64") from None
    if size is not None and len(raw) != size:
        raise DocumentError("malformed", f"{what} must be {size} bytes")
    return raw


def require_int(doc: Mapping, name: str, required: bool = True) -> int | None:
    value = doc.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DocumentError("malformed", f"{name} must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class Header:
    type: str
    site: str
    version: int
    issued: int


def open_document(
    payload: bytes, roots: Iterable[cose.PublicKey], doc_type: str, site: str | None
) -> tuple[Header, dict[str, Any]]:
    """Verify a signed document and return its header and JSON body, or DocumentError."""
    if not isinstance(payload, (bytes, bytearray)) or len(payload) > MAX_DOCUMENT:
        raise DocumentError("malformed", f"empty or larger than {MAX_DOCUMENT} bytes")
    payload = bytes(payload)
    if payload[:1] in (b"{", b"["):
        raise DocumentError("unsigned", "plain JSON without a COSE signature")
    try:
        msg = cose.decode_sign1(payload)
    except cose.CoseError as exc:
        reason = "unsigned" if exc.reason == "corrupted" else "bad_signature"
        raise DocumentError(reason, str(exc)) from None
    signers = [k for k in roots if key_id(k) == msg.kid]
    if not signers:
        raise DocumentError("unknown_signer", f"kid {msg.kid.hex()} is not a root key")
    if not any(cose.verify_signature(msg, k) for k in signers):
        raise DocumentError("bad_signature")
    try:
        body = json.loads(msg.payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DocumentError("malformed", "payload is not UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise DocumentError("malformed", "payload is not a JSON object")
    if body.get("type") != doc_type:
        raise DocumentError("wrong_type", str(body.get("type"))[:40])
    if body.get("v") != 1:
        raise DocumentError("malformed", "unknown format version")
    doc_site = body.get("site")
    if not isinstance(doc_site, str):
        raise DocumentError("malformed", "site missing")
    if site is not None and doc_site != site:
        raise DocumentError("wrong_site", doc_site[:64])
    version = require_int(body, "version")
    issued = require_int(body, "issued")
    assert version is not None and issued is not None
    return Header(doc_type, doc_site, version, issued), body


@dataclass(frozen=True, slots=True)
class Offer:
    accepted: bool  # True if the document now in force changed
    reason: str  # accepted | same_version | older_version | version_reused | unsigned | ...
    version: int | None  # version of the offered document, if it could be read


class SignedStore(Generic[T]):
    """Holds the newest good document of one type for one kiosk, on disk and in memory."""

    def __init__(
        self,
        path: Path | str,
        roots: Iterable[cose.PublicKey],
        doc_type: str,
        parse: Callable[[Header, dict[str, Any]], T],
        site: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.roots = list(roots)
        self.doc_type = doc_type
        self.site = site
        self._parse = parse
        self.current: T | None = None
        self.header: Header | None = None
        self._raw: bytes | None = None
        self.load_error: str | None = None
        self.rejected: dict[str, int] = {}
        self._load()

    def _open(self, payload: bytes) -> tuple[Header, T]:
        header, body = open_document(payload, self.roots, self.doc_type, self.site)
        return header, self._parse(header, body)

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            self.header, self.current = self._open(raw)
            self._raw = raw
        except DocumentError as exc:
            self.load_error = exc.reason  # a damaged or edited file is not trusted

    def offer(self, payload: bytes) -> Offer:
        """Consider a document received from the gateway (e.g. a retained MQTT message)."""
        try:
            header, doc = self._open(payload)
        except DocumentError as exc:
            return self._reject(exc.reason, None)
        if self.header is not None:
            if header.version < self.header.version:
                return self._reject("older_version", header.version)
            if header.version == self.header.version:
                if payload == self._raw:
                    return Offer(False, "same_version", header.version)
                return self._reject("version_reused", header.version)
        _write_atomically(self.path, payload)
        self.header, self.current, self._raw = header, doc, bytes(payload)
        self.load_error = None
        return Offer(True, "accepted", header.version)

    def _reject(self, reason: str, version: int | None) -> Offer:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        return Offer(False, reason, version)

    def age_s(self, now: float) -> float | None:
        """Seconds since the document in force was issued (the console shows it)."""
        return None if self.header is None else max(0.0, now - self.header.issued)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
