"""Versioned schemas (firmware/schema.py): every SQLite file the product writes records its
components' versions; version 1 is the last unversioned release's schema, frozen in
tests/schema_v1.py; a file from that release is adopted, later versions migrate in one
transaction, a file from a newer release is used only if it says it may be, and anything
the code cannot use stops it with one line naming the file and the versions."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiosqlite
import pytest

from firmware import schema
from firmware.kiosk import board_counts, outbox
from firmware.schema import Component, Migration, SchemaError
from gateway import alerts, app, audit, auth, console, counts, reporter, store, users
from provisioning import enrol, registry, upload
from simulators import platform_records, platform_reports, platform_venues
from tests import schema_v1

REPO = Path(__file__).resolve().parent.parent

# (frozen version-1 SQL, the component the product ships)
EVERY = [
    (schema_v1.OUTBOX, outbox.COMPONENT), (schema_v1.BOARD_EVENTS, board_counts.COMPONENT),
    (schema_v1.GATEWAY_STORE, store.COMPONENT), (schema_v1.CONSOLE_USERS, users.COMPONENT),
    (schema_v1.CONSOLE_SESSIONS, auth.COMPONENT), (schema_v1.CONSOLE_AUDIT, audit.COMPONENT),
    (schema_v1.CONSOLE_ALERTS, alerts.COMPONENT),
    (schema_v1.CONSOLE_DOOR_COUNTS, counts.COMPONENT),
    (schema_v1.CONSOLE_REPORTS, reporter.COMPONENT), (schema_v1.REGISTRY, registry.COMPONENT),
    (schema_v1.ENROLMENT, enrol.COMPONENT), (schema_v1.VENUE_UPLOADS, upload.COMPONENT),
    (schema_v1.PLATFORM_RECORDS, platform_records.COMPONENT),
    (schema_v1.PLATFORM_VENUES, platform_venues.COMPONENT),
]
IDS = [c.name for _, c in EVERY]

# A later release's outbox: one additive step (old code ignores the column) ...
OUTBOX_V2 = outbox.COMPONENT.then(
    Migration(
        2, "ALTER TABLE outbox ADD COLUMN note TEXT; CREATE INDEX outbox_note ON outbox (note);"
    ))
# ... and one that old code could not live with.
OUTBOX_V3 = OUTBOX_V2.then(Migration(3, "ALTER TABLE meta RENAME TO meta_v3;", compat=3))


def versions(path: Path) -> dict[str, tuple[int, int]]:
    db = sqlite3.connect(path)
    try:
        return {c: (v, k) for c, v, k in db.execute(
            "SELECT component, version, compat FROM schema_versions")}
    finally:
        db.close()


def dump(path: Path) -> list:
    """Everything in the file: its schema and every row of every table."""
    db = sqlite3.connect(path)
    try:
        master = sorted(db.execute("SELECT type, name, sql FROM sqlite_master"), key=str)
        rows = [sorted(db.execute(f'SELECT * FROM "{name}"'), key=str)
                for kind, name, _ in master if kind == "table"]
        return [master, rows]
    finally:
        db.close()


def old_outbox(path: Path, scans: int = 100) -> None:
    """An outbox as the last unversioned release left it, with unsent scans."""
    db = sqlite3.connect(path)
    db.executescript(schema_v1.OUTBOX)
    db.executemany("INSERT INTO outbox (seq, id, payload, created_ms) VALUES (?,?,?,?)",
                   [(n, f"id-{n}", b"{}", n) for n in range(1, scans + 1)])
    db.commit()
    db.close()


def one_line(exc: BaseException, *words: str) -> str:
    message = str(exc)
    assert "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


# --- version 1 ---------------------------------------------------------------------------

@pytest.mark.parametrize(("frozen", "component"), EVERY, ids=IDS)
def test_version_1_is_the_last_unversioned_schema(frozen: str, component: Component):
    assert component.baseline == frozen, "version 1 never changes: add a Migration instead"


@pytest.mark.parametrize(("frozen", "component"), EVERY, ids=IDS)
def test_a_file_of_the_last_unversioned_release_is_adopted_as_version_1(
        tmp_path: Path, frozen: str, component: Component):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(frozen)
    db.close()
    before = dump(path)
    schema.migrate_file(path, component)
    after = dump(path)
    latest = max([1, *(m.version for m in component.migrations)])
    assert versions(path)[component.name][0] == latest
    if latest == 1:
        kept = [row for row in after[0] if "schema_versions" not in row[1]]
        assert kept == before[0], "adopting changes nothing but the version record"
    schema.migrate_file(path, component)  # and again: nothing to do
    assert dump(path)[0] == after[0]


def test_every_file_the_product_writes_is_versioned(tmp_path: Path):
    """Opened through the product's own code, each file records every component in it."""
    async def open_async() -> None:
        o = outbox.Outbox(tmp_path / "outbox.sqlite")
        await o.open()
        await o.close()
        s = await store.Store.open(tmp_path / "gateway.sqlite")
        await s.close()

    asyncio.run(open_async())
    board_counts.DoorEventStore(tmp_path / "board.sqlite").close()
    schema.migrate_file(tmp_path / "gateway.sqlite", *app.DATABASE)
    with registry.Registry(tmp_path / "register.sqlite") as reg:
        enrol.Enrolment(reg, enrol.SiteSetup("site-1", tmp_path / "site"))
        upload.upload(reg, "http://127.0.0.1:9", client=_NoHttp())
    platform_records.RecordStore(tmp_path / "platform.sqlite")
    platform_venues.VenueBook(tmp_path / "platform.sqlite")
    platform_reports.ReportDesk(tmp_path / "platform.sqlite")

    assert versions(tmp_path / "outbox.sqlite") == {"outbox": (1, 1)}
    assert versions(tmp_path / "board.sqlite") == {"board_events": (1, 1)}
    assert versions(tmp_path / "gateway.sqlite") == {
        c.name: (c.version, 1) for c in (store.COMPONENT, *console.COMPONENTS)}
    assert versions(tmp_path / "register.sqlite") == {
        "registry": (registry.COMPONENT.version, 1), "enrolment": (enrol.COMPONENT.version, 1),
        "venue_uploads": (1, 1)}
    assert versions(tmp_path / "platform.sqlite") == {
        "platform_records": (platform_records.COMPONENT.version, 1),
        "platform_venues": (1, 1), "platform_reports": (1, 1)}


