"""What kiosks report besides scans: their status (presence, health, backlog) and the
people their boards counted through the door."""

from __future__ import annotations

from firmware import protocol
from gateway.events import DoorCounted, Observer
from gateway.read_model import ReadModel
from gateway.replies import KioskReplies
from gateway.store import Store

HOUR_MS = 3_600_000


class KioskReports:
    def __init__(self, store: Store, reads: ReadModel, replies: KioskReplies,
                 observers: Observer) -> None:
        self.store = store
        self.reads = reads
        self.replies = replies
        self.observers = observers

    async def status(self, msg: dict) -> None:
        self.store.kiosk_status(msg, protocol.now_ms())
        if msg["state"] == "online":
            # Tell the kiosk the highest sequence stored, so a kiosk whose data was wiped
            # continues its numbering instead of reusing it.
            await self.replies.ack(msg["kiosk"], [], await self.reads.high_seq(msg["kiosk"]))

    async def door(self, msg: dict) -> None:
        await self.store.add_door_pass(msg)
        hour = msg["ts"] - msg["ts"] % HOUR_MS
        people = await self.reads.people_in(msg["door"], hour)
        self.observers.observe(DoorCounted(msg["door"], hour, people))
