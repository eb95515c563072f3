"""What kiosks report besides scans: their status (presence, health, backlog) and the
people their boards counted through the door."""

from __future__ import annotations

import logging

from firmware import protocol
from gateway.events import DoorCounted, Observer
from gateway.read_model import ReadModel
from gateway.replies import KioskReplies
from gateway.settling import Settling
from gateway.store import Store

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000
SETTLE_S = 10.0  # how long the sequence question waits for the kiosk's scans in flight


class KioskReports:
    def __init__(self, store: Store, reads: ReadModel, replies: KioskReplies,
                 observers: Observer, settling: Settling | None = None) -> None:
        self.store = store
        self.reads = reads
        self.replies = replies
        self.observers = observers
        self.settling = settling or Settling()
        self.not_yet = 0  # sequence questions left unanswered (scans still unsettled)

    async def status(self, msg: dict) -> None:
        self.store.kiosk_status(msg, protocol.now_ms())
        if msg["state"] == "online":
            await self._answer_sequence(msg)

    async def _answer_sequence(self, msg: dict) -> None:
        """Tell the kiosk the highest seq stored in its epoch (docs/protocol.md §1.9), so
        a kiosk whose file went back continues above it — but only once everything it sent
        before asking is committed; otherwise not yet (it asks again with its next
        status)."""
        kiosk, epoch = msg["kiosk"], protocol.epoch_of(msg)
        if not await self.settling.all_stored(kiosk, SETTLE_S):
            self.not_yet += 1
            log.warning("%s asked where its numbering stands while scans it sent are not "
                        "stored yet: not answered this time", kiosk)
            return
        await self.replies.ack(kiosk, [], await self.reads.high_seq(kiosk, epoch), epoch)

    async def door(self, msg: dict) -> None:
        await self.store.add_door_pass(msg)
        hour = msg["ts"] - msg["ts"] % HOUR_MS
        people = await self.reads.people_in(msg["door"], hour)
        self.observers.observe(DoorCounted(msg["door"], hour, people))
