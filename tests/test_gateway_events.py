"""The console observes the gateway's events: a one-time signed code shown at two doors
becomes a misuse alert, and the read model the console reads through cannot write.

Real parts: Mosquitto, the platform simulator, the gateway process; the kiosks' scans are
published as kiosks publish them (firmware/protocol.py), each decided on the kiosk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from firmware import mqtt_client, protocol
from firmware import verdict as verdicts
from gateway.read_model import ReadModel
from gateway.store import Store
from tests.conftest import SITE, get_json, poll

SIGNED = "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA"


async def publish_signed_scans(port: int, doors: list[tuple[str, str]]) -> list[str]:
    ids = protocol.EventIds()
    sent = []
    async with mqtt_client.client(mqtt_client.BrokerAddress(port=port), "two-doors",
                                  persistent=False) as mqtt:
        for seq, (kiosk, door) in enumerate(doors, start=1):
            event_id = ids.new()
            v = verdicts.for_signed_code(event_id, True, "")
            msg = protocol.scan(event_id, kiosk, door, seq, protocol.now_ms(), "signed_code",
                                SIGNED, decided=(v.colour, v.action, v.prompt, v.source))
            await mqtt.publish(protocol.topic(SITE, kiosk, protocol.SCAN),
                               protocol.encode(protocol.SCAN, msg), qos=1)
            sent.append(event_id)
    return sent


async def test_a_one_time_code_at_two_doors_raises_a_misuse_alert(gateway, broker):
    first, second = await publish_signed_scans(
        broker.port, [("kiosk-1", "east-gate"), ("kiosk-2", "west-gate")])

    async def misuse_alert():
        alerts = await get_json(gateway + "/api/alerts")
        return next((a for a in alerts if a["kind"] == "misuse"), None)

    alert = await poll(misuse_alert, timeout=10)
    assert alert["key"] == f"misuse:{second}" and alert["door"] == "west-gate"
    assert alert["action"] == "second_door" and "east-gate" in alert["masked"]
    assert SIGNED not in str(alert)
    assert first != second


async def test_the_read_model_cannot_write(tmp_path: Path):
    store = await Store.open(tmp_path / "g.sqlite")
    reads = await ReadModel.open(tmp_path / "g.sqlite")
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
            await reads.db.execute("DELETE FROM events")
        assert await reads.counts() == {}
    finally:
        await reads.close()
        await store.close()
