"""Temperature with the scan, at a real door: gateway, broker and platform simulator as
processes, the board simulator on a pty with an MLX90614 on its I2C bus, the kiosk's own
board driver. A visitor at or above the threshold is held for a re-check and the person
on duty is alerted; below it the door opens as before; a sensor that stops answering
leaves the scan going on without a temperature and the fault on the kiosk's health. The
driver and the board's side of it are tested under CPython and MicroPython in
firmware/tests/test_thermometer.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from firmware.board.sim_pins import SimMLX90614
from firmware.kiosk import config as kiosk_config
from firmware.kiosk.board import BoardLink, DoorEventStore
from firmware.kiosk.board_signal import BoardSignal
from firmware.kiosk.health import Health
from firmware.kiosk.kiosk import Kiosk
from firmware.kiosk.reading import Reading
from firmware.kiosk.screen.state import ScreenState
from firmware.verdict import Verdict
from simulators import processes
from simulators.board import BoardSimulator
from simulators.population import population
from simulators.visitors import QueuedReadings
from tests.conftest import SITE, get_json, poll


@contextlib.asynccontextmanager
async def door(tmp_path: Path, broker, sim: BoardSimulator,
               thermometer: bool = True) -> AsyncIterator[tuple[Kiosk, BoardLink]]:
    health = Health()  # one for every device, as on a real kiosk
    board = BoardLink(sim.path, DoorEventStore(tmp_path / "board.sqlite"), health)
    screen = ScreenState("east-gate")
    signal = BoardSignal(board, None, screen, show_ms=800, gate_ms=500)
    raw = processes.kiosk_config(tmp_path, SITE, "kiosk-1", "east-gate", broker.port)
    raw.update(status_interval_s=0.5, verdict_timeout_s=5)
    if thermometer:
        raw["thermometer"] = {"threshold_c": 37.3}
    cfg = kiosk_config.KioskConfig.model_validate(raw)
    kiosk = Kiosk(cfg, QueuedReadings(), signal, health,
                  thermometer=board if thermometer else None)
    task = asyncio.create_task(kiosk.run())
    try:
        await asyncio.wait_for(kiosk.session.connected.wait(), 10)
        await poll(lambda: board.beat, timeout=10)
        yield kiosk, board
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await board.close()


async def scan(kiosk: Kiosk, person) -> Verdict:
    return await kiosk.handle(Reading("code", person.code_url, medium="screen"))


async def record(platform: str, key: str) -> dict:
    async def uploaded():
        async with httpx.AsyncClient(base_url=platform) as http:
            r = await http.get(f"/sim/records/{key}")
            return r.json() if r.status_code == 200 else None

    return await poll(uploaded, timeout=15)


@pytest.mark.slow
async def test_a_high_temperature_holds_the_visitor_and_alerts_the_person_on_duty(
        tmp_path: Path, broker, gateway, platform) -> None:
    greens = [p for p in population(7) if p.colour == "green"][:3]
    with BoardSimulator(thermometer=SimMLX90614(object_cc=3650)) as sim:
        async with door(tmp_path, broker, sim) as (kiosk, _board):
            sim.set_temperature(38.2)
            started = int(time.monotonic() * 1000)
            hot = await scan(kiosk, greens[0])
            assert (hot.colour, hot.action, hot.prompt) == ("green", "hold", "high_temperature")
            await asyncio.sleep(0.3)
            assert sim.changes("relay", started) == [], "the gate stays shut"

            sim.set_temperature(36.5)
            started = int(time.monotonic() * 1000)
            normal = await scan(kiosk, greens[1])
            assert (normal.colour, normal.action) == ("green", "open")
            await poll(lambda: sim.changes("relay", started), timeout=3)

    alerts = await poll(lambda: _alerts(gateway, "high_temperature"), timeout=10)
    assert [(a["door"], a["action"]) for a in alerts] == [("east-gate", "38.2")]
    assert (await record(platform, hot.event_id))["temp_dc"] == 382
    assert (await record(platform, normal.event_id))["temp_dc"] == 365


async def _alerts(gateway: str, kind: str) -> list[dict]:
    rows = await get_json(gateway + "/api/alerts")
    assert isinstance(rows, list)
    return [a for a in rows if a["kind"] == kind]


@pytest.mark.slow
async def test_a_silent_sensor_lets_the_scan_go_on_and_is_reported(
        tmp_path: Path, broker, gateway, platform) -> None:
    person = [p for p in population(7) if p.colour == "green"][5]
    with BoardSimulator(thermometer=SimMLX90614(object_cc=3650)) as sim:
        async with door(tmp_path, broker, sim) as (kiosk, board):
            sim.set_sensor_answering(False)
            verdict = await scan(kiosk, person)
            assert (verdict.colour, verdict.action) == ("green", "open")
            assert kiosk.health.snapshot()["thermometer"] == "fault: no answer"
            assert kiosk.health.snapshot()["board"] == "ok", "the board itself is fine"

            async def reported():
                rows = await get_json(gateway + "/api/kiosks")
                assert isinstance(rows, list)
                return [k for k in rows
                        if k["health"].get("thermometer") == "fault: no answer"]

            await poll(reported, timeout=10)
            sim.set_sensor_answering(True)
            back = await board.measure()
            assert back.centi_c is not None and abs(back.centi_c - 3650) <= 2  # 0.02 K steps
            assert kiosk.health.snapshot()["thermometer"] == "ok"
    uploaded = await record(platform, verdict.event_id)
    assert "temp_dc" not in uploaded


async def test_a_door_without_a_thermometer_measures_nothing(tmp_path: Path, broker) -> None:
    with BoardSimulator() as sim:
        board = BoardLink(sim.path, DoorEventStore(tmp_path / "board.sqlite"))
        await board.start()
        try:
            got = await board.measure()
        finally:
            await board.close()
    assert (got.centi_c, got.status) == (None, "no_sensor")