class _NoHttp:
    """An HTTP client for an upload with nothing to send."""

    def post(self, *args, **kwargs):
        raise AssertionError("nothing to upload")

    def close(self) -> None:
        pass


def test_a_version_1_table_in_another_shape_is_refused(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT)")  # not as v1 has it
    db.close()
    with pytest.raises(SchemaError) as caught:
        schema.migrate_file(path, outbox.COMPONENT)
    one_line(caught.value, str(path), "outbox", "table outbox", "version 1")
    assert not versions_table(path)


def versions_table(path: Path) -> bool:
    db = sqlite3.connect(path)
    try:
        return bool(db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'schema_versions'").fetchone())
    finally:
        db.close()


# --- migrations ------------------------------------------------------------------------

def test_migrations_run_in_order_logged_and_the_data_stays(tmp_path: Path, caplog):
    path = tmp_path / "outbox.sqlite"
    old_outbox(path, 100)
    caplog.set_level(logging.INFO, logger="firmware.schema")
    schema.migrate_file(path, OUTBOX_V2)
    assert versions(path) == {"outbox": (2, 1)}  # additive: version 1 code still reads it
    log = caplog.text
    assert "adopting an unversioned file as version 1" in log
    assert "outbox schema: migration 1 -> 2: done" in log and str(path) in log
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*), count(note) FROM outbox").fetchone() == (100, 0)
    db.close()


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    old_outbox(path, 50)
    schema.migrate_file(path, outbox.COMPONENT)
    before = dump(path)
    broken = OUTBOX_V2.then(Migration(3, "UPDATE outbox SET note = 'x'; "
                                         "ALTER TABLE no_such_table ADD COLUMN y TEXT;"))
    with pytest.raises(SchemaError) as caught:
        schema.migrate_file(path, broken)
    one_line(caught.value, str(path), "outbox", "migration 2 -> 3", "left as it was",
             "no_such_table")
    assert dump(path) == before, "neither migration 2 nor the first half of 3 stayed"


def test_a_file_from_a_newer_release_is_used_when_it_says_so_refused_otherwise(
        tmp_path: Path, caplog):
    path = tmp_path / "outbox.sqlite"
    old_outbox(path, 10)
    schema.migrate_file(path, OUTBOX_V2)
    caplog.set_level(logging.WARNING, logger="firmware.schema")
    schema.migrate_file(path, outbox.COMPONENT)  # rolled back to version 1: carries on
    assert "newer than this release's 1" in caplog.text
    assert versions(path) == {"outbox": (2, 1)}

    schema.migrate_file(path, OUTBOX_V3)
    assert versions(path) == {"outbox": (3, 3)}
    for older in (outbox.COMPONENT, OUTBOX_V2):
        before = dump(path)
        with pytest.raises(SchemaError) as caught:
            schema.migrate_file(path, older)
        one_line(caught.value, str(path), "outbox schema is version 3",
                 "version 3 or later", f"reads up to version {older.version}")
        assert dump(path) == before


