"""Supervised background tasks: a task that ends is a process that must stop.

A host process's background tasks (MQTT session, store writer, forwarder, …) run for the
life of the process; one that ends, with an exception or without, leaves the process
running but no longer doing its job. The supervisor logs the ending with its traceback
and calls `on_death` once, so the process can exit non-zero and its service manager
(systemd) start it again. Cancellation at shutdown is not a death.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskDied(RuntimeError):
    """A supervised task ended; `__cause__` holds its exception, if it raised one."""

    def __init__(self, name: str) -> None:
        super().__init__(f"background task {name!r} ended")
        self.name = name


class Supervisor:
    def __init__(self, on_death: Callable[[TaskDied], None]) -> None:
        self.on_death = on_death
        self.died: TaskDied | None = None
        self._tasks: dict[asyncio.Future[Any], str] = {}
        self._stopping = False

    def start(self, name: str, work: Coroutine[object, object, object]) -> asyncio.Future[Any]:
        return self.watch(name, asyncio.create_task(work, name=name))

    def watch(self, name: str, task: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """Supervise a task started elsewhere (e.g. the store's writer)."""
        self._tasks[task] = name
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Future[Any]) -> None:
        name = self._tasks[task]
        if self._stopping or task.cancelled():
            return
        exc = task.exception()
        died = TaskDied(name)
        died.__cause__ = exc
        if exc is not None:
            log.critical("background task %s died", name, exc_info=exc)
        else:
            log.critical("background task %s ended", name)
        if self.died is None:
            self.died = died
            self.on_death(died)

    async def stop(self) -> None:
        """Cancel every task and wait for them; an exception other than the cancellation
        is logged with its traceback, never swallowed."""
        self._stopping = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            cancelled = isinstance(result, asyncio.CancelledError)
            if isinstance(result, BaseException) and not cancelled:
                log.error("background task %s failed while stopping", self._tasks[task],
                          exc_info=result)


async def supervise(tasks: dict[str, Awaitable[object]]) -> None:
    """Run named tasks until the first one ends; cancel the others and raise TaskDied
    (its cause: that task's exception). For processes without a server of their own."""
    ended: asyncio.Future[TaskDied] = asyncio.get_running_loop().create_future()

    def on_death(died: TaskDied) -> None:
        if not ended.done():
            ended.set_result(died)

    supervisor = Supervisor(on_death)
    for name, work in tasks.items():
        supervisor.watch(name, asyncio.ensure_future(work))
    try:
        died = await ended
    finally:
        await supervisor.stop()
    raise died
