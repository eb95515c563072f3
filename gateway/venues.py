"""The site's units as the gateway knows them: venues, the shops, stalls and zones inside
them, and every unit's doors (一门一码, 一店一码), loaded from provisioning's register.

The programme manages units, not doors: a mall reports its scans, a shop inside it reports
its own, and a trace from a visit to a shop looks at the whole mall. The register
(provisioning/registry.py) keeps each venue's `parent` (up to 4 deep) and its doors; the
gateway reads it from the file its config names (`[units] register_file`): the register's
SQLite file (read only) or a CSV exported from it (`python -m provisioning export-csv`).
The file is looked at again at most every `RELOAD_S` seconds and re-read when it changed,
so an edited register takes effect without a restart; a file that cannot be read keeps
the tree that was loaded (the error is shown on the console). `[units] roots` limits the
site to some venues and everything inside them (a district's register); empty: all.

Shape, for everyone who counts, reports or traces by unit (`Units.tree()` returns the
current `VenueTree`, immutable: hold it for one query, ask again for the next):

- `Unit.code`: the register's venue code, the unit's key everywhere (reports, tracing,
  the console). `Unit.identifier` / `identifier_kind`: its 统一社会信用代码 or vehicle
  plate as the register validated it; a shop registered without one carries its nearest
  ancestor's (kind "parent:<code>").
- `Unit.doors`: the unit's own doors as scans name them (`<venue code>/<door code>`, the
  protocol's `door` field, provisioning.venue_code.door_id); `Unit.door_names` their names.
- `Unit.children`: units directly inside it; `Unit.chain`: the unit, its parent, ... up to
  the site's top (the unit's ancestors, nearest first); `Unit.depth`: 0 at the top.
- `tree.attribute(door)`: `Attribution(door, unit, ancestors)` for a scan's door: the scan
  counts for its door, its unit and every ancestor. A door the register does not know gets
  `unit=None` (shown on the console; with no register configured, see below).
- `tree.doors_under(code)`: every door of the unit and of the units inside it (a
  venue-wide trace asks `door IN (...)` on the store's (door, ts) index); None for the
  site-as-one-unit without a register (every door is its door: no filter).
- `tree.rollup(per_door)`: {unit code: summed counts} over each unit's own doors and all
  units inside it, from any {door: Counter-like} (what a report or a coverage view sums).

Scans are attributed through the tree, not by a unit column on the scan: the door a scan
names already fixes its unit (`<venue>/<door>`), the store's (door, ts) index answers
"this unit's doors, this window" directly, and a report groups a period by door once and
rolls up in memory (5,000 units: `just bench-report`). Nothing on the scan's path changes.

Without a register (`register_file` unset: a demo, a test site) the site is one unit
keyed by the site name, and every door that scans belongs to it (`VenueTree.single`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from provisioning import categories
from provisioning.csv_io import CsvFileError, decode, read_rows
from provisioning.registry import MAX_DEPTH, InvalidVenue, build_venue
from provisioning.venue_code import door_id

log = logging.getLogger(__name__)

RELOAD_S = 2.0  # how often the register file is looked at (a stat, not a read)


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    category: str
    identifier: str
    identifier_kind: str  # credit_code | plate | parent:<code> | site | none
    parent: str | None
    doors: tuple[str, ...]
    door_names: Mapping[str, str]
    children: tuple[str, ...]
    chain: tuple[str, ...]  # this unit, then its ancestors up to the site's top
    missing: tuple[str, ...] = ()  # required fields the register still lacks (incomplete)

    @property
    def depth(self) -> int:
        return len(self.chain) - 1

    @property
    def ancestors(self) -> tuple[str, ...]:
        return self.chain[1:]


@dataclass(frozen=True, slots=True)
class Attribution:
    door: str
    unit: str | None
    ancestors: tuple[str, ...]

    @property
    def units(self) -> tuple[str, ...]:
        """Every unit the scan counts for: its own, then the ones it is inside."""
        return (self.unit, *self.ancestors) if self.unit else ()


@dataclass(frozen=True, slots=True)
class Row:
    """One venue as read from the register, before the tree is built."""

    code: str
    parent: str | None
    name: str
    category: str
    credit_code: str | None
    plate: str | None
    doors: tuple[tuple[str, str], ...]  # (door code, name)
    missing: tuple[str, ...] = ()  # loaded incomplete (provisioning/registry.py COMPLETABLE)


@dataclass(frozen=True)
class VenueTree:
    units: Mapping[str, Unit]
    top: tuple[str, ...]  # units with no parent in the site
    door_unit: Mapping[str, str]
    problems: tuple[str, ...] = ()  # rows that could not be placed, in words
    single: bool = False  # no register: the site is the only unit
    _under: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, rows: Iterable[Row], roots: Iterable[str] = (),
              problems: Iterable[str] = ()) -> VenueTree:
        found = {r.code: r for r in rows}
        issues = list(problems)
        kids: dict[str, list[str]] = {}
        for row in found.values():
            if row.parent is not None and row.parent in found:
                kids.setdefault(row.parent, []).append(row.code)
            elif row.parent is not None:
                issues.append(f"{row.code}: parent {row.parent} is not in the register; "
                              "counted as a top-level unit")
        wanted = [c.strip().upper() for c in roots if c.strip()]
        for code in wanted:
            if code not in found:
                issues.append(f"{code}: listed in [units] roots but not in the register")
        tops = [c for c in wanted if c in found] if wanted else sorted(
            c for c, r in found.items() if r.parent is None or r.parent not in found)
        units: dict[str, Unit] = {}
        door_unit: dict[str, str] = {}

        def place(code: str, above: tuple[str, ...]) -> None:
            if code in units:
                return  # a root listed inside another root: placed once, under the first
            if code in above:
                issues.append(f"{code}: venues nest in a loop")
                return
            if len(above) >= MAX_DEPTH:
                issues.append(f"{code}: nested more than {MAX_DEPTH} deep; not loaded")
                return
            row = found[code]
            ident, kind = _identifier(row, above, units)
            doors = tuple(door_id(code, d) for d, _n in row.doors)
            children = tuple(sorted(kids.get(code, ())))
            units[code] = Unit(code, row.name, row.category, ident, kind,
                               above[0] if above else None, doors,
                               {door_id(code, d): n for d, n in row.doors}, children,
                               (code, *above), row.missing)
            for d in doors:
                door_unit[d] = code
            for child in children:
                place(child, (code, *above))

        for code in tops:
            place(code, ())
        return cls(units, tuple(t for t in tops if t in units), door_unit, tuple(issues))

    @classmethod
    def for_site(cls, site: str, doors: Iterable[str] = ()) -> VenueTree:
        """No register: the site is one unit and owns every door."""
        unit = Unit(site, site, "", site, "site", None, tuple(sorted(doors)), {}, (), (site,))
        return cls({site: unit}, (site,), {}, (), single=True)

    def attribute(self, door: str) -> Attribution:
        code = self.door_unit.get(door)
        if code is None:
            if self.single:
                return Attribution(door, self.top[0], ())
            return Attribution(door, None, ())
        return Attribution(door, code, self.units[code].ancestors)

    def unit_of(self, door: str) -> Unit | None:
        code = self.attribute(door).unit
        return self.units[code] if code else None

    def subtree(self, code: str) -> tuple[str, ...]:
        """The unit and every unit inside it, depth first."""
        out: list[str] = []
        stack = [code] if code in self.units else []
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(self.units[current].children))
        return tuple(out)

    def doors_under(self, code: str) -> tuple[str, ...] | None:
        """Every door of the unit and of the units inside it (cached per tree); None when
        the unit is the whole site without a register (every door: no filter)."""
        if self.single and code in self.units:
            return None
        cached = self._under.get(code)
        if cached is None:
            cached = tuple(d for u in self.subtree(code) for d in self.units[u].doors)
            self._under[code] = cached
        return cached

    def rollup(self, per_door: Mapping[str, Mapping[str, int]]) -> dict[str, Counter[str]]:
        """{unit: counts summed over its own doors and every unit inside it}. Doors the tree
        does not know are left out (see `unplaced`)."""
        out: dict[str, Counter[str]] = {code: Counter() for code in self.units}
        for door, counts in per_door.items():
            for code in self.attribute(door).units:
                out[code].update(counts)
        return out

    def unplaced(self, doors: Iterable[str]) -> list[str]:
        """Doors that scanned but belong to no unit of the register."""
        return sorted(d for d in doors if self.attribute(d).unit is None)

    def view(self) -> list[dict]:
        """The tree as the console shows it: depth first, each unit with its doors."""
        out = []
        for top in self.top:
            for code in self.subtree(top):
                u = self.units[code]
                cat = categories.CATEGORIES.get(u.category)
                out.append({
                    "code": u.code, "name": u.name, "category": u.category,
                    "category_zh": cat.zh if cat else "", "category_en": cat.en if cat else "",
                    "identifier": u.identifier, "identifier_kind": u.identifier_kind,
                    "parent": u.parent, "depth": u.depth, "ancestors": list(u.ancestors),
                    "children": list(u.children), "missing": list(u.missing),
                    "sentinel": bool(cat and cat.sentinel),
                    "department_zh": categories.DEPARTMENTS[cat.department][0] if cat else "",
                    "department_en": categories.DEPARTMENTS[cat.department][1] if cat else "",
                    "doors": [{"door": d, "name": u.door_names.get(d, "")} for d in u.doors],
                })
        return out


def _identifier(row: Row, above: tuple[str, ...], placed: Mapping[str, Unit]
                ) -> tuple[str, str]:
    if row.credit_code:
        return row.credit_code, "credit_code"
    if row.plate:
        return row.plate, "plate"
    for code in above:  # a shop registered under its mall's code (registry allows it)
        unit = placed[code]
        if unit.identifier_kind in ("credit_code", "plate"):
            return unit.identifier, f"parent:{code}"
    return "", "none"


# --- reading the register ---------------------------------------------------------------

class RegisterError(ValueError):
    """The register file as a whole cannot be read."""


def read_register(path: Path) -> tuple[list[Row], list[str]]:
    """(rows, problems) from the register's SQLite file or a CSV exported from it."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        return _read_sqlite(path), []
    return _read_csv(path)


