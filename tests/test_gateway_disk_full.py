"""The gateway's disk full, then freed: nothing is lost, nothing waits for a restart.

Real parts: Mosquitto, the platform simulator, the gateway process (python -m gateway) with
its database on a small filesystem mounted for the test (tmpfs; root needed), and a kiosk
with its real outbox. While the disk is full the console and /metrics show the storage
fault and the forwarder's last error; once the disk has room again every scan, those that
arrived during the fault included, reaches the platform once, from the same gateway
process. The person on duty, signed in before, sees the fault on the console page (headless
Chromium) while it lasts, and sees it go.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from firmware.kiosk.reading import Reading
from gateway import users
from simulators import processes
from simulators.population import population
from tests.conftest import SITE, TEST_USERS, get_json, launch_chromium, poll
from tests.test_console_browser import open_signed_in, shot

SEED = 7
BEFORE, DURING = 12, 12


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "12m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a filesystem for the gateway's data here (needs root): "
                    f"{mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path) -> Path:
    """Write until the filesystem refuses: not one byte of room left."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):  # down to the last byte
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def people(n: int, offset: int = 0) -> list[Reading]:
    greens = [p for p in population(SEED) if p.colour == "green"]
    return [Reading("code", p.code_url, medium="screen") for p in greens[offset:offset + n]]


async def metric(url: str, name: str) -> float | None:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def test_a_full_disk_is_shown_and_every_scan_arrives_once_it_is_freed(
        tmp_path: Path, broker, platform, kiosk_factory):
    with small_filesystem(tmp_path / "gateway-data") as data:
        cfg = processes.gateway_config(tmp_path, SITE, broker.port, platform,
                                       upload_batch=50)
        cfg["db_path"] = str(data / "gateway.sqlite")
        for role, (name, password) in TEST_USERS.items():
            users.add_user(Path(cfg["db_path"]), name, role, password)
        gateway, url = processes.start_gateway(tmp_path, cfg)
        pid = gateway.popen.pid if gateway.popen else None
        async with async_playwright() as pw:
            chromium = await launch_chromium(pw)
            try:
                page = await open_signed_in(chromium, url, "duty")
                await _fill_and_free(data, platform, kiosk_factory, gateway, url, pid, page)
            finally:
                await chromium.close()
                gateway.stop()


async def _fill_and_free(data: Path, platform: str, kiosk_factory, gateway: processes.Process,
                         url: str, pid: int | None, page: Page) -> None:
    """Scans stored, the disk filled, scans refused and a confirmation refused, the disk
    freed: all of it seen where people look."""
    async with httpx.AsyncClient(timeout=5) as http:
        await http.put(platform + "/sim/faults", json={"fail_uploads": True})
    k = await kiosk_factory(resend_after_s=1.0)
    for reading in people(BEFORE):
        k.readings.present(reading)
    await k.lights.wait_for(BEFORE, timeout=20)

    async def stored_before():
        summary = await get_json(url + "/api/summary")
        return summary if summary["forwarder"]["backlog"] == BEFORE else None

    await poll(stored_before, 20)

    filler = fill(data)
    for reading in people(DURING, offset=BEFORE):
        k.readings.present(reading)
    shown = await k.lights.wait_for(BEFORE + DURING, timeout=30)
    assert all(v.action == "open" for v, _ in shown), "the door works on"
    async with httpx.AsyncClient(timeout=5) as http:  # the platform is back
        await http.put(platform + "/sim/faults", json={})

    storage_fault = page.locator("#storage-fault")
    await storage_fault.wait_for(state="visible", timeout=30_000)
    assert "网关存储故障" in (await storage_fault.text_content() or "")
    await shot(page, "storage-fault")

    async def fault_shown():
        summary = await get_json(url + "/api/summary")
        forwarder = summary["forwarder"]
        both = summary["storage"]["fault"] and "full" in (forwarder["last_error"] or "")
        return summary if both else None

    during = await poll(fault_shown, 30)
    assert "full" in during["storage"]["fault"], during["storage"]
    assert await metric(url, "placecode_storage_fault") == 1
    assert await metric(url, "placecode_forwarder_failing") == 1
    backlog, _oldest = await k.kiosk.outbox.backlog()
    assert backlog >= DURING, "the scans the gateway could not store wait at the kiosk"

    os.unlink(filler)
    await storage_fault.wait_for(state="detached", timeout=60_000)

    async def all_at_platform():
        rows = await get_json(platform + "/sim/records?kiosk=kiosk-1")
        return rows if len(rows) >= BEFORE + DURING else None

    rows = await poll(all_at_platform, 60)
    assert sorted(r[2] for r in rows) == list(range(1, BEFORE + DURING + 1))
    assert {r[0] for r in rows} == {v.event_id for v, _ in shown}

    async def recovered():
        summary = await get_json(url + "/api/summary")
        ok = summary["storage"]["fault"] is None and summary["forwarder"]["backlog"] == 0
        return summary if ok and summary["forwarder"]["last_error"] is None else None

    after = await poll(recovered, 30)
    assert after["storage"]["refused_batches"] >= 1
    assert await metric(url, "placecode_storage_fault") == 0
    assert gateway.running and gateway.popen is not None and gateway.popen.pid == pid, (
        "drained by the same gateway process, without a restart")

    async def acknowledged():
        return (await k.kiosk.outbox.backlog())[0] == 0

    await poll(acknowledged, 10)  # every scan acknowledged, none left at the kiosk
