"""Kiosk presence on the console: a kiosk that goes away shows offline within seconds
(its last will), and online again when it returns."""

from __future__ import annotations

import os
import signal
import time

from simulators import processes
from tests.conftest import SITE, get_json, poll


def kiosk_state(rows: list[dict], name: str) -> str | None:
    return next((r["state"] for r in rows if r["kiosk"] == name), None)


async def wait_state(gateway: str, name: str, state: str, timeout: float) -> float:
    started = time.monotonic()

    async def reached():
        return kiosk_state(await get_json(gateway + "/api/kiosks"), name) == state

    await poll(reached, timeout=timeout, interval=0.1)
    return time.monotonic() - started


async def test_killed_kiosk_goes_offline_and_comes_back(tmp_path, broker, gateway):
    cfg = processes.kiosk_config(tmp_path, SITE, "kiosk-9", "door-9", broker.port, rate_hz=0.01)
    kiosk = processes.start_kiosk(tmp_path, cfg)
    await wait_state(gateway, "kiosk-9", "online", timeout=15)

    kiosk.kill()  # kill -9: no goodbye, the broker publishes the last will
    assert await wait_state(gateway, "kiosk-9", "offline", timeout=5) < 5

    kiosk = processes.start_kiosk(tmp_path, cfg)
    await wait_state(gateway, "kiosk-9", "online", timeout=15)

    kiosk.stop()  # a clean stop says offline itself
    await wait_state(gateway, "kiosk-9", "offline", timeout=5)


async def test_hung_kiosk_goes_offline_by_keepalive(tmp_path, broker, gateway):
    cfg = processes.kiosk_config(tmp_path, SITE, "kiosk-8", "door-8", broker.port, rate_hz=0.01)
    cfg["broker"]["keepalive"] = 2
    kiosk = processes.start_kiosk(tmp_path, cfg)
    await wait_state(gateway, "kiosk-8", "online", timeout=15)
    pid = kiosk.popen.pid
    os.kill(pid, signal.SIGSTOP)  # the process hangs with its connection open
    try:
        # The broker gives up after 1.5 x keepalive (3 s) without a packet; the margin is
        # for a loaded CI machine.
        await wait_state(gateway, "kiosk-8", "offline", timeout=12)
    finally:
        os.kill(pid, signal.SIGCONT)
    await wait_state(gateway, "kiosk-8", "online", timeout=15)
    kiosk.stop()
