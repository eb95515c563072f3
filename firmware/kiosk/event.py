"""Event: a Reading becomes a scan message with an id, a sequence number and a time.

The event id (UUIDv7) is assigned here, on the kiosk, at the moment of the scan: unique
across kiosks, sorting by time, and the key by which the verdict finds its way back.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware import protocol
from firmware.kiosk.reading import Reading


class EventFactory:
    def __init__(self, kiosk: str, door: str, clock: Callable[[], int] = protocol.now_ms) -> None:
        self.kiosk = kiosk
        self.door = door
        self._clock = clock
        self._ids = protocol.EventIds()

    def builder(
        self, reading: Reading, judge: Callable[[str], tuple[str, str, str, str]] | None = None,
        epoch: int = 0,
        temp_dc: int | None = None,
    ) -> Callable[[int], tuple[str, bytes, int]]:
        """A function of the sequence number, for Outbox.add to call inside its transaction.
        `judge(event_id)` gives the kiosk's own decision when it decides itself; `epoch` is
        the outbox's numbering epoch; `temp_dc` is the visitor's temperature in tenths of a
        degree, where the door measured one."""

        def build(seq: int) -> tuple[str, bytes, int]:
            ts = self._clock()
            event_id = self._ids.new(ts)
            decided = judge(event_id) if judge else None
            msg = protocol.scan(
                event_id,
                self.kiosk,
                self.door,
                seq,
                ts,
                reading.method,
                reading.credential,
                medium=reading.medium,
                name=reading.name,
                decided=decided,
                epoch=epoch,
                temp_dc=temp_dc,
            )
            return event_id, protocol.encode(protocol.SCAN, msg), ts

        return build
