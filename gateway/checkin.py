"""Check-in: one scan at the gateway — store it, ask the platform, answer the kiosk.

The scan is stored (durably) while the platform lookup runs, and the verdict goes out
only after both: a verdict is therefore also the kiosk's proof that the gateway has the
scan and the kiosk may drop it from its outbox. A scan seen before is not looked up
again; its stored verdict is sent again as the acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from firmware import protocol
from gateway.personal import Pseudonymiser, mask, mask_name
from gateway.platform import PlatformClient
from gateway.store import Store, StoredVerdict
from gateway.verdict import decide

log = logging.getLogger(__name__)

Publish = Callable[[str, dict], Awaitable[None]]


def upload_record(site: str, msg: dict) -> dict:
    record = {
        "key": msg["id"],
        "site": site,
        "kiosk": msg["kiosk"],
        "door": msg["door"],
        "seq": msg["seq"],
        "ts": msg["ts"],
        "method": msg["method"],
        "medium": msg.get("medium", "unknown"),
        "credential": msg["credential"],
    }
    if "name" in msg:
        record["name"] = msg["name"]
    return record


class CheckIn:
    def __init__(
        self,
        site: str,
        store: Store,
        platform: PlatformClient,
        pseudonyms: Pseudonymiser,
        publish_verdict: Publish,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.site = site
        self.store = store
        self.platform = platform
        self.pseudonyms = pseudonyms
        self.publish_verdict = publish_verdict
        self.on_stored = on_stored
        self.counts: Counter[str] = Counter()
        self.listeners: list[Callable[[dict], None]] = []

    async def handle(self, msg: dict) -> None:
        received = protocol.now_ms()
        started = time.perf_counter()
        method, credential = msg["method"], msg["credential"]
        stored = self.store.add_scan(
            msg,
            received,
            self.pseudonyms.subject(method, credential),
            mask(method, credential),
            mask_name(msg.get("name")),
            upload_record(self.site, msg),
        )
        if method == "signed_code":
            # Offline-verifiable codes are checked on the kiosk against the trust list;
            # the gateway has no platform colour for them.
            seen, colour = await stored, "unknown"
        else:
            seen, colour = await asyncio.gather(stored, self.platform.status(method, credential))
        if seen is not None:
            self.counts["duplicate"] += 1
            if seen.colour:  # answered before: acknowledge again with the same verdict
                await self._send(msg, seen)
                return
        else:
            self.on_stored()
        verdict = decide(colour)
        await self._send(msg, verdict)
        await self.store.set_verdict(msg["id"], verdict, protocol.now_ms())
        self.counts[verdict.colour] += 1
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("scan %s from %s -> %s in %.1f ms", msg["id"], msg["kiosk"], verdict.colour, elapsed_ms)
        entry = {"id": msg["id"], "kiosk": msg["kiosk"], "door": msg["door"], "ts": msg["ts"],
                 "method": method, "colour": verdict.colour, "action": verdict.action}
        for listener in self.listeners:
            listener(entry)

    async def _send(self, msg: dict, v: StoredVerdict) -> None:
        await self.publish_verdict(
            msg["kiosk"],
            protocol.verdict(msg["id"], msg["kiosk"], v.colour, v.action, v.prompt, v.source,
                             protocol.now_ms()),
        )
