"""The venue register: venues with the provincial fields, their doors, venues inside venues.

一门一码, 一店一码: a mall is a venue with one door per entrance, each shop inside it is a
venue of its own (parent = the mall) with its own doors, a market's stalls likewise. One
SQLite file holds the register of a district (tens of thousands of venues); writes go
in one transaction per batch so an import or an edit is either whole or absent.
Validation lives in `build_venue`, so the CLI, the CSV import and the console reject the
same things with the same words.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, cast

from firmware import schema
from provisioning import categories, validators
from provisioning.validators import FieldError
from provisioning.venue_code import VenueCodeError, check_door, check_venue

MAX_DEPTH = 4  # building > mall > floor zone > stall
DEFAULT_DOOR = ("01", "主入口")

SCHEMA = """
CREATE TABLE IF NOT EXISTS venues (
    code TEXT PRIMARY KEY,
    parent TEXT REFERENCES venues(code),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    credit_code TEXT,
    plate TEXT,
    address TEXT NOT NULL,
    zone TEXT NOT NULL DEFAULT '',
    manager_name TEXT NOT NULL,
    manager_phone TEXT NOT NULL,
    applicant_name TEXT NOT NULL DEFAULT '',
    applicant_phone TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS venues_parent ON venues(parent);
CREATE TABLE IF NOT EXISTS doors (
    venue TEXT NOT NULL REFERENCES venues(code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (venue, code),
    UNIQUE (venue, name)
);
"""
COMPONENT = schema.Component("registry", SCHEMA)  # version 1; later: migrations

VENUE_FIELDS = (
    "code", "parent", "name", "category", "credit_code", "plate", "address", "zone",
    "manager_name", "manager_phone", "applicant_name", "applicant_phone",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Door:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Venue:
    code: str
    name: str
    category: str
    address: str
    manager_name: str
    manager_phone: str
    credit_code: str | None = None
    plate: str | None = None
    zone: str = ""
    parent: str | None = None
    applicant_name: str = ""
    applicant_phone: str = ""
    doors: tuple[Door, ...] = field(default_factory=tuple)


class InvalidVenue(ValueError):
    """Every rule a venue record breaks, one message each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class RegistryError(ValueError):
    pass


def parse_doors(text: str) -> tuple[Door, ...]:
    """Doors as registers write them: `D01:东门;D02:西门` (code:name, separated by ;)."""
    doors = []
    for part in text.replace("；", ";").split(";"):
        if not part.strip():
            continue
        code, sep, name = part.replace("：", ":").partition(":")
        if not sep:
            raise FieldError("doors", f"{part.strip()!r} is not code:name")
        doors.append(Door(code.strip().upper(), name.strip()))
    return tuple(doors)


def format_doors(doors: Iterable[Door]) -> str:
    return ";".join(f"{d.code}:{d.name}" for d in doors)


def build_venue(raw: Mapping[str, object]) -> Venue:
    """A validated, normalised Venue from loose fields (CSV row, form, JSON); or InvalidVenue."""
    errors: list[str] = []

    def get(name: str) -> str:
        value = raw.get(name)
        return "" if value is None else str(value)

    def check(fn, *args):
        try:
            return fn(*args)
        except FieldError as exc:
            errors.append(str(exc))
        except (VenueCodeError, categories.UnknownCategory) as exc:
            errors.append(f"{args[-1] if len(args) > 1 else 'value'}: {exc}")
        return None

    code = check(_code, get("code").strip().upper(), "code")
    parent_text = get("parent").strip().upper()
    parent = check(_code, parent_text, "parent") if parent_text else None
    if code and parent and code == parent:
        errors.append("parent: a venue cannot be inside itself")
    category = check(_category, get("category"), "category")
    name = check(validators.text, get("name"), "name", 100)
    address = check(validators.text, get("address"), "address", 200)
    zone = check(validators.text, get("zone"), "zone", 50, False)
    manager = check(validators.text, get("manager_name"), "manager_name", 50)
    phone = check(validators.phone, get("manager_phone"), "manager_phone")
    applicant = check(validators.text, get("applicant_name"), "applicant_name", 50, False)
    applicant_phone = (
        check(validators.phone, get("applicant_phone"), "applicant_phone")
        if get("applicant_phone").strip()
        else ""
    )
    credit_text, plate_text = get("credit_code").strip(), get("plate").strip()
    credit = check(validators.credit_code, credit_text, "credit_code") if credit_text else None
    plate = check(validators.plate, plate_text, "plate") if plate_text else None
    if category is not None:
        if category.moving and not plate_text:
            errors.append(f"plate: a {category.key} is registered by its vehicle plate")
        if not category.moving and plate_text:
            errors.append(
                f"plate: only buses, taxis and ride-hailing cars have a plate, not {category.key}"
            )
        if not category.moving and not credit_text and not parent_text:
            errors.append("credit_code: required (a venue inside another may use its parent's)")
    doors = _doors(raw.get("doors"), errors)
    if errors:
        raise InvalidVenue(errors)
    return Venue(
        code=code, name=name, category=category.key, address=address, manager_name=manager,
        manager_phone=phone, credit_code=credit, plate=plate, zone=zone or "", parent=parent,
        applicant_name=applicant or "", applicant_phone=applicant_phone or "", doors=doors,
    )  # fmt: skip


def _code(value: str, _field: str) -> str:
    return check_venue(value)


def _category(value: str, _field: str) -> categories.Category:
    return categories.lookup(value)


def _doors(value: object, errors: list[str]) -> tuple[Door, ...]:
    try:
        if value is None or isinstance(value, str):
            doors = parse_doors(value or "")
        else:
            # otherwise Door objects or (code, name) pairs
            pairs = cast("Iterable[Any]", value)
            doors = tuple(
                d if isinstance(d, Door) else Door(str(d[0]).upper(), str(d[1])) for d in pairs
            )
    except FieldError as exc:
        errors.append(str(exc))
        return ()
    if not doors:
        return (Door(*DEFAULT_DOOR),)
    codes: set[str] = set()
    names: set[str] = set()
    for door in doors:
        try:
            check_door(door.code)
        except VenueCodeError:
            errors.append(f"doors: door code {door.code!r} must be 1-8 of 0-9 A-Z")
        if not door.name or len(door.name) > 50:
            errors.append(f"doors: door {door.code} needs a name of 1-50 characters")
        if door.code in codes:
            errors.append(f"doors: duplicate door code {door.code}")
        if door.name in names:
            errors.append(f"doors: duplicate door name {door.name}")
        codes.add(door.code)
        names.add(door.name)
    return doors


class Registry:
    """The register in one SQLite file. Not thread-safe: one Registry per thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        try:
            schema.migrate(self.db, self.path, COMPONENT)
        except BaseException:
            self.db.close()
            raise
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ----------------------------------------------------------------------

    def get(self, code: str) -> Venue | None:
        row = self.db.execute(
            f"SELECT {', '.join(VENUE_FIELDS)} FROM venues WHERE code = ?", (code,)
        ).fetchone()
        return self._venue(row, self.doors(code)) if row else None

    def doors(self, venue: str) -> tuple[Door, ...]:
        rows = self.db.execute(
            "SELECT code, name FROM doors WHERE venue = ? ORDER BY code", (venue,)
        )
        return tuple(Door(*r) for r in rows)

    def door(self, venue: str, door: str) -> Door | None:
        row = self.db.execute(
            "SELECT code, name FROM doors WHERE venue = ? AND code = ?", (venue, door)
        ).fetchone()
        return Door(*row) if row else None

    def children(self, code: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT code FROM venues WHERE parent = ? ORDER BY code", (code,)
            )
        ]

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM venues").fetchone()[0]

    def parents(self) -> dict[str, str | None]:
        return dict(self.db.execute("SELECT code, parent FROM venues"))

    def all(self) -> Iterator[Venue]:
        doors: dict[str, list[Door]] = {}
        for venue, code, name in self.db.execute(
            "SELECT venue, code, name FROM doors ORDER BY venue, code"
        ):
            doors.setdefault(venue, []).append(Door(code, name))
        rows = self.db.execute(f"SELECT {', '.join(VENUE_FIELDS)} FROM venues ORDER BY code")
        for row in rows:
            yield self._venue(row, tuple(doors.get(row[0], ())))

    @staticmethod
    def _venue(row: tuple, doors: tuple[Door, ...]) -> Venue:
        values = dict(zip(VENUE_FIELDS, row, strict=True))
        return Venue(**values, doors=doors)

    # --- writing ----------------------------------------------------------------------

    def put(self, venue: Venue) -> Venue:
        """Add or update one venue (doors are merged: existing doors are never dropped)."""
        self.put_many([venue])
        stored = self.get(venue.code)
        assert stored is not None
        return stored

    def put_many(self, venues: list[Venue]) -> None:
        """Write validated venues in ONE transaction; any conflict writes none of them."""
        problems = self.conflicts(venues)
        if problems:
            raise RegistryError("; ".join(f"{code}: {why}" for code, why in problems.items()))
        now = int(time.time())
        placeholders = ", ".join("?" for _ in VENUE_FIELDS)
        updates = ", ".join(f"{f} = excluded.{f}" for f in VENUE_FIELDS[1:])
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # Parents first, so the foreign key holds inside the batch.
            self.db.execute("PRAGMA defer_foreign_keys=ON")
            self.db.executemany(
                f"INSERT INTO venues ({', '.join(VENUE_FIELDS)}, updated_at)"
                f" VALUES ({placeholders}, ?)"
                f" ON CONFLICT(code) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
                [tuple(getattr(v, f) for f in VENUE_FIELDS) + (now,) for v in venues],
            )
            self.db.executemany(
                "INSERT INTO doors (venue, code, name) VALUES (?, ?, ?)"
                " ON CONFLICT(venue, code) DO UPDATE SET name = excluded.name",
                [(v.code, d.code, d.name) for v in venues for d in v.doors],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def conflicts(self, venues: list[Venue]) -> dict[str, str]:
        """Why some of these venues cannot be written together with the register as it is.

        Checks what a single row cannot: duplicate codes in the batch, a parent that does
        not exist, nesting loops or too deep, a door name already used by another door of
        the same venue in the register.
        """
        problems: dict[str, str] = {}
        seen: set[str] = set()
        for v in venues:
            if v.code in seen:
                problems[v.code] = "venue code appears twice"
            seen.add(v.code)
        parents = self.parents()
        existing = set(parents)
        for v in venues:
            parents[v.code] = v.parent
        for v in venues:
            if v.code in problems:
                continue
            why = _nesting_problem(v.code, parents)
            if why:
                problems[v.code] = why
        touched = [v for v in venues if v.code in existing and v.code not in problems]
        for v in touched:
            stored = {d.code: d.name for d in self.doors(v.code)}
            stored.update({d.code: d.name for d in v.doors})
            names = list(stored.values())
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                problems[v.code] = f"door name {min(dup)} would be used by two doors"
        return problems


def _nesting_problem(code: str, parents: Mapping[str, str | None]) -> str | None:
    depth = 0
    current: str | None = code
    while current is not None:
        if current not in parents:
            return f"parent venue {current} is not registered"
        current = parents[current]
        depth += 1
        if current == code:
            return "venues nest in a loop"
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} deep"
    return None