def test_a_file_that_is_not_a_database_gives_one_line(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not sqlite at all\n" * 200)
    with pytest.raises(SchemaError) as caught:
        schema.migrate_file(path, outbox.COMPONENT)
    one_line(caught.value, str(path), "not a usable SQLite database")


def test_a_damaged_file_is_not_migrated(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    old_outbox(path, 3000)
    schema.migrate_file(path, outbox.COMPONENT)
    data = bytearray(path.read_bytes())
    page = 4096
    for n in range(3, len(data) // page - 1, 3):  # scribble over every third page's cells
        data[n * page + 100:n * page + 3000] = os.urandom(2900)
    path.write_bytes(bytes(data))
    with pytest.raises(SchemaError) as caught:
        schema.migrate_file(path, OUTBOX_V2)
    one_line(caught.value, str(path))
    assert "damaged" in str(caught.value) or "malformed" in str(caught.value)


def test_script_statements_keep_triggers_whole():
    parts = list(schema.statements(schema_v1.OUTBOX))
    assert len(parts) == 4 and parts[-1].startswith("-- The highest")
    assert parts[-1].rstrip().endswith("END;") and "UPDATE meta" in parts[-1]


def test_component_versions_must_follow_each_other():
    with pytest.raises(ValueError, match="migration 3 where 2 belongs"):
        Component("x", "CREATE TABLE t (a)", (Migration(3, "SELECT 1"),))


async def test_aiosqlite_connections_migrate_on_their_own_thread(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    old_outbox(path, 5)
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await schema.migrate_async(db, path, OUTBOX_V2)
        async with db.execute("SELECT count(note), count(*) FROM outbox") as cur:
            assert await cur.fetchone() == (0, 5)
    finally:
        await db.close()
    assert versions(path) == {"outbox": (2, 1)}


# --- the processes ---------------------------------------------------------------------

def run(module: str, config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, "--config", str(config)], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))


def last_line_only(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("module", ["simulators.kiosk"])
def test_the_kiosk_stops_with_one_line_on_a_file_it_cannot_use(tmp_path: Path, module: str):
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'site = "s1"\nkiosk = "k1"\ndoor = "d1"\ndata_dir = "{data}"\n'
                      '[broker]\nport = 9\n[input]\nkind = "simulated"\n'
                      '[signal]\nkind = "lights"\n')
    old_outbox(data / "outbox.sqlite", 3)
    schema.migrate_file(data / "outbox.sqlite", OUTBOX_V3)  # a release this one predates
    last_line_only(run(module, config, tmp_path), "kiosk: ", str(data / "outbox.sqlite"),
                   "version 3", "reads up to version 1")
    (data / "outbox.sqlite").write_bytes(b"\0garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        (data / f"outbox.sqlite{suffix}").unlink(missing_ok=True)
    last_line_only(run(module, config, tmp_path), "kiosk: ", str(data / "outbox.sqlite"),
                   "not a usable SQLite database")


def test_the_gateway_stops_with_one_line_on_a_file_it_cannot_use(tmp_path: Path):
    db_path = tmp_path / "gateway.sqlite"
    config = tmp_path / "gateway.toml"
    config.write_text(f'site = "s1"\ndb_path = "{db_path}"\n'
                      'pseudonym_key = "0123456789abcdef0123"\n[http]\nport = 9\n')
    db = sqlite3.connect(db_path)
    db.executescript(schema_v1.GATEWAY_STORE)
    db.close()
    ours = store.COMPONENT.version
    newer = store.COMPONENT.then(Migration(ours + 1, "ALTER TABLE uploads RENAME TO uploads_v2",
                                           ours + 1))
    schema.migrate_file(db_path, newer)
    last_line_only(run("gateway", config, tmp_path), "gateway: ", str(db_path),
                   f"store schema is version {ours + 1}", f"reads up to version {ours}")


# --- the rules that keep a rollback readable (docs/install.md, "Data files") -------------

@pytest.mark.parametrize(("frozen", "component"), EVERY, ids=IDS)
def test_the_previous_version_can_always_use_a_migrated_file(frozen: str, component: Component):
    for step in component.migrations:
        assert step.compat is None or step.compat < step.version, (
            f"{component.name} migration {step.version}: the release before cannot read it; "
            "split the change over two releases")


def test_product_code_reads_and_writes_named_columns_only():
    """A column a newer release added must not disturb an older one."""
    import re

    bad = re.compile(r"SELECT\s+\*|INSERT\s+(OR\s+\w+\s+)?INTO\s+\w+\s+(VALUES|SELECT)")
    found = [f"{path.relative_to(REPO)}:{n}" for part in ("firmware", "gateway", "provisioning",
                                                          "simulators")
             for path in (REPO / part).rglob("*.py") if "node_modules" not in path.parts
             for n, line in enumerate(path.read_text().splitlines(), 1) if bad.search(line)]
    assert not found, found
