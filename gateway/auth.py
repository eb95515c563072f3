"""Sign-in, sessions, roles and CSRF for the console.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps
only its SHA-256, so a copied database file opens no session. Sessions end at a fixed
time after sign-in (config `console.session_minutes`) or on sign-out. Every request that
changes something must also carry the session's CSRF token in `X-CSRF-Token`, which a
page on another origin cannot read. Roles map to permissions in one table, here.

Wrong passwords are throttled per user name and per client address (`Throttle`): every
attempt is counted before the password hash is awaited, so parallel guesses all see the
count; past a few free failures each further one doubles a back-off, during which every
attempt, the right password too, is refused without being checked. The back-off ends by
itself (capped), a manager can end it early, and a right password clears the name.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
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
    # live: masked entries and alerts; ack: acknowledge alerts; kiosks; counts (aggregates);
    # units: the site's venues, shops and doors as the register has them;
    # register: register a visitor by hand, key in the paper register;
    # stand_duty: sign on and off at a door; open_gate: open it once after a manual check
    "duty": frozenset({"live", "ack", "kiosks", "counts", "units", "register", "stand_duty",
                       "open_gate"}),
    "manager": frozenset({"live", "ack", "kiosks", "counts", "units", "report", "audit",
                          "feed_counts", "unlock", "register", "stand_duty", "open_gate"}),
    # The health authority traces (venue-wide: it needs the units); it does not watch the door.
    "tracer": frozenset({"trace", "units"}),
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


log = logging.getLogger(__name__)


class Locked(Exception):
    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(retry_after_ms)
        self.retry_after_ms = retry_after_ms


@dataclass(slots=True)
class _Failures:
    count: int
    last_ms: int
    until_ms: int  # no attempt is checked before this


class Throttle:
    """Failed sign-ins per key ("user", name) or ("addr", address), with exponential
    back-off. Only synchronous methods: between `admit` and the awaited hash nothing else
    runs, so the count a parallel attempt sees includes every attempt before it.

    Memory is bounded (`max_keys`): a key is forgotten once its back-off is over and it
    has been quiet for `forget_ms`; when full, the oldest keys not in back-off make room;
    a key in back-off is never dropped. Full of back-offs (a guessing campaign across
    more than `max_keys` names and addresses), new keys are refused until some expire.
    """

    def __init__(self, free: int, base_ms: int, max_ms: int, max_keys: int = 10_000) -> None:
        self.free = free
        self.base_ms = base_ms
        self.max_ms = max_ms
        self.forget_ms = 4 * max_ms
        self.max_keys = max_keys
        self._keys: dict[tuple[str, str], _Failures] = {}

    def wait_ms(self, keys: list[tuple[tuple[str, str], int]], at: int) -> int:
        """How long until an attempt under all `keys` (key, free failures) is checked."""
        return max((self._keys[k].until_ms - at for k, _ in keys if k in self._keys), default=0)

    def admit(self, keys: list[tuple[tuple[str, str], int]], at: int) -> None:
        """Count an attempt as failed before it is checked (a right one is taken back with
        `succeeded`); raises Locked while any key is in back-off, or memory is full."""
        wait = self.wait_ms(keys, at)
        if wait > 0:
            raise Locked(wait)
        if not self._room(sum(1 for k, _ in keys if k not in self._keys), at):
            log.warning("sign-in throttle full of back-offs: refusing new names and addresses")
            raise Locked(self.base_ms)
        for key, free in keys:
            entry = self._keys.pop(key, None) or _Failures(0, at, 0)
            if at - entry.last_ms > self.forget_ms:
                entry.count = 0  # long quiet: an old mistake no longer counts
            entry.count += 1
            entry.last_ms = at
            self._back_off(entry, free, at)
            self._keys[key] = entry  # re-inserted: the dict stays ordered by last failure

    def failed(self, keys: list[tuple[tuple[str, str], int]], at: int) -> None:
        """A checked password was wrong: its back-off runs from now, not from its admission,
        so slow hashing (a busy gateway, many parallel guesses) does not use it up."""
        for key, free in keys:
            entry = self._keys.get(key)
            if entry is not None:
                self._back_off(entry, free, at)

    def _back_off(self, entry: _Failures, free: int, at: int) -> None:
        if entry.count >= free:
            until = at + min(self.max_ms, self.base_ms << min(entry.count - free, 30))
            entry.until_ms = max(entry.until_ms, until)

    def succeeded(self, keys: list[tuple[str, str]]) -> None:
        """A right password: the user starts afresh; the address gets its attempt back."""
        for key in keys:
            entry = self._keys.get(key)
            if entry is None:
                continue
            if key[0] == "user":
                del self._keys[key]
            else:
                entry.count = max(0, entry.count - 1)
                entry.until_ms = 0

    def clear(self, key: tuple[str, str]) -> bool:
        return self._keys.pop(key, None) is not None

    def _room(self, new: int, at: int) -> bool:
        if len(self._keys) + new <= self.max_keys:
            return True
        for key in [k for k, e in self._keys.items()
                    if e.until_ms <= at and at - e.last_ms > self.forget_ms]:
            del self._keys[key]
        for key in [k for k, e in self._keys.items() if e.until_ms <= at]:
            if len(self._keys) + new <= self.max_keys:
                break
            del self._keys[key]  # oldest first: the dict is ordered by last failure
        return len(self._keys) + new <= self.max_keys

    def __len__(self) -> int:
        return len(self._keys)


class Sessions:
    def __init__(self, db: aiosqlite.Connection, lifetime_minutes: int,
                 throttle: Throttle | None = None) -> None:
        self.db = db
        self.lifetime_ms = lifetime_minutes * 60_000
        self.throttle = throttle if throttle is not None else Throttle(5, 30_000, 15 * 60_000)

    def _keys(self, name: str, address: str) -> list[tuple[tuple[str, str], int]]:
        # An address is shared by everyone on one tablet or behind one NAT: more room.
        return [(("user", name), self.throttle.free), (("addr", address), 4 * self.throttle.free)]

    async def sign_in(self, name: str, password: str,
                      address: str = "") -> tuple[str, Principal] | None:
        """A session for a right name and password; None if wrong; Locked (with how long)
        while the name or the address is in back-off: the password is then not checked."""
        keys = self._keys(name, address)
        self.throttle.admit(keys, now_ms())
        principal = await self._check(name, password)
        if principal is not None:
            self.throttle.succeeded([key for key, _ in keys])
        else:
            self.throttle.failed(keys, now_ms())
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


def _me(principal: Principal, request: Request) -> dict:
    return {"user": principal.user, "role": principal.role, "csrf": principal.csrf,
            "expires_ms": principal.expires_ms, "permissions": sorted(principal.permissions),
            "timezone": _console(request).cfg.timezone}


@router.post("/api/sign-in")
async def sign_in(body: SignIn, request: Request, response: Response) -> dict:
    console = _console(request)
    address = request.client.host if request.client else ""
    try:
        result = await console.sessions.sign_in(body.name, body.password, address)
    except Locked as locked:
        await console.audit.record(body.name[:64], "-", "sign_in_locked")
        seconds = max(1, -(-locked.retry_after_ms // 1000))
        raise HTTPException(429, f"too many wrong passwords: try again in {seconds} s",
                            headers={"Retry-After": str(seconds)}) from None
    if result is None:
        await console.audit.record(body.name[:64], "-", "sign_in_failed")
        raise HTTPException(401, "wrong name or password")
    token, principal = result
    await console.audit.record(principal.user, principal.role, "sign_in")
    response.set_cookie(
        COOKIE, token, max_age=console.sessions.lifetime_ms // 1000, httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )
    return _me(principal, request)


@router.post("/api/sign-out")
async def sign_out(request: Request, response: Response,
                   principal: Annotated[Principal, Depends(current)]) -> dict:
    console = _console(request)
    await console.sessions.sign_out(request.cookies.get(COOKIE, ""))
    await console.audit.record(principal.user, principal.role, "sign_out")
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/api/me")
async def me(request: Request, principal: Annotated[Principal, Depends(current)]) -> dict:
    return _me(principal, request)


@router.post("/api/users/{name}/unlock")
async def unlock(name: str, request: Request,
                 who: Annotated[Principal, Depends(need("unlock"))]) -> dict:
    """End a user's sign-in back-off now (a manager who knows it is the user, not a guesser)."""
    console = _console(request)
    cleared = console.sessions.throttle.clear(("user", name))
    await console.audit.record(who.user, who.role, "unlock_user", name=name[:64],
                               was_locked=cleared)
    return {"ok": True, "was_locked": cleared}
