"""Helpers for the console tests (no tests here): one real site per test module.

Broker, platform simulator and gateway run as real processes, as in tests/conftest.py,
but once per module: the console tests ask many questions of one running site instead
of starting a site per question. Kiosks run in-process so a test presents scans by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.kiosk import Kiosk
from gateway import users
from gateway.broker import Broker
from simulators import processes
from simulators.lights import SimulatedLights
from simulators.visitors import QueuedReadings
from tests.conftest import SITE, TEST_USERS, KioskUnderTest, poll


@dataclass
class Site:
    url: str
    platform: str
    broker: Broker
    work: Path
    db: Path
    verify: object = True  # for httpx: the site CA when the gateway serves HTTPS


@contextlib.contextmanager
def running_site(work: Path, platform_url: str | None = None, http: dict | None = None,
                 ca_file: Path | None = None, units: dict | None = None,
                 kiosks: dict | None = None, duty: dict | None = None,
                 **console: object) -> Iterator[Site]:
    """A site; `platform_url` replaces the platform simulator with another server;
    `http` is added to the gateway's [http] section (`ca_file` verifies its certificate);
    `units` is its [units] section, `kiosks` its [kiosks] section, `duty` its [duty]."""
    broker = Broker(work / "broker").start()
    started: list[processes.Process] = []
    try:
        if platform_url is None:
            platform_proc, platform_url = processes.start_platform(work)
            started.append(platform_proc)
        cfg = processes.gateway_config(work, SITE, broker.port, platform_url)
        cfg["http"].update(http or {})
        if kiosks:
            cfg["kiosks"] = kiosks
        if console:
            cfg["console"] = console
        if units:
            cfg["units"] = units
        if duty:
            cfg["duty"] = duty
        for role, (name, password) in TEST_USERS.items():
            users.add_user(Path(cfg["db_path"]), name, role, password)
        gateway_proc, url = processes.start_gateway(work, cfg, ca_file)
        started.append(gateway_proc)
        verify = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        yield Site(url, platform_url, broker, work, Path(cfg["db_path"]), verify)
    finally:
        for proc in reversed(started):
            proc.stop()
        broker.stop()


async def outbox_empty(kiosk: Kiosk) -> bool:
    return (await kiosk.outbox.backlog())[0] == 0


@contextlib.asynccontextmanager
async def kiosk_at(site: Site, name: str, door: str) -> AsyncIterator[KioskUnderTest]:
    raw = processes.kiosk_config(site.work, SITE, name, door, site.broker.port)
    cfg = kiosk_config.KioskConfig.model_validate(raw)
    readings, lights = QueuedReadings(), SimulatedLights()
    kiosk = Kiosk(cfg, readings, lights)
    task = asyncio.create_task(kiosk.run())
    try:
        await asyncio.wait_for(kiosk.ready.wait(), 5)
        await asyncio.wait_for(kiosk.session.connected.wait(), 10)
        yield KioskUnderTest(kiosk, readings, lights)
        # The verdict goes out before the gateway's commit; the ack, after it. Leave once
        # every scan is acknowledged, so what the test reads next has been stored.
        await poll(lambda: outbox_empty(kiosk), timeout=10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@contextlib.asynccontextmanager
async def signed_in(site: Site, role: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    """An HTTP client signed in as the test user of `role`, sending its CSRF token."""
    name, password = TEST_USERS[role]
    async with httpx.AsyncClient(base_url=site.url, timeout=10, verify=site.verify) as http:
        response = await http.post("/api/sign-in", json={"name": name, "password": password})
        response.raise_for_status()
        me = response.json()
        http.headers["X-CSRF-Token"] = me["csrf"]
        yield http, me
