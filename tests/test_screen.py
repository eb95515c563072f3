"""The status screen in headless Chromium: one screenshot per state, for people to look at
(artifacts/screens/), and checks a person at the door would notice: the colour, Chinese
above English and larger, and "manual check" when the kiosk stops answering."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from PIL import Image
from playwright.async_api import Page, async_playwright

from firmware.kiosk.screen import ScreenState, create_app
from firmware.verdict import PROMPT_TEXT, Verdict
from tests.conftest import launch_chromium

SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screens"
PANEL = {"width": 800, "height": 480}  # a 7-inch HDMI panel
BACKGROUNDS = {"green": (0x0B, 0x8A, 0x3E), "yellow": (0xF4, 0xC4, 0x00),
               "red": (0xC8, 0x10, 0x2E), "manual": (0xE6, 0x73, 0x00)}
VERDICTS = {
    "green": Verdict("e1", "green", "open", "pass", "platform"),
    "yellow": Verdict("e2", "yellow", "hold", "wait_staff", "platform"),
    "red": Verdict("e3", "red", "refuse", "no_entry", "platform"),
    "manual": Verdict("e4", "unknown", "hold", "manual_check", "timeout"),
}


class Served:
    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], url: str) -> None:
        self.server, self.task, self.url = server, task, url

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(state: ScreenState) -> Served:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    return Served(server, task, f"http://127.0.0.1:{port}/")


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        yield await browser.new_page(viewport=PANEL)
        await browser.close()


def background(png: Path) -> tuple[int, int, int]:
    with Image.open(png) as img:
        return img.convert("RGB").getpixel((8, 8))


async def test_screenshot_per_state(page: Page) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    state = ScreenState("东门 East door", verdict_s=60)
    served = await serve(state)
    try:
        await page.goto(served.url)
        assert await page.evaluate("document.fonts.check('40px \"WenQuanYi Zen Hei\"', '码')")
        for name, verdict in VERDICTS.items():
            state.show_verdict(verdict)
            await page.wait_for_selector(f"body[data-version='{state.version}']")
            await page.wait_for_timeout(200)  # the 120 ms colour transition
            zh, en = PROMPT_TEXT[verdict.prompt]
            assert (await page.text_content("#zh") or "").replace("\n", "") == zh
            assert await page.text_content("#en") == en
            zh_box = await page.locator("#zh").bounding_box()
            en_box = await page.locator("#en").bounding_box()
            assert zh_box and en_box and zh_box["y"] < en_box["y"]
            zh_size, en_size = await page.evaluate(
                "[...['#zh', '#en']].map(s => parseFloat(getComputedStyle("
                "document.querySelector(s)).fontSize))")
            assert zh_size >= 1.8 * en_size
            assert await page.locator(f"#i-{name}").is_visible()
            shot = SHOTS / f"{name}.png"
            await page.screenshot(path=str(shot))
            assert background(shot) == BACKGROUNDS[name], name
    finally:
        await served.stop()


async def test_screen_falls_back_to_idle_and_to_manual_when_kiosk_stops(page: Page) -> None:
    state = ScreenState(verdict_s=1.5)
    served = await serve(state)
    await page.goto(served.url)
    state.show_verdict(VERDICTS["green"])
    await page.wait_for_selector("body[data-state='green']")
    await page.wait_for_selector("body[data-state='idle']", timeout=3000)
    assert (await page.text_content("#zh") or "").replace("\n", "") == PROMPT_TEXT["show_code"][0]
    await served.stop()  # the kiosk process is gone: no stale screen may stay up
    await page.wait_for_selector("body[data-state='manual']", timeout=4000)
    shown = (await page.text_content("#zh") or "").replace("\n", "")
    assert shown == PROMPT_TEXT["manual_check"][0]
