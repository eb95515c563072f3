"""Shared keys for the signed-code tests, made once per session (RSA keys are slow); no tests."""

from __future__ import annotations

import functools
import time

from provisioning import keys

NOW = time.time()


@functools.cache
def issuer(name: str = "es", alg: str = "ES256", usage: tuple[str, ...] | None = None):
    return keys.new_issuer("CN", alg, usage, not_before=NOW - 86400 * 30, name="test " + name)


@functools.cache
def root(name: str = "root"):
    return keys.new_private_key("ES256")
