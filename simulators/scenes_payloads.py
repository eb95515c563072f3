"""Payloads that look like what people really hold up at the door.

Decode tests are only honest if the QR codes have the size and character mix of real
ones: a platform URL with a 32-character token is a version 4-5 byte-mode code, while a
signed offline code ("HC1:" + ~200 base45 characters) is a denser alphanumeric code. The
non-health payloads are what staff saw people show by mistake: payment codes and venue
posters. Random base45 stands in for a real COSE signature; the decoder never checks it.
"""

from __future__ import annotations

import functools
import string

import numpy as np

BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"
TOKEN_CHARS = string.ascii_letters + string.digits
DEMO_URL = "https://hc.henan.example/yk/v1?t="


def token(rng: np.random.Generator, n: int = 32) -> str:
    return "".join(TOKEN_CHARS[i] for i in rng.integers(0, len(TOKEN_CHARS), n))


def health_url(rng: np.random.Generator) -> str:
    """An online health code as the demo platform issues it (classify.py matches it)."""
    return DEMO_URL + token(rng)


def signed_code(rng: np.random.Generator, length: int = 200) -> str:
    """An offline signed code: 'HC1:' + base45 text, about 200 characters in all."""
    body = "".join(BASE45[i] for i in rng.integers(0, len(BASE45), length - 4))
    return "HC1:" + body


def not_health(rng: np.random.Generator) -> str:
    """A QR code that is not a health code: payment code, venue poster, random link."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return "https://qr.alipay.com/" + token(rng, 22).lower()
    if kind == 1:
        return "wxp://f2f0" + token(rng, 28)
    return "https://venue.example.cn/poster?id=" + str(int(rng.integers(10**5, 10**6)))


def health_payload(rng: np.random.Generator, signed_share: float = 0.4) -> str:
    return signed_code(rng) if rng.random() < signed_share else health_url(rng)


@functools.lru_cache(maxsize=256)
def qr_modules(payload: str) -> np.ndarray:
    """The module matrix (1 = dark) with the standard 4-module quiet zone, as uint8."""
    import segno

    error = "q" if payload.startswith("HC1:") else "m"
    qr = segno.make_qr(payload, error=error, boost_error=False)
    matrix = np.array(qr.matrix, dtype=np.uint8)
    padded = np.pad(matrix, 4)
    padded.flags.writeable = False  # shared through the cache
    return padded
