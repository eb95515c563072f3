"""A task stopped while its timed wait is finishing stops: the cancellation is not lost
to the wait (Python 3.11's asyncio.wait_for loses it; CI saw a kiosk hang that way)."""

from __future__ import annotations

import asyncio

import pytest

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.kiosk import Kiosk
from firmware.timeouts import event_set_within, within
from simulators import processes
from simulators.lights import SimulatedLights
from simulators.visitors import QueuedReadings
from tests.conftest import SITE

TURNS = range(8)  # loop turns between the event and the cancel: one of them is the race


async def stop_during_wakeup(loop_body, wake, turns: int) -> bool:
    """Run `loop_body` forever in a task and see that it stops when woken and cancelled."""
    async def forever():
        while True:
            await loop_body()

    task = asyncio.create_task(forever())
    await asyncio.sleep(0.01)  # waiting now
    return await stops(task, wake, turns) and task.cancelled()


async def stops(task: asyncio.Task, wake, turns: int) -> bool:
    """Wake the task, cancel it `turns` loop turns later; True if it ended within 5 s."""
    wake()
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    if not done:  # do not leave it behind, as far as another cancel can reach it
        task.cancel()
        await asyncio.wait([task], timeout=1)
    return bool(done)


@pytest.mark.parametrize("turns", TURNS)
async def test_a_loop_waiting_on_an_event_stops_when_cancelled_as_the_event_is_set(turns):
    event = asyncio.Event()

    async def body():
        await event_set_within(event, 10)
        event.clear()

    assert await stop_during_wakeup(body, event.set, turns)


@pytest.mark.parametrize("turns", TURNS)
async def test_a_loop_waiting_on_a_queue_stops_when_cancelled_as_an_item_arrives(turns):
    queue: asyncio.Queue[int] = asyncio.Queue()
    assert await stop_during_wakeup(lambda: within(queue.get(), 10), lambda: queue.put_nowait(1),
                                    turns)


async def test_the_limits_still_hold():
    event = asyncio.Event()
    assert await event_set_within(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await event_set_within(event, 5) is True
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)
    assert await within(asyncio.sleep(0, "done"), 5) == "done"


@pytest.mark.parametrize("turns", TURNS)
async def test_a_kiosk_stops_when_stopped_as_its_health_changes(tmp_path, broker, turns):
    """What CI saw: a kiosk stopped (systemctl stop, a test's teardown) just as a device
    reported a fault never finished stopping; its status loop had lost the cancel."""
    raw = processes.kiosk_config(tmp_path, SITE, "kiosk-1", "door-1", broker.port)
    kiosk = Kiosk(kiosk_config.KioskConfig.model_validate(raw), QueuedReadings(),
                  SimulatedLights())
    task = asyncio.create_task(kiosk.run())
    await asyncio.wait_for(kiosk.ready.wait(), 5)
    await asyncio.wait_for(kiosk.session.connected.wait(), 10)
    await asyncio.sleep(0.05)  # its status loop is waiting for a change
    assert await stops(task, lambda: kiosk.health.report("camera", False), turns)

