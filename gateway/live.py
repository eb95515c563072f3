"""The console's live feed: server-sent events, pushed the moment an entry is stored.

The console's event task hands each entry, alert and kiosk change to `publish`, which
fans it out to every open browser. A browser that falls behind loses its oldest
messages, never slows the door.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from firmware.timeouts import within

HEARTBEAT_S = 15.0


def decided(source: str | None) -> str:
    """'online' when the gateway decided with the platform's answer; 'offline' when the
    kiosk decided alone and sent the scan later (a replay carries no gateway verdict)."""
    return "online" if source else "offline"


def entry_view(row: dict) -> dict:
    """One entry as the console shows it: masked forms only, never the keyed hash."""
    return {
        "id": row["id"], "kiosk": row["kiosk"], "door": row["door"], "ts": row["ts"],
        "method": row["method"], "medium": row.get("medium"),
        "masked": row.get("masked"), "masked_name": row.get("masked_name"),
        "colour": row.get("colour"), "action": row.get("action"),
        "prompt": row.get("prompt"),
        "decided": decided(row.get("source")),
        "temp_dc": row.get("temp_dc"),  # live feed only: temperatures are not stored
    }


class Hub:
    def __init__(self) -> None:
        self._clients: set[asyncio.Queue[str]] = set()

    # --- fan-out -----------------------------------------------------------------------
    def publish(self, kind: str, data: dict) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        for queue in list(self._clients):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    async def stream(self, is_disconnected, still_signed_in) -> AsyncIterator[str]:
        """Messages for one browser until it leaves or its session ends (checked at each
        heartbeat, so a signed-out or expired session stops receiving within HEARTBEAT_S)."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=500)
        self._clients.add(queue)
        try:
            yield "retry: 1000\nevent: hello\ndata: {}\n\n"
            while True:
                try:
                    yield await within(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    if await is_disconnected() or not await still_signed_in():
                        return
                    yield ": keep-alive\n\n"
        finally:
            self._clients.discard(queue)
