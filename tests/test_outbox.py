"""The kiosk's outbox on real SQLite files: gap-free numbering across restarts and
confirmations, and a full disk that refuses a scan without losing a number or a queued
scan — and, at the door, turns into a manual check and a health fault, never a crash."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from firmware import protocol
from firmware.kiosk.outbox import Outbox
from firmware.kiosk.reading import Reading
from firmware.kiosk.sender import mark_replay
from simulators.population import first_of_colour
from tests import schema_v1
from tests.conftest import get_json, poll


def builder(size: int = 100):
    def build(seq: int):
        event_id = protocol.EventIds().new()
        payload = json.dumps({"seq": seq, "pad": "x" * size}).encode()
        return event_id, payload, protocol.now_ms()
    return build


async def full_disk(outbox: Outbox, full: bool) -> None:
    """A full SD card, made with SQLite's own size bound: the file may not grow (past
    max_page_count every write fails with SQLITE_FULL) and what room is left inside it is
    taken by filler rows. Freeing the disk drops them and lifts the bound."""
    db = outbox._db  # the writer's connection
    if not full:
        db.execute("DROP TABLE IF EXISTS filler")
        db.execute("PRAGMA max_page_count=1000000000")
        return
    db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    db.execute("PRAGMA max_page_count=1")  # = the pages it has now
    for size in (4000, 500, 50, 1):
        while True:
            try:
                db.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))
            except sqlite3.OperationalError as exc:
                assert "full" in str(exc)
                break


async def test_sequence_is_gap_free_across_confirmations_and_restarts(tmp_path):
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    await outbox.open()
    added = [await outbox.add(builder()) for _ in range(3)]
    assert [p.seq for p in added] == [1, 2, 3]
    assert await outbox.confirm([added[0].id, added[1].id]) == 2
    await outbox.close()

    outbox = Outbox(path)  # a restart: numbering continues, the rest is queued
    await outbox.open()
    assert [p.id for p in await outbox.after(0)] == [added[2].id]
    assert await outbox.confirm([added[2].id]) == 1
    await outbox.close()

    outbox = Outbox(path)  # everything confirmed: still no number reused
    await outbox.open()
    assert (await outbox.add(builder())).seq == 4
    assert await outbox.last_seq() == 4
    assert await outbox.first_unconfirmed() == 4
    await outbox.close()


async def test_numbering_moves_above_what_the_gateway_holds(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite")
    await outbox.open()
    assert await outbox.raise_seq(500) is True
    assert await outbox.raise_seq(10) is False  # never backwards
    assert (await outbox.add(builder())).seq == 501
    await outbox.close()


async def test_a_new_outbox_numbers_in_a_new_epoch_and_keeps_it(tmp_path):
    path = tmp_path / "outbox.sqlite"
    epochs = set()
    for _life in range(3):  # a new kiosk, then wiped twice
        outbox = Outbox(path)
        await outbox.open()
        assert outbox.fresh and 1 <= outbox.epoch <= protocol.MAX_EPOCH
        assert (await outbox.add(builder())).seq == 1
        epochs.add(outbox.epoch)
        await outbox.close()
        reopened = Outbox(path)  # a restart keeps the epoch and the numbering
        await reopened.open()
        assert reopened.epoch == outbox.epoch and not reopened.fresh
        assert (await reopened.add(builder())).seq == 2
        await reopened.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert len(epochs) == 3, "every life of the data numbers in an epoch of its own"


async def test_an_outbox_from_before_epochs_keeps_its_numbering(tmp_path):
    numbered, empty = tmp_path / "numbered.sqlite", tmp_path / "empty.sqlite"
    for path, scans in ((numbered, 3), (empty, 0)):
        db = sqlite3.connect(path)
        db.executescript(schema_v1.OUTBOX)
        for seq in range(1, scans + 1):
            db.execute("INSERT INTO outbox (seq, id, payload, created_ms) VALUES (?,?,?,?)",
                       (seq, protocol.EventIds().new(), b"{}", 1))
        db.commit()
        db.close()
    outbox = Outbox(numbered)
    await outbox.open()
    assert outbox.epoch == 0, "its scans already went out without an epoch"
    assert (await outbox.add(builder())).seq == 4
    await outbox.close()
    outbox = Outbox(empty)
    await outbox.open()
    assert outbox.epoch != 0, "nothing numbered yet: it may as well start a new epoch"
    await outbox.close()


async def test_full_disk_refuses_the_scan_and_loses_nothing(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite")
    await outbox.open()
    queued = [await outbox.add(builder()) for _ in range(2)]
    await full_disk(outbox, True)
    for _ in range(3):
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await outbox.add(builder(size=5000))  # a page of its own, as any scan in time
    assert [p.id for p in await outbox.after(0)] == [p.id for p in queued]
    await full_disk(outbox, False)  # space freed
    assert (await outbox.add(builder(size=5000))).seq == 3  # no number was used up
    assert await outbox.last_seq() == 3
    await outbox.close()


def test_a_replay_mark_keeps_the_scan_intact():
    msg = protocol.scan("0192f0c2-7b1a-7c3d-8e4f-0123456789ab", "kiosk-1", "door-1", 5,
                        protocol.now_ms(), "code", 'https://hc.example/a"replay"b',
                        medium="screen")
    for m in (msg, {k: v for k, v in msg.items() if k != "credential"} | {"credential": "abc"}):
        payload = protocol.encode(protocol.SCAN, m)
        _site, _kiosk, _kind, marked = protocol.decode("placecode/s/kiosk-1/scan",
                                                        mark_replay(payload))
        assert marked == m | {"replay": True}


async def refusing_disk(outbox: Outbox, refuse: bool) -> None:
    """A card that has gone read-only (what SD cards do when they wear out): every write
    to the outbox fails, as on a full one."""
    outbox._db.execute(f"PRAGMA query_only={int(refuse)}")


async def test_kiosk_whose_disk_refuses_holds_the_person_and_reports_it(kiosk_factory, gateway):
    k = await kiosk_factory()
    person = first_of_colour(7, "green")
    k.readings.present(Reading("code", person.code_url, medium="screen"))
    (first, _), = await k.lights.wait_for(1, timeout=10)
    assert first.action == "open"

    await refusing_disk(k.kiosk.outbox, True)
    k.readings.present(Reading("code", person.code_url, medium="screen"))
    verdict, look = (await k.lights.wait_for(2, timeout=10))[-1]
    assert (verdict.colour, verdict.action, verdict.prompt) == ("unknown", "hold", "manual_check")
    assert not look.gate  # nobody is let through on a scan that was not recorded
    assert k.kiosk.health.snapshot()["disk"].startswith("fault: scans cannot be stored")

    async def console_sees_fault():
        kiosks = await get_json(gateway + "/api/kiosks")
        row = next(r for r in kiosks if r["kiosk"] == "kiosk-1")
        return "fault" in json.dumps(row.get("health"))
    await poll(console_sees_fault)

    await refusing_disk(k.kiosk.outbox, False)
    k.readings.present(Reading("code", person.code_url, medium="screen"))
    verdict, _ = (await k.lights.wait_for(3, timeout=10))[-1]
    assert verdict.action == "open" and verdict.source in ("platform", "cache")
    assert k.kiosk.health.snapshot()["disk"] == "ok"
    assert await k.kiosk.outbox.last_seq() == 2  # the refused scan used no number
