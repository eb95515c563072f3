"""Personal data at rest: the gateway keeps keyed hashes and masked forms, not the clear.

ID numbers and code tokens are stored as HMAC-SHA256 under a key that lives in the
gateway's config, never in the database, so a stolen database file names nobody; the
same person still hashes to the same value, which is all tracing needs. The masked form
is what the console shows.
"""

from __future__ import annotations

import hashlib
import hmac

from firmware import privacy


class Pseudonymiser:
    def __init__(self, key: str) -> None:
        self._key = key.encode()

    @property
    def key(self) -> bytes:
        return self._key

    def subject(self, method: str, credential: str) -> str:
        """Stable keyed hash of the person behind a credential."""
        normal = credential.strip().upper() if method == "id_card" else credential.strip()
        digest = hmac.new(self._key, f"{method}:{normal}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def mask(method: str, credential: str) -> str:
    """410***********1234 for ID numbers; the last 4 characters of a code's text."""
    if method == "id_card":
        return privacy.mask_id_number(credential)
    return "…" + credential[-4:] if len(credential) > 8 else "****"


def mask_name(name: str | None) -> str | None:
    """张*明 (firmware/privacy.py, shared with the kiosk)."""
    return privacy.mask_name(name) if name else None
