"""People counted through the door by the board reach the console as coverage: the real
board firmware on a pseudo-terminal, the kiosk's board link, MQTT, the gateway."""

from __future__ import annotations

import asyncio

from firmware.kiosk.board import BoardLink, DoorEventStore
from firmware.kiosk.reading import Reading
from simulators.board import BoardSimulator
from simulators.population import first_of_colour
from tests.conftest import get_json, poll


async def test_people_counted_at_the_door_show_as_coverage(tmp_path, kiosk_factory, gateway):
    with BoardSimulator() as sim:
        board = BoardLink(sim.path, DoorEventStore(tmp_path / "board-events.sqlite"))
        await board.start()
        k = await kiosk_factory(counter=board)
        try:
            for _ in range(3):
                await asyncio.to_thread(sim.walk, "in")
            await asyncio.to_thread(sim.walk, "out")
            k.readings.present(Reading("code", first_of_colour(7, "green").code_url))
            k.readings.present(Reading("code", first_of_colour(7, "green").code_url))
            await k.lights.wait_for(2)

            async def door_row():
                rows = (await get_json(gateway + "/api/counts"))["doors"]
                row = next((r for r in rows if r["door"] == "door-1"), None)
                return row if row and row.get("people") == 3 and row.get("checked") == 2 else None

            row = await poll(door_row, timeout=15)
            assert abs(row["coverage"] - 2 / 3) < 0.01, row
            # People went through a door nobody had signed on at (一码一守): one alert,
            # raised by the people counted before any scan.
            alerts = await get_json(gateway + "/api/alerts?open=false")
            unattended = [a for a in alerts if a["kind"] == "door_unattended"]
            assert [(a["door"], a["action"]) for a in unattended] == [("door-1", "people")]
        finally:
            await board.close()
