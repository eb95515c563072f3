"""The duty roster (一码一守): who is on duty at which door, since when, and who is staff.

A person on duty signs on at one door at a time, in the console or by tapping their own
ID card at that door's kiosk, and signs off the same ways; signing on at another door
signs them off the first. Rows are never edited once closed, so the roster is also the
record of who watched which door when.

Staff are console users (gateway/users.py) with an ID card registered on the gateway's
own machine (`python -m gateway.staff`). The card is kept as the project keeps
identifiers (gateway/personal.py): a keyed hash and a masked form, never the number; a
second hash under a salt the kiosks are given lets a kiosk recognise a staff card without
any list of numbers (the retained staff list, docs/protocol.md §1.2 `staff`).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import aiosqlite

from firmware import schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS duty_staff (
    user TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    card TEXT NOT NULL UNIQUE,
    masked TEXT NOT NULL,
    added_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS duty_roster (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    door TEXT NOT NULL,
    user TEXT NOT NULL,
    on_ms INTEGER NOT NULL,
    on_via TEXT NOT NULL,
    off_ms INTEGER,
    off_via TEXT
);
CREATE INDEX IF NOT EXISTS duty_roster_open ON duty_roster (off_ms, door);
CREATE INDEX IF NOT EXISTS duty_roster_door ON duty_roster (door, n);
-- Each time the person on duty opened a gate: who, where, why, and whether it opened.
CREATE TABLE IF NOT EXISTS gate_openings (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    door TEXT NOT NULL,
    kiosk TEXT NOT NULL,
    user TEXT NOT NULL,
    via TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    alert INTEGER,
    asked_ms INTEGER NOT NULL,
    done_ms INTEGER,
    ok INTEGER,
    refused TEXT
);
"""
COMPONENT = schema.Component("duty", SCHEMA)  # version 1; later: migrations

ROSTER = ("n", "door", "user", "on_ms", "on_via", "off_ms", "off_via")


def card_salt(pseudonym_key: str) -> str:
    """The salt kiosks hash ID numbers under to recognise staff cards: derived from the
    pseudonym key, so it is stable, yet the keyed hashes in the database stay unknowable
    to anyone holding only the kiosks' list."""
    return hmac.new(pseudonym_key.encode(), b"staff-card-salt", hashlib.sha256).hexdigest()[:32]


def card_hash(salt: str, id_number: str) -> str:
    """What a kiosk computes from a card it reads (firmware/kiosk/staff_cards.py)."""
    return hashlib.sha256(f"{salt}:{id_number.strip().upper()}".encode()).hexdigest()[:32]


def now_ms() -> int:
    return int(time.time() * 1000)


class Roster:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def _rows(self, where: str, args: tuple, limit: int = 500) -> list[dict]:
        async with self.db.execute(
            f"SELECT {','.join(ROSTER)} FROM duty_roster WHERE {where} ORDER BY n DESC LIMIT ?",
            (*args, limit),
        ) as cur:
            return [dict(zip(ROSTER, r, strict=True)) for r in await cur.fetchall()]

    async def on_duty(self, door: str | None = None) -> list[dict]:
        """Who is on duty now (at `door`, or anywhere), newest first."""
        if door is None:
            return await self._rows("off_ms IS NULL", ())
        return await self._rows("off_ms IS NULL AND door=?", (door,))

    async def post_of(self, user: str) -> dict | None:
        rows = await self._rows("off_ms IS NULL AND user=?", (user,), 1)
        return rows[0] if rows else None

    async def history(self, limit: int = 100) -> list[dict]:
        return await self._rows("1", (), limit)

    async def sign_on(self, user: str, door: str, via: str) -> tuple[dict, dict | None]:
        """On duty at `door` from now; (the new row, the post left elsewhere or None).
        Already on duty at that door: the row as it is, nothing changes."""
        at = now_ms()
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            here = await self._rows("off_ms IS NULL AND user=? AND door=?", (user, door), 1)
            if here:
                await self.db.execute("COMMIT")
                return here[0], None
            left = await self.post_of(user)
            if left is not None:
                await self.db.execute("UPDATE duty_roster SET off_ms=?, off_via=? WHERE n=?",
                                      (at, via, left["n"]))
                left = dict(left, off_ms=at, off_via=via)
            cur = await self.db.execute(
                "INSERT INTO duty_roster (door, user, on_ms, on_via) VALUES (?,?,?,?)",
                (door, user, at, via))
            await self.db.execute("COMMIT")
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        row = {"n": cur.lastrowid, "door": door, "user": user, "on_ms": at, "on_via": via,
               "off_ms": None, "off_via": None}
        return row, left

    async def sign_off(self, user: str, via: str) -> dict | None:
        """Off duty; the closed row, or None if the user was not on duty."""
        at = now_ms()
        post = await self.post_of(user)
        if post is None:
            return None
        cur = await self.db.execute(
            "UPDATE duty_roster SET off_ms=?, off_via=? WHERE n=? AND off_ms IS NULL",
            (at, via, post["n"]))
        return dict(post, off_ms=at, off_via=via) if cur.rowcount else None

    async def unattended_since(self, door: str) -> int | None:
        """None while someone is on duty at `door`; else when its last person left (0:
        nobody ever signed on there): the key of one unattended stretch."""
        if await self.on_duty(door):
            return None
        async with self.db.execute(
            "SELECT max(off_ms) FROM duty_roster WHERE door=?", (door,)) as cur:
            row = await cur.fetchone()
        return row[0] if row and row[0] is not None else 0

    # --- staff ----------------------------------------------------------------------------

    async def staff(self) -> list[dict]:
        async with self.db.execute(
            "SELECT user, masked, added_ms FROM duty_staff ORDER BY user") as cur:
            return [{"user": u, "masked": m, "added_ms": a} for u, m, a in await cur.fetchall()]

    async def staff_by_card(self, card: str) -> tuple[str, str] | None:
        """(user, role) of the staff member whose card this is, while their console
        account is enabled."""
        async with self.db.execute(
            "SELECT s.user, u.role FROM duty_staff s JOIN console_users u ON u.name = s.user "
            "WHERE s.card=? AND u.disabled=0", (card,)) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def cards(self) -> list[str]:
        async with self.db.execute("SELECT card FROM duty_staff ORDER BY card") as cur:
            return [r[0] for r in await cur.fetchall()]
