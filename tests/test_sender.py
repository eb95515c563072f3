"""The kiosk's sender on a real outbox file: a scan the gateway never stored is sent again
even while the gateway keeps acknowledging every scan after it, as a busy door does."""

from __future__ import annotations

import asyncio
import json

from firmware import protocol
from firmware.kiosk.outbox import Outbox
from firmware.kiosk.sender import OutboxSender


def scan(seq: int):
    return protocol.EventIds().new(), json.dumps({"seq": seq}).encode(), protocol.now_ms()


class LossyGateway:
    """Acknowledges each scan as it arrives, except the first delivery of the scans it
    is told to lose (a batch whose commit failed): those it never hears of."""

    def __init__(self, sender: OutboxSender, lose: set[int]) -> None:
        self.sender = sender
        self.lose = lose
        self.deliveries: dict[int, int] = {}

    async def publish(self, payload: bytes) -> None:
        msg = json.loads(payload)
        seq = msg["seq"]
        self.deliveries[seq] = self.deliveries.get(seq, 0) + 1
        if seq in self.lose and self.deliveries[seq] == 1:
            return
        event_id = self.ids[seq]
        asyncio.get_running_loop().call_soon(self.sender.acknowledged, [event_id])
        await self.sender.outbox.confirm([event_id])


async def test_a_lost_batch_is_sent_again_while_later_scans_keep_being_acknowledged(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite")
    await outbox.open()
    sender = OutboxSender(outbox, waiting=lambda: (), window=4, batch=2, resend_after_s=0.3)
    gateway = LossyGateway(sender, lose={3, 4})
    gateway.ids = {}
    for _ in range(10):  # a backlog, of which scans 3 and 4 go missing
        pending = await outbox.add(scan)
        gateway.ids[pending.seq] = pending.id
    run = asyncio.create_task(sender.run(gateway.publish, gateway.publish))
    try:
        for _ in range(30):  # a live scan every 50 ms, each acknowledged at once
            pending = await outbox.add(scan)
            gateway.ids[pending.seq] = pending.id
            await asyncio.sleep(0.05)
        backlog, _oldest = await outbox.backlog()
        assert backlog == 0, "scans the gateway never stored are still waiting"
        assert gateway.deliveries[3] == gateway.deliveries[4] == 2
        assert all(n == 1 for seq, n in gateway.deliveries.items() if seq not in (3, 4))
        assert sender.resends == 1
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await outbox.close()


async def test_a_backlog_the_broker_drops_still_arrives_as_replays_on_the_scan_topic(tmp_path):
    """A site whose broker ACL predates the backlog topic drops every backlog scan without
    a word; each is sent again on the scan topic, marked as a replay, and acknowledged."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    await outbox.open()
    sender = OutboxSender(outbox, waiting=lambda: (), window=4, batch=2, resend_after_s=0.2)
    gateway = LossyGateway(sender, lose=set())
    gateway.ids = {}
    replays = []

    async def scan_topic(payload: bytes) -> None:
        replays.append(json.loads(payload).get("replay"))
        await gateway.publish(payload)

    async def refused(payload: bytes) -> None:
        pass  # the broker's ACL: not authorised, nothing delivered

    for _ in range(6):
        pending = await outbox.add(scan)
        gateway.ids[pending.seq] = pending.id
    run = asyncio.create_task(sender.run(scan_topic, refused))
    try:
        for _ in range(100):
            if (await outbox.backlog())[0] == 0:
                break
            await asyncio.sleep(0.05)
        assert (await outbox.backlog())[0] == 0, "the backlog never reached the gateway"
        assert replays and all(replays), "sent on the scan topic without the replay mark"
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await outbox.close()
