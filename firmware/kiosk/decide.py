"""The kiosk's own decisions: a signed code checked here, and the door without a verdict.

Signed offline codes (HC1) are verified on the kiosk against the trust list the gateway
distributes, in well under a millisecond, so they never wait for the network. An online
token or an ID card with no verdict in time gets "manual check" — never green; an ID card
on the red list is refused. Whether the gate opens when nothing could be checked is the
site's setting (`gate_unchecked`). Each decision then goes through the door's entry
policy (firmware/kiosk/door_policy.py), the same rule the gateway applies to its verdicts:
a signed code opens a door that asks for a recent test only when it is a negative test
certificate recent enough, and a door whose category never lets anyone through unchecked
holds whatever `gate_unchecked` says.
"""

from __future__ import annotations

import time

from firmware import verdict
from firmware.kiosk.door_policy import DoorPolicy
from firmware.kiosk.reading import Reading
from firmware.kiosk.signed_lists import KioskLists
from firmware.signed.verify import negative_test_ms, verify
from firmware.verdict import NO_POLICY, Policy, Verdict


class KioskDecisions:
    def __init__(self, lists: KioskLists | None, gate_unchecked: str = "closed",
                 policy: DoorPolicy | None = None) -> None:
        self.lists = lists
        self.gate_unchecked = gate_unchecked
        self.policy = policy

    @property
    def door_policy(self) -> Policy:
        return self.policy.current if self.policy is not None else NO_POLICY

    def signed_code(self, event_id: str, reading: Reading) -> Verdict:
        trust = self.lists.trust.current if self.lists else None
        red = self.lists.red.current if self.lists else None
        now = time.time()
        result = verify(reading.credential, trust, at=now, red_list=red)
        decided = verdict.for_signed_code(event_id, result.valid, result.reason)
        return verdict.apply_policy(decided, self.door_policy, negative_test_ms(result),
                                    int(now * 1000))

    def without_verdict(self, event_id: str, reading: Reading) -> Verdict:
        red = self.lists.red.current if self.lists else None
        if (
            reading.method == "id_card"
            and red is not None
            and red.contains("id", reading.credential)
        ):
            return verdict.red_listed(event_id)
        decided = verdict.manual_check(event_id, self.gate_unchecked)
        return verdict.apply_policy(decided, self.door_policy, None, int(time.time() * 1000))

