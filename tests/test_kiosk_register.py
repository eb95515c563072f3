"""A visitor with neither phone nor ID card registered on the kiosk's own screen: the
panel's form (real HTTP to the screen app) feeds the kiosk a manual reading, which goes
through the real broker and gateway to the platform simulator like any scan. The form is
closed until a staff card signs someone on at the door (the real tap, answered by the
gateway from its staff list), and a mistyped number changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.devices import MergedReadings
from firmware.kiosk.health import Health
from firmware.kiosk.keyed import KeyedEntries
from firmware.kiosk.kiosk import Kiosk
from firmware.kiosk.reading import Reading
from firmware.kiosk.screen.app import serve
from firmware.kiosk.screen.state import ScreenState
from simulators import processes
from simulators.lights import SimulatedLights
from simulators.population import population, travellers
from simulators.visitors import QueuedReadings
from tests.conftest import SITE, poll
from tests.test_console_site import running_site
from tests.test_staff_cards import STAFF_ID, staff_cli


@pytest.fixture
def site(tmp_path: Path):
    with running_site(tmp_path, duty={"doors": ["east-gate"]}) as running:
        yield running


async def test_the_person_on_duty_registers_a_visitor_on_the_kiosk_screen(site) -> None:
    traveller = travellers(7)[3]
    person = population(7)[12]
    wrong = person.id_number[:-1] + ("1" if person.id_number[-1] != "1" else "2")
    assert staff_cli(site, "add", "test-duty", stdin=STAFF_ID + "\n").returncode == 0
    readings, keyed, lights = QueuedReadings(), KeyedEntries(), SimulatedLights()
    cfg = kiosk_config.KioskConfig.model_validate(
        processes.kiosk_config(site.work, SITE, "kiosk-1", "east-gate", site.broker.port))
    kiosk = Kiosk(cfg, MergedReadings([readings, keyed]), lights, Health(), keyed=keyed)
    staff_card = Reading("id_card", STAFF_ID, medium="card", name="王工")
    port = processes.free_port()
    tasks = [asyncio.create_task(kiosk.run()),
             asyncio.create_task(serve(ScreenState("east-gate"), port=port, keyed=keyed))]
    try:
        await asyncio.wait_for(kiosk.session.connected.wait(), 10)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as panel:
            await poll(lambda: _up(panel), timeout=10)
            assert "人工登记" in (await panel.get("/register")).text
            closed = await panel.post("/register", json={"document": "id_number",
                                                         "number": person.id_number})
            assert (closed.status_code, closed.json()["reason"]) == (403, "nobody_on_duty")

            await poll(lambda: kiosk.staff.cards.cards, timeout=15)  # the staff list came
            readings.present(staff_card)  # signs on for duty at this door
            await poll(lambda: keyed.open, timeout=10)
            assert (await panel.get("/register/open")).json() == {"open": True}
            refused = await panel.post("/register", json={"document": "id_number",
                                                          "number": wrong})
            assert (refused.status_code, refused.json()["reason"]) == (422, "id_check_digit")
            assert person.id_number[:10] not in refused.text
            assert (await kiosk.outbox.backlog())[0] == 0, "nothing queued"

            ok = await panel.post("/register", json={
                "document": "passport", "number": traveller.passport,
                "nationality": traveller.nationality})
            assert ok.status_code == 200
            (verdict, _look), = await lights.wait_for(1, timeout=10)
            assert (verdict.colour, verdict.source) == (traveller.colour, "platform")

            readings.present(staff_card)  # signs off again
            await poll(lambda: not keyed.open, timeout=10)
            again = await panel.post("/register", json={"document": "phone",
                                                        "number": "13812345678"})
            assert again.status_code == 403

        async def uploaded():
            async with httpx.AsyncClient(base_url=site.platform) as http:
                r = await http.get(f"/sim/records/{verdict.event_id}")
                return r.json() if r.status_code == 200 else None

        record = await poll(uploaded, timeout=15)
        assert (record["kiosk"], record["method"], record["medium"], record["credential"]) == (
            "kiosk-1", "manual", "keyed",
            f"passport:{traveller.nationality}:{traveller.passport}")
        assert record["deliveries"] == 1
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _up(panel: httpx.AsyncClient) -> bool:
    try:
        return (await panel.get("/state")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_the_kiosk_screen_form_in_a_browser(site) -> None:
    """Headless Chromium on the panel's page: closed until a staff card signs on, a wrong
    check digit explained in Chinese, a registration going back to the status screen and
    reaching the door as a verdict."""
    from playwright.async_api import async_playwright

    from tests.conftest import launch_chromium
    from tests.test_console_browser import shot

    person, green = population(7)[21], next(p for p in population(7) if p.colour == "green")
    wrong = person.id_number[:-1] + ("1" if person.id_number[-1] != "1" else "2")
    assert staff_cli(site, "add", "test-duty", stdin=STAFF_ID + "\n").returncode == 0
    readings, keyed, lights = QueuedReadings(), KeyedEntries(), SimulatedLights()
    cfg = kiosk_config.KioskConfig.model_validate(
        processes.kiosk_config(site.work, SITE, "kiosk-1", "east-gate", site.broker.port))
    screen = ScreenState("east-gate")
    kiosk = Kiosk(cfg, MergedReadings([readings, keyed]), lights, Health(), keyed=keyed)
    port = processes.free_port()
    tasks = [asyncio.create_task(kiosk.run()),
             asyncio.create_task(serve(screen, port=port, keyed=keyed))]
    try:
        await asyncio.wait_for(kiosk.session.connected.wait(), 10)
        await poll(lambda: kiosk.staff.cards.cards, timeout=15)
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                page = await browser.new_page(viewport={"width": 800, "height": 480},
                                              locale="zh-CN")
                await page.goto(f"http://127.0.0.1:{port}/register")
                await page.wait_for_selector("#closed", state="visible")
                readings.present(Reading("id_card", STAFF_ID, medium="card", name="王工"))
                await page.wait_for_selector("#form", state="visible", timeout=10000)
                await page.fill("#number", wrong)
                await page.click("button[type=submit]")
                await page.wait_for_function(
                    "() => document.getElementById('error').textContent !== ''")
                assert "校验位不符" in await page.text_content("#error")
                await shot(page, "kiosk-register")
                await page.fill("#number", green.phone)
                await page.select_option("#document", "phone")
                await page.click("button[type=submit]")
                await page.wait_for_url(f"http://127.0.0.1:{port}/", timeout=5000)
                await page.wait_for_selector("#icon", state="attached")  # the status page
                (verdict, _look), = await lights.wait_for(1, timeout=10)
                assert (verdict.colour, verdict.action) == ("green", "open")
            finally:
                await browser.close()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
