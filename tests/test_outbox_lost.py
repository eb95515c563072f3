"""The outbox deleted or replaced under a running kiosk: a disk fault within a second, no
scan shown as let in that is not on disk, nothing the kiosk held is lost.

Real parts: Mosquitto, the gateway process, the platform simulator and its duplicate check
on numbering, the kiosk process (python -m simulators.kiosk, scripted input) and its
outbox file, deleted (with its WAL and shared index) or replaced by an older copy of
itself while the kiosk runs. The disk fault is read where the console reads it: the
kiosk's retained status on the broker.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from bench.kiosk_process import KioskProcess
from firmware import mqtt_client, protocol
from firmware.kiosk.reading import Reading
from simulators import processes
from simulators.population import population
from tests.conftest import SITE, poll

SEED = 7
GREENS = [Reading("code", p.code_url, medium="screen")
          for p in population(SEED) if p.colour == "green"]


class DiskWatch:
    """The kiosk's status messages, as the gateway receives them: when did `disk` change."""

    def __init__(self, port: int, kiosk: str) -> None:
        self.address = mqtt_client.BrokerAddress(port=port)
        self.topic = protocol.topic(SITE, kiosk, protocol.STATUS)
        self.seen: list[tuple[float, str]] = []  # (monotonic time, disk health)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with mqtt_client.client(self.address, "disk-watch", persistent=False) as mqtt:
            await mqtt.subscribe(self.topic, qos=1)
            self.ready.set()
            async for message in mqtt.messages:
                health = json.loads(bytes(message.payload)).get("health", {})
                self.seen.append((time.monotonic(), health.get("disk", "")))

    def first(self, since: float, fault: bool) -> float | None:
        for at, disk in self.seen:
            if at >= since and disk.startswith("fault") == fault and (fault or disk):
                return at
        return None


def lose(outbox: Path, how: str, older: Path) -> None:
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{outbox}{suffix}").unlink(missing_ok=True)
    else:  # an older copy of itself put in its place (a restore, a careless installer)
        shutil.copy(older, outbox.with_name("outbox.restore"))
        outbox.with_name("outbox.restore").replace(outbox)


async def platform_has(platform: str, ids: set[str]) -> list[list]:
    async with httpx.AsyncClient(timeout=30) as http:
        rows = (await http.get(platform + "/sim/records",
                               params={"kiosk": "kiosk-1", "order": "arrival"})).json()
    return rows if {r[0] for r in rows} >= ids else []


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_an_outbox_lost_under_the_kiosk_is_a_disk_fault_and_loses_nothing(
        tmp_path: Path, broker, platform, how: str):
    gateway_cfg = processes.gateway_config(tmp_path, SITE, broker.port, platform)
    gateway, _url = processes.start_gateway(tmp_path, gateway_cfg)
    cfg = processes.kiosk_config(tmp_path, SITE, "kiosk-1", "door-1", broker.port)
    cfg.update(verdict_timeout_s=0.5, resend_after_s=1.0, status_interval_s=5.0)
    kiosk = await KioskProcess(tmp_path, cfg).start()
    watch = DiskWatch(broker.port, "kiosk-1")
    watching = asyncio.create_task(watch.run())
    shown: list[dict] = []
    try:
        await asyncio.wait_for(watch.ready.wait(), 10)
        await kiosk.connected()
        for reading in GREENS[:2]:
            shown.append((await kiosk.scan(reading))[1])
        older = tmp_path / "outbox-older.sqlite"
        shutil.copy(kiosk.outbox_path, older)  # the main file only: an older state

        gateway.kill()  # scans from now on wait in the outbox, unacknowledged
        for reading in GREENS[2:5]:
            shown.append((await kiosk.scan(reading))[1])
        assert kiosk.backlog() >= 3

        lost_at = time.monotonic()
        lose(kiosk.outbox_path, how, older)
        for reading in GREENS[5:8]:  # the door goes on: manual checks
            shown.append((await kiosk.scan(reading))[1])
        fault_at = await poll(lambda: watch.first(lost_at, fault=True), 5)
        assert fault_at - lost_at < 1.0, f"disk fault after {fault_at - lost_at:.2f} s"
        fault = next(disk for at, disk in watch.seen if at == fault_at)
        assert "outbox" in fault and ("deleted" in fault or "replaced" in fault), fault
        await poll(lambda: watch.first(fault_at, fault=False), 10)  # rebuilt: "ok" again
        assert all(s["action"] != "open" for s in shown[2:]), "no gateway, no green"

        gateway, _url = processes.start_gateway(tmp_path, gateway_cfg)
        # lost again with the gateway up, while visitors keep coming: whatever is shown
        # as let in must be on disk
        scans = asyncio.ensure_future(_scan_all(kiosk, GREENS[8:20], shown))
        await asyncio.sleep(0.3)
        lost_again = time.monotonic()
        lose(kiosk.outbox_path, how, older)
        await scans
        again = await poll(lambda: watch.first(lost_again, fault=True), 5)
        await poll(lambda: watch.first(again, fault=False), 10)

        recorded = {s["id"] for s in shown if s["id"]}
        rows = await poll(lambda: platform_has(platform, recorded), 60, interval=0.25)
        let_in = {s["id"] for s in shown if s["action"] == "open"}
        assert let_in and let_in <= {r[0] for r in rows}, "let in on a scan not on disk"
        assert {s["id"] for s in shown[2:5]} <= {r[0] for r in rows}, "the held scans"
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(platform + "/sim/conflicts")).json() == []
        keys = [r[0] for r in rows]
        assert len(keys) == len(set(keys))
        seqs = [r[2] for r in rows]
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), "one epoch, no gap, no reuse"
        assert kiosk.proc is not None and kiosk.proc.returncode is None, "no restart needed"
        if how == "replaced":
            assert list(tmp_path.glob("kiosk-1/outbox.sqlite.replaced-*")), "kept aside"
    finally:
        watching.cancel()
        await kiosk.stop()
        gateway.stop()


async def _scan_all(kiosk: KioskProcess, readings: list[Reading], shown: list[dict]) -> None:
    for reading in readings:
        shown.append((await kiosk.scan(reading))[1])
