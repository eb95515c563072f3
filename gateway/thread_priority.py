"""Lower the CPU priority of a SQLite connection's worker thread (aiosqlite runs each
connection on a thread of its own).

Work that no visitor waits for (the store's commits, reading records to upload) yields
the CPU to the event loop, which answers the door, whenever the machine is busy; when it
is not, the thread runs as fast as ever. Linux schedules threads one by one, and a
thread's id can be given to setpriority; raising a niceness needs no privilege. Where that
does not work (another system) the thread keeps the process's priority.
"""

from __future__ import annotations

import contextlib
import os
import threading

import aiosqlite


async def lower(db: aiosqlite.Connection, steps: int) -> None:
    """Raise the niceness of `db`'s worker thread by `steps`."""
    # the thread's own id, read on that thread: a function SQLite calls there
    await db.create_function("placecode_thread_id", 0, threading.get_native_id)
    async with db.execute("SELECT placecode_thread_id()") as cursor:
        row = await cursor.fetchone()
    if row is None:
        return
    thread_id = int(row[0])
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, thread_id,
                       os.getpriority(os.PRIO_PROCESS, thread_id) + steps)
