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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self, cast

from firmware import schema
from provisioning import categories, validators
from provisioning.validators import FieldError
from provisioning.venue_code import (
    DEFAULT_BASE,
    VenueCodeError,
    check_door,
    check_venue,
    door_url,
)

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
COMPONENT = schema.Component("registry", SCHEMA, migrations=(
    # 2: venues that loaded without some required fields (`missing`, comma-separated),
    # and the code a health-code operator already issued for a door (`issued`, its payload)
    schema.Migration(2, "ALTER TABLE venues ADD COLUMN missing TEXT NOT NULL DEFAULT '';"
                        " ALTER TABLE doors ADD COLUMN issued TEXT"),
))
# What an incomplete venue may lack (seed 002: venues that already hold a code add these
# later; "补全信息后仍可使用，无需更换"). A venue code is never among them: it is the key.
COMPLETABLE = ("name", "category", "address", "manager_name", "manager_phone",
               "credit_code", "plate")
MAX_ISSUED = 1000  # characters of an issued code's payload (a QR holds at most ~2,900)

VENUE_FIELDS = (
    "code", "parent", "name", "category", "credit_code", "plate", "address", "zone",
    "manager_name", "manager_phone", "applicant_name", "applicant_phone",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Door:
    code: str
    name: str
    issued: str | None = None  # the payload of a code the operator already issued


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
    missing: tuple[str, ...] = ()  # required fields it still lacks: "incomplete"

    @property
    def incomplete(self) -> bool:
        return bool(self.missing)


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


def qr_content(venue: Venue, door: Door, base: str = DEFAULT_BASE) -> str:
    """What the door's QR says, on its poster and to the platform: the code the operator
    already issued, exactly as issued (people and apps know it: "补全信息后仍可使用，无需
    更换"), else this district's own door URL. Completing the venue's fields changes
    neither."""
    return door.issued if door.issued else door_url(venue.code, door.code, base)


def format_issued(doors: Iterable[Door]) -> str:
    """Issued codes as the `issued_code` column writes them: one `<door> <payload>` a line."""
    return "\n".join(f"{d.code} {d.issued}" for d in doors if d.issued)


def build_venue(raw: Mapping[str, object], incomplete_ok: bool = False) -> Venue:
    """A validated, normalised Venue from loose fields (CSV row, form, JSON); or InvalidVenue.

    `incomplete_ok`: a required field left empty does not refuse the venue; it loads with
    that field in `missing` (a value that is there but wrong still refuses it)."""
    errors: list[str] = []
    missing: list[str] = []

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

    def required(name: str) -> bool:
        """True when the field has a value; an empty one is missing (when allowed)."""
        if get(name).strip() or not incomplete_ok:
            return True
        missing.append(name)
        return False

    code = check(_code, get("code").strip().upper(), "code")
    parent_text = get("parent").strip().upper()
    parent = check(_code, parent_text, "parent") if parent_text else None
    if code and parent and code == parent:
        errors.append("parent: a venue cannot be inside itself")
    category = check(_category, get("category"), "category") if required("category") else None
    name = check(validators.text, get("name"), "name", 100) if required("name") else ""
    address = check(validators.text, get("address"), "address", 200) \
        if required("address") else ""
    zone = check(validators.text, get("zone"), "zone", 50, False)
    manager = check(validators.text, get("manager_name"), "manager_name", 50) \
        if required("manager_name") else ""
    phone = check(validators.phone, get("manager_phone"), "manager_phone") \
        if required("manager_phone") else ""
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
            if incomplete_ok:
                missing.append("plate")
            else:
                errors.append(f"plate: a {category.key} is registered by its vehicle plate")
        if not category.moving and plate_text:
            errors.append(
                f"plate: only buses, taxis and ride-hailing cars have a plate, not {category.key}"
            )
        if not category.moving and not credit_text and not parent_text:
            if incomplete_ok:
                missing.append("credit_code")
            else:
                errors.append(
                    "credit_code: required (a venue inside another may use its parent's)")
    elif "category" in missing and not credit_text and not plate_text and not parent_text:
        missing.append("credit_code")  # or a plate, once the category says it is a vehicle
    doors = _doors(raw.get("doors"), errors)
    doors = _issued(get("issued_code"), doors, errors)
    if errors:
        raise InvalidVenue(errors)
    return Venue(
        code=code, name=name or "", category=category.key if category else "",
        address=address or "", manager_name=manager or "", manager_phone=phone or "",
        credit_code=credit, plate=plate, zone=zone or "", parent=parent,
        applicant_name=applicant or "", applicant_phone=applicant_phone or "", doors=doors,
        missing=tuple(f for f in COMPLETABLE if f in missing),
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


def _issued(text: str, doors: tuple[Door, ...], errors: list[str]) -> tuple[Door, ...]:
    """The doors with the codes already issued for them (`issued_code`): one payload for a
    venue with one door, or one `<door code> <payload>` line per door. A payload is kept
    exactly as issued: posters print it unchanged."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines:
        return doors
    by_code = {d.code: d for d in doors}
    issued: dict[str, str] = {}
    if len(lines) == 1 and len(lines[0].split()) == 1:
        if len(doors) != 1:
            errors.append(f"issued_code: the venue has {len(doors)} doors; write one "
                          "'<door code> <issued code>' line per door")
            return doors
        issued[doors[0].code] = lines[0]
    else:
        for line in lines:
            door, _, payload = line.partition(" ")
            door, payload = door.upper(), payload.strip()
            if door not in by_code:
                errors.append(f"issued_code: {door!r} is not one of the venue's doors")
            elif door in issued:
                errors.append(f"issued_code: door {door} is given twice")
            elif not payload or len(payload.split()) != 1:
                errors.append(f"issued_code: door {door}: the issued code is one word, "
                              "as its QR holds it")
            else:
                issued[door] = payload
    for door, payload in issued.items():
        if len(payload) > MAX_ISSUED or not payload.isprintable():
            errors.append(f"issued_code: door {door}: at most {MAX_ISSUED} printable "
                          "characters")
    return tuple(Door(d.code, d.name, issued.get(d.code, d.issued)) for d in doors)


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
            f"SELECT {', '.join(VENUE_FIELDS)}, missing FROM venues WHERE code = ?", (code,)
        ).fetchone()
        return self._venue(row, self.doors(code)) if row else None

    def doors(self, venue: str) -> tuple[Door, ...]:
        rows = self.db.execute(
            "SELECT code, name, issued FROM doors WHERE venue = ? ORDER BY code", (venue,)
        )
        return tuple(Door(*r) for r in rows)

    def door(self, venue: str, door: str) -> Door | None:
        row = self.db.execute(
            "SELECT code, name, issued FROM doors WHERE venue = ? AND code = ?", (venue, door)
        ).fetchone()
        return Door(*row) if row else None

    def incomplete(self) -> dict[str, tuple[str, ...]]:
        """Venue code -> the required fields it still lacks, for venues that lack any."""
        rows = self.db.execute("SELECT code, missing FROM venues WHERE missing != ''")
        return {code: tuple(missing.split(",")) for code, missing in rows}

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
        for venue, code, name, issued in self.db.execute(
            "SELECT venue, code, name, issued FROM doors ORDER BY venue, code"
        ):
            doors.setdefault(venue, []).append(Door(code, name, issued))
        rows = self.db.execute(
            f"SELECT {', '.join(VENUE_FIELDS)}, missing FROM venues ORDER BY code")
        for row in rows:
            yield self._venue(row, tuple(doors.get(row[0], ())))

    @staticmethod
    def _venue(row: tuple, doors: tuple[Door, ...]) -> Venue:
        values = dict(zip(VENUE_FIELDS, row[:-1], strict=True))
        missing = tuple(row[-1].split(",")) if row[-1] else ()
        return Venue(**values, doors=doors, missing=missing)

    # --- writing ----------------------------------------------------------------------

    def put(self, venue: Venue) -> Venue:
        """Add or update one venue (doors are merged: existing doors are never dropped)."""
        self.put_many([venue])
        stored = self.get(venue.code)
        assert stored is not None
        return stored

    def completed(self, venue: Venue) -> Venue:
        """A venue with what the register already holds for it filled in: an import that
        lacks a field never erases it (completing is the only direction), and a row with
        no doors (given the default door) adds no door to a venue that has its own."""
        defaulted = venue.doors == (Door(*DEFAULT_DOOR),)
        if not venue.missing and not defaulted:
            return venue
        stored = self.get(venue.code)
        if stored is None:
            return venue
        if defaulted and stored.doors and DEFAULT_DOOR[0] not in {d.code for d in stored.doors}:
            venue = replace(venue, doors=())
        if not venue.missing:
            return venue
        filled = {f: getattr(stored, f) for f in venue.missing if getattr(stored, f)}
        still = tuple(f for f in venue.missing if f not in filled)
        if "category" in filled and "credit_code" in still and not venue.plate \
                and categories.CATEGORIES[filled["category"]].moving:
            still = tuple(f for f in still if f != "credit_code") + ("plate",)
        return replace(venue, **filled, missing=still)

    def put_many(self, venues: list[Venue]) -> None:
        """Write validated venues in ONE transaction; any conflict writes none of them.
        Incomplete venues keep what the register already holds for their missing fields;
        a door's issued code, once recorded, is never replaced."""
        venues = [self.completed(v) for v in venues]
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
                f"INSERT INTO venues ({', '.join(VENUE_FIELDS)}, missing, updated_at)"
                f" VALUES ({placeholders}, ?, ?)"
                f" ON CONFLICT(code) DO UPDATE SET {updates}, missing = excluded.missing,"
                " updated_at = excluded.updated_at",
                [tuple(getattr(v, f) for f in VENUE_FIELDS) + (",".join(v.missing), now)
                 for v in venues],
            )
            self.db.executemany(
                "INSERT INTO doors (venue, code, name, issued) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(venue, code) DO UPDATE SET name = excluded.name,"
                " issued = coalesce(doors.issued, excluded.issued)",
                [(v.code, d.code, d.name, d.issued) for v in venues for d in v.doors],
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
            kept = {d.code: d.issued for d in self.doors(v.code) if d.issued}
            changed = [d.code for d in v.doors if d.issued and kept.get(d.code, d.issued)
                       != d.issued]
            if changed:
                problems[v.code] = (f"door {changed[0]} already has an issued code; a code "
                                    "once issued is kept, not replaced")
                continue
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
