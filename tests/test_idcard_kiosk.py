"""The whole door with an ID card: a card laid on the simulated reader goes through the
kiosk, the real broker, the gateway and the platform simulator, and the door shows that
person's verdict once — not again while the card lies there."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.health import Health
from firmware.kiosk.idcard.source import IdCardSource
from firmware.kiosk.kiosk import Kiosk
from simulators import processes
from simulators.cardholders import resident_card_for
from simulators.idcard_reader import ReaderSimulator
from simulators.lights import SimulatedLights
from simulators.population import first_of_colour
from tests.conftest import SITE, get_json, poll

SEED = 7  # the platform simulator's default population seed


async def test_card_gets_the_persons_verdict_once(
    tmp_path: Path, broker, gateway, platform
) -> None:
    raw = processes.kiosk_config(tmp_path, SITE, "kiosk-1", "door-1", broker.port)
    cfg = kiosk_config.KioskConfig.model_validate(raw)
    green, red = first_of_colour(SEED, "green"), first_of_colour(SEED, "red")
    health, lights = Health(), SimulatedLights()
    with ReaderSimulator(tmp_path / "idcard", rf_scale=0.2) as sim:
        source = IdCardSource(sim.path, health)
        kiosk = Kiosk(cfg, source, lights, health)
        task = asyncio.create_task(kiosk.run())
        try:
            await asyncio.wait_for(kiosk.ready.wait(), 5)
            await asyncio.wait_for(kiosk.session.connected.wait(), 10)
            sim.place(resident_card_for(green.id_number, green.name))
            ((verdict, look),) = await lights.wait_for(1, timeout=10)
            assert (verdict.colour, verdict.action, verdict.source) == (
                "green",
                "open",
                "platform",
            )
            assert look.gate

            await asyncio.sleep(1.0)  # the card stays on the reader
            assert len(lights.shown) == 1

            sim.remove()
            await poll(lambda: not source.card_present, timeout=5, interval=0.01)
            sim.place(resident_card_for(red.id_number, red.name))
            shown = await lights.wait_for(2, timeout=10)
            assert (shown[1][0].colour, shown[1][1].gate) == ("red", False)

            sim.unplug()
            await poll(lambda: health.snapshot().get("reader", "").startswith("fault"))
            sim.plug()
            await poll(lambda: health.snapshot().get("reader") == "ok")

            entries = await get_json(gateway + "/api/entries")
            assert {e["colour"] for e in entries} == {"green", "red"}
            assert green.id_number not in str(entries) and green.name not in str(entries)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
