"""A kiosk's backlog on its own topic (docs/protocol.md §1.4): the gateway reads it on a
connection of its own, stores and acknowledges it without a verdict, and drops what is
over the kiosk's budget unacknowledged, so that a flood costs the kiosk only a resend.

Real parts: Mosquitto, the gateway process (python -m gateway) and the platform simulator;
the kiosks are MQTT clients speaking the protocol.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from firmware import mqtt_client, protocol
from simulators import processes
from tests.conftest import SITE, poll


def backlog_scan(ids: protocol.EventIds, kiosk: str, seq: int) -> tuple[str, bytes]:
    msg = protocol.scan(ids.new(), kiosk, "door-1", seq, protocol.now_ms() - 60_000, "code",
                        f"token-{kiosk}-{seq}")
    return msg["id"], protocol.encode(protocol.BACKLOG, msg)


async def test_a_backlog_is_stored_and_acknowledged_and_its_flood_waits_for_resends(
        tmp_path: Path, broker, platform):
    config = processes.gateway_config(tmp_path, SITE, broker.port, platform)
    config["kiosks"] = {"replay_rate": 200.0, "replay_burst": 100}
    gateway, url = processes.start_gateway(tmp_path, config)
    address = mqtt_client.BrokerAddress(port=broker.port)
    ids = protocol.EventIds()
    scans = dict(backlog_scan(ids, "kiosk-b", seq) for seq in range(1, 1001))
    acked: set[str] = set()
    verdicts: list[dict] = []
    try:
        async with mqtt_client.client(address, "kiosk-test-b", persistent=False) as kiosk_b, \
                mqtt_client.client(address, "kiosk-test-a", persistent=False) as kiosk_a:
            await kiosk_b.subscribe(protocol.topic(SITE, "kiosk-b", protocol.ACK), qos=1)
            await kiosk_b.subscribe(protocol.topic(SITE, "kiosk-b", protocol.VERDICT), qos=1)
            await kiosk_a.subscribe(protocol.topic(SITE, "kiosk-a", protocol.VERDICT), qos=1)

            async def listen() -> None:
                async for message in kiosk_b.messages:
                    msg = json.loads(bytes(message.payload))
                    if str(message.topic).endswith("/ack"):
                        acked.update(msg["ids"])
                    else:
                        verdicts.append(msg)

            listening = asyncio.create_task(listen())
            topic = protocol.topic(SITE, "kiosk-b", protocol.BACKLOG)
            # all at once: ten times the kiosk's burst
            await asyncio.gather(*(kiosk_b.publish(topic, p, qos=1) for p in scans.values()))

            # meanwhile a visitor at another kiosk's door gets a verdict
            live = protocol.scan(ids.new(), "kiosk-a", "door-2", 1, protocol.now_ms(), "code",
                                 "token-visitor")
            await kiosk_a.publish(protocol.topic(SITE, "kiosk-a", protocol.SCAN),
                                  protocol.encode(protocol.SCAN, live), qos=1)
            async with asyncio.timeout(10):
                answer = json.loads(bytes((await anext(aiter(kiosk_a.messages))).payload))
            assert answer["id"] == live["id"]

            await poll(lambda: len(acked) >= 100, timeout=10)
            await asyncio.sleep(0.5)
            first_round = len(acked)
            assert 100 <= first_round < len(scans), "the flood past the budget was taken"
            metrics = httpx.get(url + "/metrics", timeout=5).text
            assert 'placecode_mqtt_rejected_total{reason="replay_over_budget"}' in metrics

            # the kiosk sends what was not acknowledged again, as its outbox does
            async def all_acked() -> bool:
                missing = [p for i, p in scans.items() if i not in acked]
                await asyncio.gather(*(kiosk_b.publish(topic, p, qos=1) for p in missing[:100]))
                await asyncio.sleep(0.3)
                return not missing

            await poll(all_acked, timeout=60, interval=0)
            listening.cancel()
        assert verdicts == [], "a backlog scan got a verdict: nobody waits for it"
        stats = httpx.get(platform + "/sim/stats", timeout=5).json()
        assert stats["lookups"] == 1, "only the visitor's scan asks the platform"
    finally:
        gateway.stop()
