"""Sign-in, sessions, roles and CSRF for the console.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps
only its SHA-256, so a copied database file opens no session. Sessions end at a fixed
time after sign-in (config `console.session_minutes`) or on sign-out. Every request that
changes something must also carry the session's CSRF token in `X-CSRF-Token`, which a
page on another origin cannot read. Roles map to permissions in one table, here.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

import aiosqlite
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from firmware import schema
from gateway import users

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
"""
COMPONENT = schema.Component("console_sessions", SCHEMA)  # version 1; later: migrations

COOKIE = "pc_session"
PERMISSIONS: dict[str, frozenset[str]] = {
    # live: masked entries and alerts; ack: acknowledge alerts; kiosks; counts (aggregates)
    "duty": frozenset({"live", "ack", "kiosks", "counts"}),
    "manager": frozenset({"live", "ack", "kiosks", "counts", "report", "audit", "feed_counts"}),
    # The health authority traces; it does not watch the door.
    "tracer": frozenset({"trace"}),
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    role: str
    csrf: str
    expires_ms: int

    @property
    def permissions(self) -> frozenset[str]:
        return PERMISSIONS[self.role]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


LOCK_AFTER = 5  # failed sign-ins for one name ...
LOCK_WINDOW_MS = 10 * 60_000  # ... within this long lock the name for as long


class Locked(Exception):
    pass


class Sessions:
    def __init__(self, db: aiosqlite.Connection, lifetime_minutes: int) -> None:
        self.db = db
        self.lifetime_ms = lifetime_minutes * 60_000
        self._failures: dict[str, list[int]] = {}  # name -> times of recent failures

    def _locked(self, name: str, at: int) -> bool:
        recent = [t for t in self._failures.get(name, []) if at - t < LOCK_WINDOW_MS]
        self._failures[name] = recent
        return len(recent) >= LOCK_AFTER

    async def sign_in(self, name: str, password: str) -> tuple[str, Principal] | None:
        """A session for a right name and password; None if wrong; Locked after
        LOCK_AFTER wrong passwords for the name in LOCK_WINDOW_MS (guessing stops)."""
        if self._locked(name, now_ms()):
            raise Locked(name)
        principal = await self._check(name, password)
        if principal is None:
            if len(self._failures) > 10_000:  # names guessed at random must not fill memory
                self._failures.clear()
            self._failures.setdefault(name, []).append(now_ms())
            return None
        self._failures.pop(name, None)
        return principal

    async def _check(self, name: str, password: str) -> tuple[str, Principal] | None:
        async with self.db.execute(
            "SELECT role, pw_hash FROM console_users WHERE name=? AND disabled=0", (name,)
        ) as cur:
            row = await cur.fetchone()
        ok = await asyncio.to_thread(users.verify, row[1] if row else None, password)
        if not (ok and row):
            return None
        token, at = secrets.token_urlsafe(32), now_ms()
        principal = Principal(name, row[0], secrets.token_urlsafe(24), at + self.lifetime_ms)
        await self.db.execute(
            "INSERT INTO console_sessions (token_hash, user, role, csrf, created_ms, expires_ms) "
            "VALUES (?,?,?,?,?,?)",
            (_digest(token), name, principal.role, principal.csrf, at, principal.expires_ms),
        )
        return token, principal

    async def lookup(self, token: str | None) -> Principal | None:
        if not token:
            return None
        async with self.db.execute(
            "SELECT s.user, s.role, s.csrf, s.expires_ms FROM console_sessions s "
            "JOIN console_users u ON u.name = s.user AND u.role = s.role AND u.disabled = 0 "
            "WHERE s.token_hash=? AND s.expires_ms > ?",
            (_digest(token), now_ms()),
        ) as cur:
            row = await cur.fetchone()
        return Principal(*row) if row else None

    async def sign_out(self, token: str) -> None:
        await self.db.execute("DELETE FROM console_sessions WHERE token_hash=?", (_digest(token),))

    async def drop_expired(self) -> None:
        await self.db.execute("DELETE FROM console_sessions WHERE expires_ms <= ?", (now_ms(),))


def _console(request: Request):
    return request.app.state.gateway.console


async def current(request: Request) -> Principal:
    principal = await _console(request).sessions.lookup(request.cookies.get(COOKIE))
    if principal is None:
        raise HTTPException(401, "sign-in required")
    if request.method in UNSAFE:
        sent = request.headers.get("x-csrf-token", "")
        if not secrets.compare_digest(sent.encode(), principal.csrf.encode()):
            raise HTTPException(403, "missing or wrong CSRF token")
    return principal


def need(permission: str):
    """Route dependency: a signed-in user whose role grants `permission`."""

    async def check(principal: Annotated[Principal, Depends(current)]) -> Principal:
        if permission not in principal.permissions:
            raise HTTPException(403, f"role {principal.role} may not {permission}")
        return principal

    return check


class SignIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


router = APIRouter()


def _me(principal: Principal) -> dict:
    return {"user": principal.user, "role": principal.role, "csrf": principal.csrf,
            "expires_ms": principal.expires_ms, "permissions": sorted(principal.permissions)}


@router.post("/api/sign-in")
async def sign_in(body: SignIn, request: Request, response: Response) -> dict:
    console = _console(request)
    try:
        result = await console.sessions.sign_in(body.name, body.password)
    except Locked:
        await console.audit.record(body.name[:64], "-", "sign_in_locked")
        raise HTTPException(429, "too many wrong passwords: try again in 10 minutes") from None
    if result is None:
        await console.audit.record(body.name[:64], "-", "sign_in_failed")
        raise HTTPException(401, "wrong name or password")
    token, principal = result
    await console.audit.record(principal.user, principal.role, "sign_in")
    response.set_cookie(
        COOKIE, token, max_age=console.sessions.lifetime_ms // 1000, httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )
    return _me(principal)


@router.post("/api/sign-out")
async def sign_out(request: Request, response: Response,
                   principal: Annotated[Principal, Depends(current)]) -> dict:
    console = _console(request)
    await console.sessions.sign_out(request.cookies.get(COOKIE, ""))
    await console.audit.record(principal.user, principal.role, "sign_out")
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/api/me")
async def me(principal: Annotated[Principal, Depends(current)]) -> dict:
    return _me(principal)
