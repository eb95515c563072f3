"""Forwarder: uploads stored scan records to the city platform, each exactly once.

Records leave the upload queue only after the platform has confirmed the batch; a
retried batch carries the same idempotency keys (the event ids), so the platform never
counts a record twice. Failures back off exponentially with jitter; the queue lives in
SQLite, so a restarted gateway resumes where it stopped.

Records leave in sequence order per kiosk and numbering epoch (the read model's query); the
order is checked by the store, from durable state, as each scan is stored (gateway/store.py:
sequence faults, alerted on the console).

Every failure of a round is the forwarder's own to handle: the platform refusing an upload,
and equally the store failing to record the confirmation (a full disk) or the queue failing
to be read. Each is reported in `last_error` (shown by the console and /metrics) and the
round is tried again after the backoff; a confirmation that was not recorded only means the
batch is uploaded again, which the platform counts once. The forwarder never ends on an
error, so uploads resume by themselves when the fault does.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from firmware.timeouts import event_set_within
from gateway.platform import Platform, UploadFailed
from gateway.read_model import ReadModel
from gateway.store import Store

log = logging.getLogger(__name__)


class Forwarder:
    def __init__(
        self, store: Store, reads: ReadModel, platform: Platform, batch: int = 500,
        hold_s: float = 600.0,
    ) -> None:
        self.store = store  # confirmed records leave through the store's writer
        self.reads = reads  # the queue is read on a read-only connection of its own
        self.hold_s = hold_s
        self.gather_s = 0.2
        self.platform = platform
        self.batch = batch
        self.wake = asyncio.Event()
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.uploaded = 0

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                sent = await self._round()
            except Exception as exc:  # every fault is reported and retried
                self._failed(exc)
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 0.5
            if sent is None:
                await event_set_within(self.wake, 1)
            elif sent < self.batch:
                await asyncio.sleep(self.gather_s)  # let a busy site fill the next batch

    async def _round(self) -> int | None:
        """Upload one batch and record the platform's confirmation; the number of records,
        or None when nothing is ready."""
        self.wake.clear()
        hold_before = int((time.time() - self.hold_s) * 1000)
        pending = await self.reads.pending_upload_rows(self.batch, hold_before)
        if not pending:
            return None
        await self.platform.upload_encoded([row.body for row in pending])
        # with the confirmation, each stream's highest seq uploaded: the store checks every
        # later scan against it (a scan at or below it reaches the platform out of order)
        uploaded: dict[tuple[str, int], int] = {}
        for row in pending:
            stream = (row.kiosk, row.epoch)
            uploaded[stream] = max(row.seq, uploaded.get(stream, 0))
        await self.store.confirm_uploads([row.n for row in pending], uploaded)
        self.uploaded += len(pending)
        self.last_success = time.time()
        self.last_error = None
        return len(pending)

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, UploadFailed):
            self.last_error = type(exc.__cause__ or exc).__name__
            log.warning("upload failed (%s); retrying", exc)
        else:
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.error("upload round failed (%s); retrying", self.last_error)

