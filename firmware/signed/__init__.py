"""Signed offline codes (HC1: / EU DCC format): verified on the kiosk, without the network.

Entry points: verify.verify() judges one scanned text; trustlist.store() and
redlist.store() hold the signed lists the gateway distributes. See docs/signed-codes.md.
"""

from .redlist import RedList
from .trustlist import TrustedKey, TrustList
from .verify import REASONS, Result, verify

__all__ = ["REASONS", "RedList", "Result", "TrustList", "TrustedKey", "verify"]
