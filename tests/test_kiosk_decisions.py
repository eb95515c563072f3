"""A decision the kiosk made itself reaches the console as the kiosk made it: the scan
carries colour, action, prompt and source (firmware/verdict.py), and the gateway stores
them as given instead of rebuilding a prompt from the action."""

from __future__ import annotations

from firmware import mqtt_client, protocol, verdict
from tests.conftest import SITE, get_json, poll


async def test_a_read_failed_signed_code_shows_as_read_failed_on_the_console(broker, gateway):
    event_id = protocol.EventIds().new()
    decided = verdict.for_signed_code(event_id, False, "corrupted")
    assert decided.prompt == "read_failed"
    msg = protocol.scan(event_id, "kiosk-9", "door-1", 1, protocol.now_ms(), "signed_code",
                        "HC1:damaged", medium="screen", decided=decided.fields())
    async with mqtt_client.client(mqtt_client.BrokerAddress(port=broker.port), "kiosk-9-test",
                                  persistent=False) as client:
        await client.publish(protocol.topic(SITE, "kiosk-9", protocol.SCAN),
                             protocol.encode(protocol.SCAN, msg), qos=1)

    async def entry():
        rows = await get_json(gateway + "/api/entries")
        return next((r for r in rows if r["id"] == event_id), None)

    row = await poll(entry)
    assert (row["colour"], row["action"], row["prompt"]) == ("unknown", "hold", "read_failed")
