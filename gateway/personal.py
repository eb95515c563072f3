"""Personal data at rest: the gateway keeps keyed hashes and masked forms, not the clear.

ID numbers and code tokens are stored as HMAC-SHA256 under a key that lives in the
gateway's config, never in the database, so a stolen database file names nobody; the
same person still hashes to the same value, which is all tracing needs. The masked form
is what the console shows.
"""

from __future__ import annotations

import hashlib
import hmac



class Pseudonymiser:
    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def subject(self, method: str, credential: str) -> str:
        """Stable keyed hash of the person behind a credential."""
        normal = credential.strip().upper() if method == "id_card" else credential.strip()
        digest = hmac.new(self._key, f"{method}:{normal}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def mask(method: str, credential: str) -> str:
    """410***********1234 for ID numbers; the last 4 characters of a code, for codes."""
    if method == "id_card":
        if len(credential) <= 7:
            return "*" * len(credential)
        return credential[:3] + "*" * (len(credential) - 7) + credential[-4:]
    return "…" + credential[-4:] if len(credential) > 4 else "****"


def mask_name(name: str | None) -> str | None:
    """张*明: first and last character kept; a two-character name keeps the first."""
    if not name:
        return None
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
