"""What the gateway believes of a kiosk's scan: the trust model.

A kiosk is who its broker login says: the broker's ACL lets a login publish only on its
own topics (provisioning/broker_files.py), and the gateway takes the kiosk from the topic,
never from the message. Everything else a kiosk sends is a claim, checked here before a
scan is stored, answered or forwarded:

- door: a kiosk stands at the door(s) the register enrolled it for (`kiosks.json`, which
  provisioning writes beside the broker's files). A scan naming another door is rejected
  and alerted; it is never stored or forwarded.
- decision: a kiosk may carry a decision only as it would have made it itself
  (firmware/kiosk/decide.py): a signed code judged against the trust and red lists, which
  the gateway judges again against its own copies of those lists; an ID card refused for
  the red list, which the gateway looks up in its own red list; or "manual check" (no
  verdict in time: colour unknown), each under the door's entry policy as the kiosk
  applies it (gateway/entry_policy.py). Anything else, a kiosk claiming green for an ID card
  say, is overruled: the gateway's own decision replaces it, and it is alerted (a forged
  claim, or a kiosk holding an older list than the gateway's).
- time: a live scan further than `max_skew_s` from the gateway's clock, or any scan that
  far in the future, keeps the kiosk's time but is stored with the gateway's receive time
  beside it and flagged (a replay may be old: the kiosk was offline).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware import verdict as verdicts
from firmware.signed import cose, redlist, trustlist
from firmware.signed.signedlist import DocumentError, Header, require_int
from firmware.signed.verify import negative_test_ms, verify
from firmware.verdict import NO_POLICY, Policy, Verdict

log = logging.getLogger(__name__)

REGISTER_FILE = "kiosks.json"


@dataclass(slots=True)
class KioskRegister:
    """Kiosk name -> the doors it may scan at. `None` (no register configured: a demo or
    a test site without provisioning) lets every kiosk name any door. Loaded from a file,
    it follows the file: provisioning rewrites it on every enrolment and revocation, and
    it is read again when it has changed (looked at once a second at most). A missing
    file is an empty register: no kiosk enrolled yet."""

    doors: dict[str, frozenset[str]] | None = None
    path: Path | None = None
    _stamp: tuple[int, int] | None = None
    _looked: float = 0.0

    @classmethod
    def load(cls, path: Path | None) -> KioskRegister:
        register = cls(None, Path(path) if path is not None else None)
        register._refresh(force=True)
        return register

    def _refresh(self, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._looked < 1.0:
            return
        self._looked = now
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self.doors, self._stamp = {}, None
            return
        if (st.st_mtime_ns, st.st_size) == self._stamp:
            return
        raw = json.loads(self.path.read_text())
        kiosks = raw.get("kiosks") if isinstance(raw, dict) else None
        if not isinstance(kiosks, dict) or not all(
                isinstance(d, list) and all(isinstance(x, str) for x in d)
                for d in kiosks.values()):
            raise ValueError(f'{self.path}: not a kiosk register ({{"kiosks": {{name: [door]}}}})')
        self.doors = {name: frozenset(doors) for name, doors in kiosks.items()}
        self._stamp = (st.st_mtime_ns, st.st_size)

    def enrolled(self) -> dict[str, frozenset[str]] | None:
        """Kiosk -> its doors as the register says now; None without a register."""
        try:
            self._refresh()
        except (OSError, ValueError) as exc:
            log.warning("kiosk register not re-read: %s", exc)
        return self.doors

    def all_doors(self) -> frozenset[str] | None:
        """Every door some kiosk is enrolled for; None without a register."""
        enrolled = self.enrolled()
        if enrolled is None:
            return None
        return frozenset(d for doors in enrolled.values() for d in doors)

    def allows(self, kiosk: str, door: str) -> bool:
        try:
            self._refresh()
        except (OSError, ValueError) as exc:  # half-written by hand: keep what was known
            log.warning("kiosk register not re-read: %s", exc)
        return self.doors is None or door in self.doors.get(kiosk, frozenset())


def _own_document(path: Path, doc_type: str) -> tuple[Header, dict]:
    """One of the gateway's own signed lists (its config names the file; the signature is
    for the kiosks, which do not trust the gateway): read without a root key."""
    msg = cose.decode_sign1(Path(path).read_bytes())
    body = json.loads(msg.payload.decode("utf-8"))
    if not isinstance(body, dict) or body.get("type") != doc_type:
        raise DocumentError("wrong_type", str(path))
    header = Header(doc_type, str(body.get("site", "")), require_int(body, "version") or 0,
                    require_int(body, "issued") or 0)
    return header, body


@dataclass(slots=True)
class GatewayLists:
    """The trust list and red list the gateway hands its kiosks, as it judges with them."""

    trust: trustlist.TrustList | None = None
    red: redlist.RedList | None = None

    @classmethod
    def load(cls, trust_file: Path | None, red_file: Path | None) -> GatewayLists:
        lists = cls()
        if trust_file is not None:
            lists.trust = trustlist.parse(*_own_document(trust_file, trustlist.TYPE))
        if red_file is not None:
            lists.red = redlist.parse(*_own_document(red_file, redlist.TYPE))
        return lists


def expected_decision(msg: dict, lists: GatewayLists, at_s: float,
                      policy: Policy = NO_POLICY) -> Verdict:
    """The decision the kiosk should have made on this scan, judged by the gateway, under
    the door's entry policy as the kiosk applies it (firmware/kiosk/decide.py)."""
    event_id, method = msg["id"], msg["method"]
    at_ms = int(at_s * 1000)
    if method == "signed_code":
        result = verify(msg["credential"], lists.trust, at=at_s, red_list=lists.red)
        decided = verdicts.for_signed_code(event_id, result.valid, result.reason)
        return verdicts.apply_policy(decided, policy, negative_test_ms(result), at_ms)
    if method == "id_card" and lists.red is not None \
            and lists.red.contains("id", msg["credential"]):
        return verdicts.red_listed(event_id)
    return verdicts.apply_policy(verdicts.manual_check(event_id), policy, None, at_ms)


