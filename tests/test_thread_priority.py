"""The store's writer and the upload reader run below the event loop's CPU priority
(gateway/thread_priority.py): a busy gateway answers the door first."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import aiosqlite

from gateway.read_model import ReadModel
from gateway.store import WRITER_NICE, Store


async def niceness_of(db: aiosqlite.Connection) -> int:
    await db.create_function("test_thread_id", 0, threading.get_native_id)
    async with db.execute("SELECT test_thread_id()") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return os.getpriority(os.PRIO_PROCESS, int(row[0]))


async def test_the_writer_and_the_upload_reader_run_below_the_event_loop(tmp_path: Path):
    path = tmp_path / "gateway.sqlite"
    store = await Store.open(path)
    uploads = await ReadModel.open(path, background=True)
    console = await ReadModel.open(path)
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    try:
        assert await niceness_of(store._db) == min(19, own + WRITER_NICE)
        assert await niceness_of(uploads.db) == min(19, own + WRITER_NICE)
        assert await niceness_of(console.db) == own, "the console's reads are not background"
    finally:
        await console.close()
        await uploads.close()
        await store.close()