def _read_sqlite(path: Path) -> list[Row]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RegisterError(f"{path}: {exc}") from None
    try:
        db.execute("PRAGMA busy_timeout=5000")
        doors: dict[str, list[tuple[str, str]]] = {}
        for venue, code, name in db.execute(
                "SELECT venue, code, name FROM doors ORDER BY venue, code"):
            doors.setdefault(venue, []).append((code, name))
        columns = {r[1] for r in db.execute("PRAGMA table_info(venues)")}
        # `missing` came with the register's schema 2; a version 1 file has none
        missing = "missing" if "missing" in columns else "''"
        return [Row(code, parent, name, category, credit, plate, tuple(doors.get(code, ())),
                    tuple(gaps.split(",")) if gaps else ())
                for code, parent, name, category, credit, plate, gaps in db.execute(
                    "SELECT code, parent, name, category, credit_code, plate,"
                    f" {missing} FROM venues")]
    except sqlite3.Error as exc:
        raise RegisterError(f"{path}: not a venue register ({exc})") from None
    finally:
        db.close()


def _read_csv(path: Path) -> tuple[list[Row], list[str]]:
    """Rows are checked as the register's import checks them; bad ones are reported."""
    try:
        text = decode(path.read_bytes())
        rows, problems = [], []
        for line, fields, problem in read_rows(text):
            if fields is None:
                problems.append(f"line {line}: {problem}")
                continue
            try:
                v = build_venue(fields, incomplete_ok=True)
            except InvalidVenue as exc:
                problems.append(f"line {line}: {exc}")
                continue
            rows.append(Row(v.code, v.parent, v.name, v.category, v.credit_code, v.plate,
                            tuple((d.code, d.name) for d in v.doors), v.missing))
        return rows, problems
    except CsvFileError as exc:
        raise RegisterError(f"{path}: {exc}") from None


