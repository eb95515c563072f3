"""Who may call what over HTTP, and the headers every response carries.

Without a console session only the liveness check (`/healthz`) and the sign-in page with
its static assets answer; the API documentation routes do not exist. Besides staff,
two kinds of callers are let in, each by its own rule:

- kiosks, for their update and time routes (gateway/release.py): from loopback (the
  demo, a kiosk on the gateway machine), or with HTTP Basic credentials that are the
  kiosk's own broker login, checked against the broker's password file
  (`http.kiosk_password_file`, the file provisioning writes; a revoked kiosk is gone
  from it). A kiosk may ask only about itself.
- a metrics scraper, for `/metrics`: from loopback, or with `Authorization: Bearer
  <http.metrics_token>`.

The client address is the TCP peer (uvicorn runs without proxy headers: there is no
proxy in front of a site gateway), so "loopback" cannot be claimed in a header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request

from firmware import protocol

# The console page loads only its own files and talks only to its own origin; no inline
# script or style anywhere (gateway/static/), so none is allowed. No framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, errors included (a
    plain ASGI wrapper, so streamed responses such as the live feed are not buffered)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = HEADERS + ([HSTS] if scope.get("scheme") == "https" else [])

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in extra if name not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _config(request: Request):
    return request.app.state.gateway.config.http


@dataclass(frozen=True, slots=True)
class KioskCaller:
    kiosk: str | None  # None: a loopback caller, who may ask about any kiosk


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        name, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if sep else None


def _broker_hash(password_file: Path, name: str) -> str | None:
    try:
        lines = password_file.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        user, sep, encoded = line.partition(":")
        if sep and user == name:
            return encoded
    return None


def _check_broker_password(secret: str, encoded: str) -> bool:
    """Mosquitto's $7$ format (PBKDF2-HMAC-SHA512), as provisioning/broker_files.py writes it."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except (ValueError, binascii.Error):
        return False
    if not 1 <= iterations <= 1_000_000:
        return False
    got = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations, len(digest))
    return secrets.compare_digest(got, digest)


async def kiosk(request: Request) -> KioskCaller:
    """Route dependency for what kiosks call: loopback, or a kiosk's broker login."""
    if from_loopback(request):
        return KioskCaller(None)
    password_file = _config(request).kiosk_password_file
    credentials = _basic(request)
    if credentials is not None and password_file is not None:
        name, password = credentials
        try:
            protocol.check_name(name, "kiosk")
        except protocol.ProtocolError:
            name = ""
        encoded = _broker_hash(password_file, name) if name and name != "gateway" else None
        if encoded is not None and _check_broker_password(password, encoded):
            return KioskCaller(name)
    raise HTTPException(401, "kiosk credentials required",
                        headers={"WWW-Authenticate": 'Basic realm="placecode-kiosk"'})


async def metrics_scraper(request: Request) -> None:
    """Route dependency for /metrics: loopback, or the configured bearer token."""
    if from_loopback(request):
        return
    token = _config(request).metrics_token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" \
            and secrets.compare_digest(value.encode(), token.encode()):
        return
    raise HTTPException(401, "metrics need a bearer token or a loopback client",
                        headers={"WWW-Authenticate": "Bearer"})