def overruled(msg: dict, claimed: Verdict, lists: GatewayLists, at_s: float,
              policy: Policy = NO_POLICY) -> Verdict | None:
    """The gateway's decision when a kiosk's claimed one is not what the kiosk could have
    decided; None when the claim holds. A kiosk's "manual check" (colour unknown, no
    verdict in time) always holds: it claims nothing about the person."""
    if claimed.colour == verdicts.UNKNOWN and claimed.source == verdicts.TIMEOUT:
        return None
    expected = expected_decision(msg, lists, at_s, policy)
    if (claimed.colour, claimed.action, claimed.source) == \
            (expected.colour, expected.action, expected.source):
        return None
    if claimed.prompt == "high_temperature" and claimed.action == verdicts.HOLD and \
            "temp_dc" in msg and expected.action != verdicts.REFUSE and \
            (claimed.colour, claimed.source) == (expected.colour, expected.source):
        return None  # held for its temperature (firmware/verdict.py with_temperature)
    return expected


@dataclass(slots=True)
class Judgement:
    foreign_door: bool = False
    replacement: Verdict | None = None  # the gateway's decision for an overruled one
    skewed: bool = False
    flags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class KioskTrust:
    register: KioskRegister
    lists: GatewayLists
    max_skew_ms: int = 300_000
    # door -> entry policy (gateway/entry_policy.py); None: the colour alone decides
    policy_of: Callable[[str], Policy] | None = None

    def judge(self, msg: dict, claimed: Verdict | None, received_ms: int,
              live: bool) -> Judgement:
        """What to believe of one scan (`claimed`: the decision it carries, if any)."""
        j = Judgement()
        if not self.register.allows(msg["kiosk"], msg["door"]):
            j.foreign_door = True
            j.flags.append("foreign_door")
            return j
        ahead = msg["ts"] - received_ms
        if ahead > self.max_skew_ms or (live and -ahead > self.max_skew_ms):
            j.skewed = True
            j.flags.append("clock_skew")
        if claimed is not None:
            # Judge at the scan's own time, unless that is itself not believable.
            at_s = (received_ms if j.skewed else msg["ts"]) / 1000
            policy = self.policy_of(msg["door"]) if self.policy_of else NO_POLICY
            j.replacement = overruled(msg, claimed, self.lists, at_s, policy)
            if j.replacement is not None:
                j.flags.append("decision_overruled")
        return j

