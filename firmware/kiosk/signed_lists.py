"""The kiosk's end of list distribution: which MQTT topics carry the signed lists, and one
object that holds both lists, takes each message and reports their state.

Kept free of any MQTT library so the kiosk orchestrator can feed it from whatever client
it runs: subscribe to topics() (QoS 1; the messages are retained, so a kiosk that starts
or reconnects gets the current lists at once) and pass every message to handle().
status() is what the kiosk adds to its retained status so the console can show each
kiosk's list versions and their age.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from firmware import protocol
from firmware.signed import cose, redlist, trustlist
from firmware.signed.signedlist import Offer, SignedStore


def load_root_keys(path: Path | str) -> list[cose.PublicKey]:
    """Site root public keys from a PEM file holding one or more keys (rotation)."""
    keys: list[cose.PublicKey] = []
    marker = b"-----END PUBLIC KEY-----"
    for block in Path(path).read_bytes().split(marker):
        if b"-----BEGIN PUBLIC KEY-----" in block:
            key = serialization.load_pem_public_key(block.strip() + b"\n" + marker + b"\n")
            if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
                raise ValueError(f"{path}: root key is neither EC nor RSA")
            keys.append(key)
    if not keys:
        raise ValueError(f"{path}: no PEM public key")
    return keys


class KioskLists:
    """Trust list and red list of one kiosk, kept in `data_dir` across restarts."""

    def __init__(self, data_dir: Path | str, roots: Iterable[cose.PublicKey], site: str) -> None:
        roots = list(roots)
        data = Path(data_dir)
        self.site = site
        self.trust: SignedStore[trustlist.TrustList] = trustlist.store(
            data / "trust-list.cose", roots, site
        )
        self.red: SignedStore[redlist.RedList] = redlist.store(data / "red-list.cose", roots, site)

    def topics(self) -> list[str]:
        return [protocol.trust_list_topic(self.site), protocol.red_list_topic(self.site)]

    def handle(self, topic: str, payload: bytes) -> Offer | None:
        """Offer one received message to the list it belongs to; None if not ours."""
        if topic == protocol.trust_list_topic(self.site):
            return self.trust.offer(payload)
        if topic == protocol.red_list_topic(self.site):
            return self.red.offer(payload)
        return None

    def status(self, now: float) -> dict[str, Any]:
        def one(store: SignedStore) -> dict[str, Any]:
            header = store.header
            age = store.age_s(now)
            return {
                "version": header.version if header else None,
                "age_s": int(age) if age is not None else None,
                "load_error": store.load_error,
                "rejected": dict(store.rejected),
            }

        return {"trust_list": one(self.trust), "red_list": one(self.red)}
