"""Personal data at rest: the gateway keeps keyed hashes and masked forms, not the clear.

ID numbers and code tokens are stored as HMAC-SHA256 under a key that lives in the
gateway's config, never in the database, so a stolen database file names nobody; the
same person still hashes to the same value, which is all tracing needs. The masked form
is what the console shows.
"""

from __future__ import annotations

import hashlib
import hmac

from firmware import manual_id, privacy


def identity(method: str, credential: str) -> tuple[str, str]:
    """(kind, value) of the person a credential names, as the platform and tracing know
    them: an ID number keyed in by staff is the same person as that ID card read by a
    kiosk; a passport is its nationality and number; a phone number is itself."""
    if method != "manual":
        return method, credential
    document, number, nationality = manual_id.parse(credential)
    if document == manual_id.ID_NUMBER:
        return "id_card", number
    if document == manual_id.PASSPORT:
        return "passport", f"{nationality}:{number}"
    return "phone", number


class Pseudonymiser:
    def __init__(self, key: str) -> None:
        self._key = key.encode()

    @property
    def key(self) -> bytes:
        return self._key

    def subject(self, method: str, credential: str) -> str:
        """Stable keyed hash of the person behind a credential."""
        method, credential = identity(method, credential)
        normal = credential.strip().upper() if method == "id_card" else credential.strip()
        digest = hmac.new(self._key, f"{method}:{normal}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def mask(method: str, credential: str) -> str:
    """410***********1234 for ID numbers; USA *******78 for a passport; 138****5678 for a
    phone; the last 4 characters of a code's text."""
    method, credential = identity(method, credential)
    if method == "id_card":
        return privacy.mask_id_number(credential)
    if method == "passport":
        nationality, _, number = credential.partition(":")
        return f"{nationality} {privacy.mask_document_number(number)}"
    if method == "phone":
        return privacy.mask_phone(credential)
    return "…" + credential[-4:] if len(credential) > 8 else "****"


def mask_name(name: str | None) -> str | None:
    """张*明 (firmware/privacy.py, shared with the kiosk)."""
    return privacy.mask_name(name) if name else None
