"""A kiosk wiped while the gateway is down never gives one (kiosk, epoch, seq) to two scans.

Real parts: Mosquitto (persistent sessions: the wiped kiosk's last scans wait there for
the gateway), the gateway process (python -m gateway), the platform simulator and its
duplicate check on numbering (/sim/conflicts), and the kiosk process with scripted input.
The gateway is killed, the kiosk scans on (its scans queue at the broker), the kiosk is
killed and its data deleted, then kiosk and gateway come back in either order, or the kiosk
works on alone for longer than it ever waited for the gateway's numbering. Every scan a
visitor was shown a verdict for and that left the kiosk before the wipe reaches the
platform once; none shares its numbering with another; each epoch arrives in order.

A kiosk from before epochs (the shop door unit) still asks the gateway where its numbering
stands; the gateway answers only once every scan it has received from that kiosk is
committed (`test_the_sequence_answer_counts_every_scan_received_before_the_question`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import pytest

from bench.kiosk_process import KioskProcess
from firmware import mqtt_client, protocol
from firmware.kiosk.reading import Reading
from gateway.broker import Broker
from simulators import processes
from simulators.population import population
from tests.conftest import SITE, poll

SEED = 7
SYNC_S = 1.0  # the kiosk's seq_sync_s in these tests: "away longer" is well past it


def readings(n: int, offset: int) -> list[Reading]:
    greens = [p for p in population(SEED) if p.colour == "green"]
    return [Reading("code", p.code_url, medium="screen") for p in greens[offset:offset + n]]


class WipeSite:
    """Broker, platform, gateway process and one kiosk process, each stopped at will."""

    def __init__(self, work: Path, broker: Broker, platform: str) -> None:
        self.work = work
        self.platform = platform
        self.gateway_config = processes.gateway_config(work, SITE, broker.port, platform)
        self.kiosk_config = processes.kiosk_config(work, SITE, "kiosk-1", "door-1", broker.port)
        self.kiosk_config.update(verdict_timeout_s=0.5, resend_after_s=1.0, seq_sync_s=SYNC_S,
                                 status_interval_s=1.0)
        self.gateway: processes.Process | None = None
        self.kiosk: KioskProcess | None = None
        self.shown: list[dict] = []  # every verdict a visitor saw

    def start_gateway(self) -> None:
        self.gateway, _url = processes.start_gateway(self.work, self.gateway_config)

    async def start_kiosk(self) -> None:
        self.kiosk = await KioskProcess(self.work, self.kiosk_config).start()
        await self.kiosk.connected()

    async def scan(self, batch: list[Reading]) -> None:
        assert self.kiosk is not None
        for reading in batch:
            _ms, shown = await self.kiosk.scan(reading)
            self.shown.append(shown)

    async def wipe_kiosk(self) -> None:
        """kill -9 and its data gone, as a re-flashed card would leave it."""
        assert self.kiosk is not None and self.kiosk.proc is not None
        self.kiosk.proc.kill()
        await self.kiosk.proc.wait()
        shutil.rmtree(self.kiosk_config["data_dir"])

    async def records(self) -> list[list]:
        async with httpx.AsyncClient(timeout=30) as http:
            return (await http.get(self.platform + "/sim/records",
                                   params={"kiosk": "kiosk-1", "order": "arrival"})).json()

    async def conflicts(self) -> list:
        async with httpx.AsyncClient(timeout=30) as http:
            return (await http.get(self.platform + "/sim/conflicts")).json()

    async def stop(self) -> None:
        if self.kiosk is not None:
            await self.kiosk.stop()
        if self.gateway is not None:
            self.gateway.stop()


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("order", ["kiosk_first", "gateway_first", "gateway_away"])
async def test_a_wiped_kiosk_never_shares_its_numbering(tmp_path: Path, broker, platform,
                                                         order: str):
    site = WipeSite(tmp_path, broker, platform)
    try:
        site.start_gateway()
        await site.start_kiosk()
        await site.scan(readings(5, 0))  # answered and stored
        assert site.gateway is not None
        site.gateway.kill()
        await site.scan(readings(5, 5))  # no gateway: manual check; they wait at the broker
        assert all(s["prompt"] == "manual_check" for s in site.shown[5:])
        await asyncio.sleep(0.5)  # the last one acknowledged by the broker
        await site.wipe_kiosk()

        if order == "gateway_first":
            site.start_gateway()
            await site.start_kiosk()
            await site.scan(readings(5, 10))
        else:
            await site.start_kiosk()
            if order == "gateway_away":
                await asyncio.sleep(2 * SYNC_S)  # longer than it ever waited
            await site.scan(readings(5, 10))
            site.start_gateway()
        await site.scan(readings(3, 15))

        shown_ids = {s["id"] for s in site.shown}
        rows = await poll(_all_of(site, shown_ids), 60, interval=0.25)
        assert await site.conflicts() == [], "two scans with one (kiosk, epoch, seq)"
        keys = [r[0] for r in rows]
        assert len(keys) == len(set(keys)) and set(keys) == shown_ids, "each scan once"
        epochs: dict[int, list[int]] = {}
        for _key, _kiosk, seq, _deliveries, epoch in rows:
            epochs.setdefault(epoch, []).append(seq)
        assert len(epochs) == 2 and 0 not in epochs, f"one epoch per life of the data: {epochs}"
        for epoch, seqs in epochs.items():
            assert seqs == sorted(seqs), f"epoch {epoch} reached the platform out of order"
            assert seqs == list(range(1, len(seqs) + 1)), f"epoch {epoch}: {seqs}"
        assert sorted(len(s) for s in epochs.values()) == [8, 10]
    finally:
        await site.stop()


def _all_of(site: WipeSite, ids: set[str]):
    async def check() -> list[list] | None:
        rows = await site.records()
        return rows if {r[0] for r in rows} >= ids else None
    return check


async def test_the_sequence_answer_counts_every_scan_received_before_the_question(
        tmp_path: Path, broker, platform):
    """A kiosk without epochs (epoch 0) whose scans wait at the broker for a gateway that
    was down, then asks where its numbering stands: the answer counts all of them."""
    config = processes.gateway_config(tmp_path, SITE, broker.port, platform)
    gateway, _url = processes.start_gateway(tmp_path, config)  # its session at the broker
    gateway.kill()
    address = mqtt_client.BrokerAddress(port=broker.port)
    kiosk, scans = "legacy-1", 300
    ids = protocol.EventIds()
    async with mqtt_client.client(address, f"kiosk-{SITE}-{kiosk}", persistent=False) as mqtt:
        await mqtt.subscribe(protocol.topic(SITE, kiosk, protocol.ACK), qos=1)
        for seq in range(1, scans + 1):
            msg = protocol.scan(ids.new(), kiosk, "door-1", seq, protocol.now_ms(), "code",
                                f"token-{seq}")
            msg["replay"] = True
            await mqtt.publish(protocol.topic(SITE, kiosk, protocol.SCAN),
                               protocol.encode(protocol.SCAN, msg), qos=1)
        status = protocol.status(kiosk, "online", protocol.now_ms(), first_seq=1,
                                 last_seq=scans)
        await mqtt.publish(protocol.topic(SITE, kiosk, protocol.STATUS),
                           protocol.encode(protocol.STATUS, status), qos=1, retain=True)
        gateway = processes.Process("gateway", "gateway",
                                    ["--config", str(tmp_path / "gateway.toml")],
                                    tmp_path / "logs").start()
        try:
            async with asyncio.timeout(60):
                async for message in mqtt.messages:
                    ack = json.loads(bytes(message.payload))
                    if "high_seq" in ack:
                        break
        finally:
            gateway.stop()
    assert ack["high_seq"] == scans, "answered before every scan it had received was stored"
    assert "epoch" not in ack
