"""Shared fixtures: a real Mosquitto broker, the platform simulator and the gateway as
real processes, and an in-process kiosk whose readings a test presents by hand."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import shutil
from pathlib import Path

import httpx
import pytest

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.kiosk import Kiosk
from gateway import users
from gateway.broker import Broker
from simulators import processes
from simulators.lights import SimulatedLights
from simulators.visitors import QueuedReadings

SITE = "test-site"


@pytest.fixture
def broker(tmp_path: Path):
    with Broker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def platform(tmp_path: Path):
    proc, url = processes.start_platform(tmp_path)
    yield url
    proc.stop()


@pytest.fixture
def gateway_factory(tmp_path: Path, broker: Broker, platform: str):
    started: list[processes.Process] = []

    def start(**platform_options: object) -> str:
        cfg = processes.gateway_config(tmp_path, SITE, broker.port, platform, **platform_options)
        for role, (name, password) in TEST_USERS.items():
            users.add_user(Path(cfg["db_path"]), name, role, password)
        proc, url = processes.start_gateway(tmp_path, cfg)
        started.append(proc)
        _SESSIONS.pop(url, None)
        return url

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def gateway(gateway_factory) -> str:
    return gateway_factory()


class KioskUnderTest:
    def __init__(self, kiosk: Kiosk, readings: QueuedReadings, lights: SimulatedLights) -> None:
        self.kiosk = kiosk
        self.readings = readings
        self.lights = lights


@pytest.fixture
async def kiosk_factory(tmp_path: Path, broker: Broker):
    tasks: list[asyncio.Task] = []

    async def start(name: str = "kiosk-1", door: str = "door-1", counter=None,
                    **options: object) -> KioskUnderTest:
        raw = processes.kiosk_config(tmp_path, SITE, name, door, broker.port)
        raw.update(options)
        cfg = kiosk_config.KioskConfig.model_validate(raw)
        readings, lights = QueuedReadings(), SimulatedLights()
        kiosk = Kiosk(cfg, readings, lights, counter=counter)
        tasks.append(asyncio.create_task(kiosk.run()))
        await asyncio.wait_for(kiosk.ready.wait(), 5)
        await asyncio.wait_for(kiosk.session.connected.wait(), 10)
        return KioskUnderTest(kiosk, readings, lights)

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def poll(check, timeout: float = 10.0, interval: float = 0.05):
    """Await until check() returns a truthy value; return it, or fail with the last one."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value {last!r}")


# Console users every test gateway has, one per role: (name, password).
TEST_USERS = {"duty": ("test-duty", "duty-password-1"),
              "manager": ("test-manager", "manager-password-1"),
              "tracer": ("test-tracer", "tracer-password-1")}
_SESSIONS: dict[str, httpx.Cookies] = {}  # gateway base URL -> a manager's session


async def sign_in(http: httpx.AsyncClient, base: str, role: str = "manager") -> dict:
    name, password = TEST_USERS[role]
    response = await http.post(base + "/api/sign-in", json={"name": name, "password": password})
    response.raise_for_status()
    return response.json()


async def get_json(url: str) -> object:
    """GET as the test gateway's site manager (signed in once per gateway)."""
    parts = httpx.URL(url)
    base = f"{parts.scheme}://{parts.host}:{parts.port}"
    async with httpx.AsyncClient(timeout=5, cookies=_SESSIONS.get(base)) as http:
        response = await http.get(url)
        if response.status_code == 401:
            await sign_in(http, base)
            _SESSIONS[base] = http.cookies
            response = await http.get(url)
        response.raise_for_status()
        return response.json()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


async def launch_chromium(playwright, **options):
    """The system's headless Chromium (scripts/setup installs Debian's package, or keeps a
    chromium already on PATH); a machine without one skips the browser tests."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no chromium on PATH: scripts/setup installs Debian's chromium package")
    return await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                            **options)
