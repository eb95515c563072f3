"""The gateway's store: idempotent on event id, and records leave for the platform in
sequence order per kiosk however the scans arrived."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import aiosqlite
import pytest

from firmware import protocol
from gateway.read_model import ReadModel
from gateway.store import Store, patiently

IDS = protocol.EventIds()

async def open_store(path, **options) -> tuple[Store, ReadModel]:
    """The store and a read model on its file, as the gateway has them."""
    store = await Store.open(path, **options)
    return store, await ReadModel.open(path)


async def close_store(store: Store, reads: ReadModel) -> None:
    await reads.close()
    await store.close()



def scan(kiosk: str, seq: int) -> dict:
    return protocol.scan(IDS.new(), kiosk, "door", seq, 1, "code", "token")


async def add(store: Store, msg: dict) -> bool:
    return await store.add_scan(msg, 1, "subject", "masked", None, {"seq": msg["seq"]})


async def test_a_scan_is_stored_once(tmp_path):
    store, reads = await open_store(tmp_path / "g.sqlite")
    msg = scan("k1", 1)
    assert await add(store, msg) is True
    assert await add(store, msg) is False
    assert len(await reads.pending_uploads(10, 0)) == 1
    await close_store(store, reads)


async def test_uploads_leave_in_sequence_order_whatever_the_arrival_order(tmp_path):
    store, reads = await open_store(tmp_path / "g.sqlite")
    rng = random.Random(5)
    order = list(range(1, 300))
    for _ in range(40):  # local swaps: resends overtaking, as after a reconnect
        i = rng.randrange(0, 280)
        j = i + rng.randrange(1, 15)
        order[i], order[j] = order[j], order[i]
    uploaded: list[int] = []
    done = False

    async def forwarder() -> None:
        while not done:
            batch = await reads.pending_uploads(40, hold_before_ms=0)
            if batch:
                uploaded.extend(body["seq"] for _n, body in batch)
                await store.confirm_uploads([n for n, _b in batch])
            await asyncio.sleep(0)

    task = asyncio.create_task(forwarder())
    adds = []
    for seq in order:
        adds.append(asyncio.create_task(add(store, scan("k1", seq))))
        if rng.random() < 0.3:
            await asyncio.sleep(0)
    await asyncio.gather(*adds)
    await asyncio.sleep(0.3)
    done = True
    await task
    assert uploaded == list(range(1, 300))
    await close_store(store, reads)


async def test_a_gap_holds_later_records_until_filled_or_reported_lost(tmp_path):
    store, reads = await open_store(tmp_path / "g.sqlite")
    for seq in (1, 2, 4, 5):
        await add(store, scan("k1", seq))
    assert [b["seq"] for _n, b in await reads.pending_uploads(10, 0)] == [1, 2]
    # 3 was stored elsewhere
    store.kiosk_status({"kiosk": "k1", "state": "online", "first_seq": 4}, 1)
    await add(store, scan("k1", 6))
    assert [b["seq"] for _n, b in await reads.pending_uploads(10, 0)] == [1, 2, 4, 5, 6]
    kiosk = next(k for k in await reads.kiosks() if k["kiosk"] == "k1")
    assert (kiosk["contiguous"], kiosk["high"], kiosk["missing"]) == (6, 6, 0)
    await close_store(store, reads)


async def test_a_write_lock_held_elsewhere_delays_scans_but_loses_none(tmp_path):
    """Another connection (a purge, an installer's sqlite3 shell) holds the write lock for
    longer than SQLite's busy timeout: the scans queued meanwhile are committed once it is
    released, none fails back to its kiosk, and nothing is stored twice."""
    path = tmp_path / "g.sqlite"
    # SQLite's own wait, shortened
    store, reads = await open_store(path, busy_timeout_ms=100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    adds = [asyncio.create_task(add(store, scan("k1", seq))) for seq in range(1, 51)]
    await asyncio.sleep(1.0)  # ten busy timeouts
    assert not any(task.done() for task in adds)
    holder.execute("COMMIT")
    holder.close()
    assert await asyncio.gather(*adds) == [True] * 50
    assert store.busy_waits >= 2
    assert [body["seq"] for _n, body in await reads.pending_uploads(100, 0)] == list(range(1, 51))
    await close_store(store, reads)


async def test_a_write_waits_out_a_lock_held_elsewhere(tmp_path):
    """The console's background writes (alerts, door counts, the report's record) wait for
    a lock held past SQLite's busy timeout (a nightly VACUUM), instead of failing."""
    path = tmp_path / "g.sqlite"
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA busy_timeout=100")
    await db.execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    write = asyncio.create_task(patiently(lambda: db.execute("INSERT INTO t VALUES (1)"), "t"))
    await asyncio.sleep(0.6)
    assert not write.done()
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(write, 10)
    async with db.execute("SELECT count(*) FROM t") as cur:
        assert (await cur.fetchone())[0] == 1
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await patiently(lambda: db.execute("INSERT INTO missing VALUES (1)"), "missing")
    await db.close()