class Units:
    """The current tree, following the register file. `tree()` is cheap (a stat at most
    every RELOAD_S seconds); a changed file is read again, a broken one keeps the tree
    that was loaded and says why in `error`."""

    def __init__(self, site: str, path: Path | None, roots: Iterable[str] = (),
                 reload_s: float = RELOAD_S) -> None:
        self.site = site
        self.reload_s = reload_s
        self.path = Path(path) if path is not None else None
        self.roots = tuple(roots)
        self.error: str | None = None
        self.loaded_ms: int | None = None
        self.loads = 0
        self._stamp: tuple | None = None
        self._looked = 0.0
        self._tree = VenueTree.for_site(site) if self.path is None else VenueTree({}, (), {})
        self.refresh(force=True)

    def _stamp_now(self) -> tuple | None:
        assert self.path is not None
        stamp: list[tuple[int, int] | None] = []
        # The register's SQLite file writes through its WAL first: look at both.
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = p.stat()
            except FileNotFoundError:
                stamp.append(None)
                continue
            # an empty WAL (a reader opened the file) holds nothing: same as none
            stamp.append((st.st_mtime_ns, st.st_size) if st.st_size else None)
        return tuple(stamp) if stamp[0] is not None else None

    def refresh(self, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._looked < self.reload_s:
            return
        self._looked = now
        stamp = self._stamp_now()
        if stamp is None:
            self.error = f"{self.path}: no such file"
            return
        if stamp == self._stamp:
            return
        try:
            rows, problems = read_register(self.path)
        except (OSError, RegisterError) as exc:
            self.error = str(exc)
            log.warning("unit register not (re)loaded: %s", exc)
            return
        self._tree = VenueTree.build(rows, self.roots, problems)
        # Reading may itself touch the WAL file; a write during the read shows as a change
        # between the two looks and is read at the next one.
        after = self._stamp_now()
        self._stamp = after if after == stamp else stamp
        self.error = None
        self.loaded_ms = int(time.time() * 1000)
        self.loads += 1
        log.info("unit register loaded: %d units, %d doors", len(self._tree.units),
                 len(self._tree.door_unit))

    def tree(self) -> VenueTree:
        self.refresh()
        return self._tree

    def category_of(self, door: str) -> str | None:
        """The category of the unit a door belongs to (its entry policy's key), if known."""
        unit = self.tree().unit_of(door)
        return unit.category if unit is not None and unit.category else None

    def status(self) -> dict:
        tree = self.tree()
        return {"source": str(self.path) if self.path else None, "single": tree.single,
                "loaded_ms": self.loaded_ms, "error": self.error,
                "problems": list(tree.problems), "units": len(tree.units),
                "doors": len(tree.door_unit)}
