"""The gateway's Prometheus endpoint shows what happens on the site, as it happens.

Real parts: Mosquitto, the platform simulator process, the gateway process (python -m
gateway), and a kiosk (in-process) to
which the test presents known people: so every number is known in advance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.kiosk import Kiosk
from firmware.kiosk.reading import Reading
from gateway import metrics
from gateway.broker import Broker
from simulators import processes
from simulators.lights import SimulatedLights
from simulators.population import population
from simulators.visitors import QueuedReadings

SITE = "metrics-site"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def until(check, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


@pytest.fixture
def broker(tmp_path: Path):
    with Broker(tmp_path / "broker") as running:
        yield running


async def test_scans_latency_backlogs_errors_and_presence(tmp_path: Path, broker: Broker):
    platform_proc, platform_url = processes.start_platform(tmp_path, seed=7)
    gateway = None
    try:
        config = processes.gateway_config(tmp_path, SITE, broker.port, platform_url,
                                          lookup_deadline_s=0.5)
        gateway, url = await asyncio.to_thread(processes.start_gateway, tmp_path, config)
        people = population(7)
        by_colour = {c: [p for p in people if p.colour == c] for c in ("green", "yellow", "red")}
        shown = [(by_colour["green"][i], "code") for i in range(3)]
        shown += [(by_colour["red"][0], "code"), (by_colour["yellow"][0], "id_card")]

        async with httpx.AsyncClient(timeout=5) as http:
            raw = processes.kiosk_config(tmp_path, SITE, "kiosk-m", "door-1", broker.port)
            kcfg = kiosk_config.KioskConfig.model_validate(raw | {"status_interval_s": 0.3})
            readings = QueuedReadings()
            kiosk = Kiosk(kcfg, readings, SimulatedLights())
            kiosk_task = asyncio.create_task(kiosk.run())
            await asyncio.wait_for(kiosk.ready.wait(), 5)
            await asyncio.wait_for(kiosk.session.connected.wait(), 10)

            for person, method in shown:
                credential = person.code_url if method == "code" else person.id_number
                readings.present(Reading(method, credential, name=None))
            await until(lambda: asyncio.sleep(0, sum(kiosk.counts.values()) == len(shown)))

            async def scrape():
                return samples((await http.get(url + "/metrics")).text)

            async def settled():
                m = await scrape()
                done = m.get(("placecode_kiosk_outbox_backlog", (("kiosk", "kiosk-m"),))) == 0
                return m if done else None

            m = await until(settled)
            assert m, "kiosk outbox never reported empty"
            want = Counter((p.colour, meth) for p, meth in shown)
            for (colour, method), n in want.items():
                key = ("placecode_scans_total", (("colour", colour), ("method", method)))
                assert m[key] == n, (colour, method, m.get(key))
            assert m[("placecode_verdict_latency_seconds_count", ())] == len(shown)
            assert 0 < m[("placecode_verdict_latency_seconds_sum", ())] < len(shown) * 1.5
            assert m[("placecode_kiosks_online", ())] == 1
            assert m[("placecode_kiosk_up", (("kiosk", "kiosk-m"),))] == 1
            assert m[("placecode_mqtt_connected", ())] == 1
            assert m[("placecode_mqtt_received_total", (("kind", "scan"),))] == len(shown)

            # The platform goes away: lookups fail (held for staff), uploads pile up.
            platform_proc.stop()
            readings.present(Reading("code", by_colour["green"][5].code_url))
            await until(lambda: asyncio.sleep(0, sum(kiosk.counts.values()) == len(shown) + 1))

            async def backlog():
                m = await scrape()
                return m if m[("placecode_forwarder_backlog", ())] >= 1 else None

            m = await until(backlog)
            assert m, "forwarder backlog never showed the unsent record"
            assert m[("placecode_platform_errors_total", (("reason", "unreachable"),))] >= 1
            key = ("placecode_scans_total", (("colour", "unknown"), ("method", "code")))
            assert m[key] == 1

            # The kiosk stops cleanly: it says offline, and the metrics show it.
            kiosk_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await kiosk_task

            async def offline():
                m = await scrape()
                return m if m[("placecode_kiosks_online", ())] == 0 else None

            m = await until(offline)
            assert m and m[("placecode_kiosk_up", (("kiosk", "kiosk-m"),))] == 0
    finally:
        if gateway is not None:
            gateway.stop()
        platform_proc.stop()


def test_each_app_has_its_own_registry():
    a, b = metrics.GatewayMetrics(), metrics.GatewayMetrics()
    a.scans.labels("green", "code").inc()
    assert b.registry.get_sample_value(
        "placecode_scans_total", {"colour": "green", "method": "code"}) is None
