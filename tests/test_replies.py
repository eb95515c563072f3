"""The gateway's replies to kiosks over a real broker."""

from __future__ import annotations

import asyncio

from firmware import mqtt_client
from gateway.replies import KioskReplies


async def test_a_list_retained_while_the_lists_go_out_on_connect_does_not_end_the_session(
        broker):
    """On every connection the gateway republishes its retained lists; the staff list can
    be retained at that moment (duty desk starting). Both must go out, and the MQTT task
    must not die of it (it once did: the dict changed size during the walk)."""
    address = mqtt_client.BrokerAddress(port=broker.port)
    replies = KioskReplies("site", mqtt_client.Session(address, "gateway-replies"),
                           {f"placecode/site/list/{n}": b"x" for n in range(50)})
    async with mqtt_client.client(address, "gateway-replies", persistent=False) as client:
        walking = asyncio.create_task(replies.connected(client))
        await asyncio.sleep(0)
        await replies.retain("placecode/site/staff", b"staff list")
        await asyncio.wait_for(walking, 10)
    assert "placecode/site/staff" in replies.retained


async def test_a_list_retained_on_a_lost_connection_waits_for_the_next_one(broker):
    """A blackholed or dropped broker link while the staff list changes: `retain` must not
    raise (the duty desk's task died of it, and the gateway with it); the list goes out
    with the others on the next connection."""
    address = mqtt_client.BrokerAddress(port=broker.port)
    session = mqtt_client.Session(address, "gateway-replies")
    replies = KioskReplies("site", session)
    async with mqtt_client.client(address, "gateway-replies", persistent=False) as client:
        session.client = client
    await replies.retain("placecode/site/staff", b"staff list")  # the client is gone
    assert replies.retained == {"placecode/site/staff": b"staff list"}
