"""Malformed and unknown-version messages on every topic the gateway reads are rejected
with a logged reason and a counter, and the gateway keeps serving."""

from __future__ import annotations

import json

from firmware import mqtt_client, protocol
from firmware.kiosk.reading import Reading
from simulators.population import first_of_colour
from tests.conftest import SITE, get_json, poll

GOOD_ID = protocol.EventIds().new()


def scan(**changes) -> bytes:
    msg = protocol.scan(GOOD_ID, "kiosk-x", "door-x", 1, 1, "code", "token")
    msg.update(changes)
    return json.dumps(msg).encode()


def status(**changes) -> bytes:
    msg = protocol.status("kiosk-x", "online")
    msg.update(changes)
    return json.dumps(msg).encode()


BAD = [
    ("scan", b"{not json", "not_json"),
    ("scan", b"\xff\xfe\x00garbage", "not_json"),
    ("scan", b"[1, 2, 3]", "not_object"),
    ("scan", scan(v=2), "unknown_version"),
    ("scan", scan(v="1"), "missing_field"),
    ("scan", scan(seq="one"), "bad_type"),
    ("scan", scan(method="telepathy"), "bad_value"),
    ("scan", scan(id="not-a-uuid"), "bad_id"),
    ("scan", scan(kiosk="kiosk-y"), "topic_mismatch"),
    ("scan", scan(credential="x" * 5000), "too_long"),
    ("status", status(v=99), "unknown_version"),
    ("status", status(state="sleepy"), "bad_value"),
    ("status", b"", "not_json"),
]


async def test_bad_messages_are_rejected_counted_and_logged(
    tmp_path, broker, gateway, kiosk_factory
):
    address = mqtt_client.BrokerAddress(port=broker.port)
    async with mqtt_client.client(address, "intruder", persistent=False) as intruder:
        for kind, payload, _reason in BAD:
            await intruder.publish(f"placecode/{SITE}/kiosk-x/{kind}", payload, qos=1)
        await intruder.publish(f"placecode/{SITE}/kiosk-x/bogus", b"{}", qos=1)

    expected: dict[str, int] = {}
    for _kind, _payload, reason in BAD:
        expected[reason] = expected.get(reason, 0) + 1

    async def all_counted():
        rejected = (await get_json(gateway + "/api/summary"))["rejected"]
        return rejected if sum(rejected.values()) >= len(BAD) else None

    rejected = await poll(all_counted)
    assert rejected == expected

    log = (tmp_path / "logs" / "gateway.log").read_text()
    for reason in expected:
        assert f"rejected message on placecode/{SITE}/kiosk-x/" in log and reason in log
    assert "x" * 100 not in log, "payloads are not logged"

    # ... and the gateway keeps serving real scans.
    k = await kiosk_factory()
    k.readings.present(Reading("code", first_of_colour(7, "green").code_url))
    (verdict, _look), = await k.lights.wait_for(1)
    assert verdict.colour == "green"
    entries = await get_json(gateway + "/api/entries")
    assert [e["id"] for e in entries] == [verdict.event_id], "no rejected message was stored"


async def test_kiosk_rejects_bad_verdicts_and_keeps_working(broker, gateway, kiosk_factory):
    k = await kiosk_factory()
    address = mqtt_client.BrokerAddress(port=broker.port)
    async with mqtt_client.client(address, "intruder", persistent=False) as intruder:
        topic = f"placecode/{SITE}/kiosk-1/verdict"
        await intruder.publish(topic, b"garbage", qos=1)
        await intruder.publish(topic, json.dumps({"v": 7}).encode(), qos=1)
    await poll(lambda: sum(k.kiosk.session.rejected.values()) >= 2)
    assert k.kiosk.session.rejected == {"not_json": 1, "unknown_version": 1}
    k.readings.present(Reading("code", first_of_colour(7, "red").code_url))
    (verdict, _look), = await k.lights.wait_for(1)
    assert verdict.colour == "red"
