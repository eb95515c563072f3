"""Versioned schemas for every SQLite file the product writes, and their migrations.

A file holds one or more components (the kiosk's outbox is one; the gateway's file holds
the store and the console's tables). Each component owns its schema: version 1 is the
schema as it was before versioning, exactly (`baseline`), and every later version is one
`Migration`, in order. The file records, per component, in `schema_versions`:

    version  the schema the file holds now
    compat   the oldest schema version whose code still reads and writes this file

Two numbers per component, and several components per file, so the record is a table,
not `PRAGMA user_version` (one integer per file).

Opening a file (`migrate`, at every start, before the component touches its tables):
- no record, none of the component's tables: created at version 1, then migrated;
- no record, the tables there as version 1 has them: adopted as version 1, then migrated
  (a file written before versioning); tables that differ from version 1: refused;
- older than the code: every missing migration runs, all of them in one transaction
  (`BEGIN IMMEDIATE`), each logged with its from and to versions; a failure rolls back,
  so the file is exactly as it was, and raises `SchemaError`;
- newer than the code (a rollback after an update): used as it is if `compat` is at or
  below the code's version, refused with `SchemaError` otherwise.

Rollback policy: a migration is additive unless it says otherwise (new tables, indexes,
columns that are nullable or have a default; old code ignores them and its writes stay
valid), so `compat` stays where it was and the previous release runs on the migrated file.
A migration that old code could not live with sets `compat` to its own version; then the
previous release refuses the file with one line instead of misreading it. Such a change is
split over two releases (add beside the old, then drop the old) so that the release an
update rolls back to can always read the file. See docs/install.md.

`SchemaError` is one line naming the file, the component and the versions; the kiosk and
gateway entry points print it and exit 2, as for a bad config.

Changing a schema: never edit `baseline` (tests/test_schema.py holds it to the frozen copy
in tests/schema_v1.py); append a `Migration(n + 1, "ALTER TABLE …")` to the module's
`COMPONENT` (`Component(name, SCHEMA, (Migration(2, …), …))`) and change the code that
uses it in the same commit; name columns in every INSERT and SELECT; add a test that starts
the new code on a file of the previous version with data in it (tests/test_upgrade.py).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    compat INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL
)
"""


class SchemaError(Exception):
    """A file this release cannot use as it is: one line, naming file and versions."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step: the statements that bring a component to `version`.

    `compat`: the oldest schema version whose code still works with the result; None for
    an additive step (old code keeps working, the file's compat does not move)."""

    version: int
    sql: str
    compat: int | None = None


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    baseline: str  # version 1; CREATE … IF NOT EXISTS, so adopting an existing file is safe
    migrations: tuple[Migration, ...] = ()

    def __post_init__(self) -> None:
        for n, step in enumerate(self.migrations, start=2):
            if step.version != n:
                raise ValueError(f"{self.name}: migration {step.version} where {n} belongs")
            if step.compat is not None and not 1 <= step.compat <= step.version:
                raise ValueError(f"{self.name}: migration {n}: compat {step.compat}")

    @property
    def version(self) -> int:
        return 1 + len(self.migrations)

    def then(self, *steps: Migration) -> Component:
        """This component with more migrations (a later release)."""
        return Component(self.name, self.baseline, self.migrations + steps)


def statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one: `executescript` would commit the open
    transaction first. Semicolons inside triggers, strings and comments stay put."""
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if _has_sql(buf):
                yield buf.strip()
            buf = ""


def _has_sql(text: str) -> bool:
    for line in text.splitlines():
        code = line.split("--", 1)[0].strip().strip(";").strip()
        if code:
            return True
    return False


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple]:
    # (name, declared type, not null, default, primary key position)
    return [tuple(row[1:]) for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _baseline_mismatch(conn: sqlite3.Connection, component: Component) -> str | None:
    """Which table of version 1 the file already holds in another shape, if any."""
    model = sqlite3.connect(":memory:")
    try:
        model.executescript(component.baseline)
        tables = [r[0] for r in model.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            have = _columns(conn, table)
            if have and have != _columns(model, table):
                return table
    finally:
        model.close()
    return None


def _present(conn: sqlite3.Connection, component: Component) -> bool:
    model = sqlite3.connect(":memory:")
    try:
        model.executescript(component.baseline)
        tables = {r[0] for r in model.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        model.close()
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return bool(tables & have)


def migrate(conn: sqlite3.Connection, label: str | Path, *components: Component) -> None:
    """Bring each component of the file behind `conn` to the code's version (see the module
    docstring). `label` names the file in messages. Raises SchemaError, leaving the file
    unchanged. `conn` must not be inside a transaction."""
    if conn.in_transaction:
        raise RuntimeError("migrate() needs a connection outside any transaction")
    steps: list[str] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{label}: not a usable SQLite database ({exc})") from None
    try:
        conn.execute(BOOKKEEPING)
        for component in components:
            _migrate_one(conn, label, component, steps)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the error that matters is `exc`
                conn.execute("ROLLBACK")
        if isinstance(exc, SchemaError):
            raise
        if isinstance(exc, sqlite3.Error):
            step = steps[-1] if steps else "reading its schema versions"
            raise SchemaError(
                f"{label}: {step} failed, file left as it was: {exc}".replace("\n", " ")
            ) from None
        raise
    for step in steps:
        log.info("%s: %s: done", label, step)


def _migrate_one(conn: sqlite3.Connection, label: str | Path, component: Component,
                 steps: list[str]) -> None:
    """Run in migrate's transaction; appends each step to `steps` as it starts, so the
    last one names the step that failed if an exception escapes."""
    name, code = component.name, component.version
    steps.append(f"{name} schema: reading its version")
    row = conn.execute(
        "SELECT version, compat FROM schema_versions WHERE component = ?", (name,)
    ).fetchone()
    steps.pop()
    created = False
    if row is None:
        created = True
        if _present(conn, component):
            table = _baseline_mismatch(conn, component)
            if table is not None:
                raise SchemaError(
                    f"{label}: {name}: table {table} is not as schema version 1 has it and the "
                    f"file records no version; this release reads versions 1 to {code}")
            steps.append(f"{name} schema: adopting an unversioned file as version 1")
        else:
            steps.append(f"{name} schema: creating version 1")
        log.info("%s: %s", label, steps[-1])
        _check(conn, label)
        for sql in statements(component.baseline):
            conn.execute(sql)
        conn.execute(
            "INSERT INTO schema_versions (component, version, compat, changed_ms)"
            " VALUES (?,1,1,?)",
            (name, time.time_ns() // 1_000_000),
        )
        version, compat = 1, 1
    else:
        version, compat = row
    if version > code:
        if compat > code:
            raise SchemaError(
                f"{label}: {name} schema is version {version}, readable by releases with "
                f"version {compat} or later; this release reads up to version {code}")
        log.warning("%s: %s schema is version %d, newer than this release's %d; it stays "
                    "usable down to version %d, so carrying on", label, name, version, code,
                    compat)
        return
    if version < code and not created:
        _check(conn, label)
    for step in component.migrations[version - 1:]:
        steps.append(f"{name} schema: migration {step.version - 1} -> {step.version}")
        log.info("%s: %s", label, steps[-1])
        for sql in statements(step.sql):
            conn.execute(sql)
        compat = step.compat if step.compat is not None else compat
        conn.execute(
            "UPDATE schema_versions SET version = ?, compat = ?, changed_ms = ?"
            " WHERE component = ?",
            (step.version, compat, time.time_ns() // 1_000_000, name),
        )


def _check(conn: sqlite3.Connection, label: str | Path) -> None:
    """Before changing a file: it must be intact. (Only then: on a large gateway file the
    check takes a while, and an unchanged file is checked by use.)"""
    problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise SchemaError(f"{label}: damaged database, not migrated: {'; '.join(problems)}"
                          .replace("\n", " "))


def migrate_file(path: Path | str, *components: Component, timeout_s: float = 30.0) -> None:
    """`migrate` on a connection of its own, for callers that hold none yet (a CLI, a
    process's start-up check)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=timeout_s)
    except sqlite3.Error as exc:
        raise SchemaError(f"{path}: cannot open: {exc}") from None
    try:
        migrate(conn, path, *components)
    finally:
        conn.close()


async def migrate_async(db, label: str | Path, *components: Component) -> None:
    """`migrate` on an aiosqlite connection, run on that connection's own thread (queued
    like any of its statements, so nothing else on it interleaves)."""
    await db._execute(migrate, db._conn, label, *components)
