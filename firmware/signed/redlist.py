"""The red list: identifiers that must not pass when the kiosk decides on its own.

Revoked certificates (their UVCI or their exact signature) and people whose status is
red (ID-card numbers) are distributed to every kiosk, but a plain list of ID numbers on
every door would be a leak. Each identifier is therefore stored as HMAC-SHA256 keyed
with a per-list random salt, truncated to 16 bytes. Honest limit: the salt travels with
the list, so anyone holding a kiosk can still test a guessed identifier; ID numbers have
little entropy, so this stops casual reading and cross-list linking (a new salt each
version), not a determined attacker with the device.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cose
from .signedlist import DocumentError, Header, SignedStore, b64decode

TYPE = "placecode.red-list"
KINDS = ("uvci", "id", "sig")  # certificate id, ID-card number, hex of a code's signature
HASH_LEN = 16
SALT_LEN = 16
MAX_ENTRIES = 1_000_000


def normalise(kind: str, identifier: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown red-list kind {kind!r}")
    value = identifier.strip()
    return value.lower() if kind == "sig" else value.upper()


def entry_hash(salt: bytes, kind: str, identifier: str) -> bytes:
    msg = (kind + ":" + normalise(kind, identifier)).encode("utf-8")
    return hmac.new(salt, msg, hashlib.sha256).digest()[:HASH_LEN]


@dataclass(frozen=True, slots=True)
class RedList:
    version: int
    salt: bytes
    hashes: frozenset[bytes]
    site: str = ""
    issued: int = 0

    def contains(self, kind: str, identifier: str | None) -> bool:
        if not identifier:
            return False
        return entry_hash(self.salt, kind, identifier) in self.hashes

    def __len__(self) -> int:
        return len(self.hashes)

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE,
            "v": 1,
            "site": self.site,
            "version": self.version,
            "issued": self.issued,
            "salt": base64.b64encode(self.salt).decode(),
            "hashes": sorted(base64.b64encode(h).decode() for h in self.hashes),
        }


def parse(header: Header, body: dict[str, Any]) -> RedList:
    salt = b64decode(body.get("salt"), "salt", SALT_LEN)
    hashes = body.get("hashes")
    if not isinstance(hashes, list) or len(hashes) > MAX_ENTRIES:
        raise DocumentError("malformed", "hashes must be a list")
    return RedList(
        header.version,
        salt,
        frozenset(b64decode(h, "hash", HASH_LEN) for h in hashes),
        header.site,
        header.issued,
    )


def store(path: Path | str, roots: Iterable[cose.PublicKey], site: str | None) -> SignedStore:
    """The kiosk's red list: feed it every message of placecode/<site>/trust/redlist."""
    return SignedStore(path, roots, TYPE, parse, site)
