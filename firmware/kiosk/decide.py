"""The kiosk's own decisions: a signed code checked here, and the door without a verdict.

Signed offline codes (HC1) are verified on the kiosk against the trust list the gateway
distributes, in well under a millisecond, so they never wait for the network. An online
token or an ID card with no verdict in time gets "manual check" — never green; an ID card
on the red list is refused. Whether the gate opens when nothing could be checked is the
site's setting (`gate_unchecked`).
"""

from __future__ import annotations

import time

from firmware import verdict
from firmware.kiosk.reading import Reading
from firmware.kiosk.signed_lists import KioskLists
from firmware.signed.verify import verify
from firmware.verdict import Verdict


class KioskDecisions:
    def __init__(self, lists: KioskLists | None, gate_unchecked: str = "closed") -> None:
        self.lists = lists
        self.gate_unchecked = gate_unchecked

    def signed_code(self, event_id: str, reading: Reading) -> Verdict:
        trust = self.lists.trust.current if self.lists else None
        red = self.lists.red.current if self.lists else None
        result = verify(reading.credential, trust, at=time.time(), red_list=red)
        return verdict.for_signed_code(event_id, result.valid, result.reason)

    def without_verdict(self, event_id: str, reading: Reading) -> Verdict:
        red = self.lists.red.current if self.lists else None
        if (
            reading.method == "id_card"
            and red is not None
            and red.contains("id", reading.credential)
        ):
            return verdict.red_listed(event_id)
        return verdict.manual_check(event_id, self.gate_unchecked)
