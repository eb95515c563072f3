"""firmware/supervise.py: a background task that ends is reported once, with its cause;
tasks cancelled at shutdown are not deaths."""

from __future__ import annotations

import asyncio
import logging

import pytest

from firmware.supervise import Supervisor, TaskDied, supervise


async def forever() -> None:
    await asyncio.Event().wait()


async def fails_soon() -> None:
    await asyncio.sleep(0.01)
    raise OSError("disk gone")


async def test_a_task_that_raises_is_reported_once_with_its_traceback(caplog):
    deaths: list[TaskDied] = []
    supervisor = Supervisor(deaths.append)
    supervisor.start("steady", forever())
    supervisor.start("broken", fails_soon())
    supervisor.start("also-broken", fails_soon())
    with caplog.at_level(logging.CRITICAL, logger="firmware.supervise"):
        await asyncio.sleep(0.1)
    assert len(deaths) == 1 and deaths[0].name in ("broken", "also-broken")
    assert isinstance(deaths[0].__cause__, OSError)
    died = [r for r in caplog.records if "died" in r.getMessage()]
    assert died and all(r.exc_info for r in died)
    await supervisor.stop()
    assert len(deaths) == 1


async def test_a_task_that_returns_is_a_death_and_stopping_is_not():
    deaths: list[TaskDied] = []
    supervisor = Supervisor(deaths.append)
    supervisor.start("steady", forever())
    await supervisor.stop()
    assert deaths == []
    supervisor = Supervisor(deaths.append)
    supervisor.start("quits", asyncio.sleep(0))
    await asyncio.sleep(0.05)
    assert [d.name for d in deaths] == ["quits"] and deaths[0].__cause__ is None


async def test_supervise_cancels_the_rest_and_raises_the_death():
    cancelled = asyncio.Event()

    async def steady() -> None:
        try:
            await forever()
        finally:
            cancelled.set()

    with pytest.raises(TaskDied) as raised:
        await supervise({"steady": steady(), "broken": fails_soon()})
    assert raised.value.name == "broken" and isinstance(raised.value.__cause__, OSError)
    assert cancelled.is_set()
