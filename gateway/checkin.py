"""Check-in: one scan at the gateway — store it, ask the platform, answer the kiosk.

Two answers, for two needs. The verdict goes out the moment the platform's colour is
known, because a person is waiting at the door. The acknowledgement goes out once the
scan is committed to disk, because only then may the kiosk drop it from its outbox. A
replayed scan (the kiosk no longer waits for it) is stored and acknowledged only: no
platform lookup, no verdict.

Nothing a kiosk claims is taken on trust (gateway/kiosk_trust.py): a scan naming a door
the kiosk is not enrolled for is refused; a decision the kiosk could not have made is
replaced by the gateway's own (for a code or an ID card, the platform's colour); a time
far from the gateway's clock goes to the platform as the gateway's receive time, with the
kiosk's beside it. Each is flagged to the console.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from firmware import protocol
from firmware import verdict as verdicts
from firmware.verdict import Verdict
from gateway import standard2
from gateway.entry_policy import EntryPolicies, no_categories
from gateway.events import MisuseSeen, Observer, ScanDistrusted, ScanStored, VerdictSent
from gateway.kiosk_trust import GatewayLists, Judgement, KioskRegister, KioskTrust
from gateway.misuse import ReplayGuard
from gateway.personal import Pseudonymiser, mask, mask_name
from gateway.status_cache import Status, StatusCache
from gateway.store import Store

log = logging.getLogger(__name__)


class Replies(Protocol):
    """How check-in answers a kiosk (gateway/replies.py over MQTT)."""

    async def verdict(self, kiosk: str, msg: dict) -> None: ...

    def acknowledge(self, kiosk: str, event_id: str) -> None: ...


def kiosk_decision(msg: dict) -> Verdict:
    """The decision a scan carries from its kiosk, or — a replay that carries none, from a
    kiosk that decided without the gateway — a manual check."""
    if "source" not in msg:
        return verdicts.manual_check(msg["id"])
    prompt = msg.get("prompt") or verdicts.for_colour("", msg["colour"]).prompt
    return Verdict(msg["id"], msg["colour"], msg["action"], prompt, msg["source"])


def upload_record(site: str, msg: dict, judged: Judgement | None = None,
                  received_ms: int | None = None) -> dict:
    """The scan as the platform receives it (the mapping is gateway/standard2.py's)."""
    if judged is None or not judged.flags:
        return standard2.scan_record(site, msg)
    return standard2.scan_record(site, msg, judged.flags,
                                 received_ms if judged.skewed else None)


class CheckIn:
    def __init__(
        self,
        site: str,
        store: Store,
        statuses: StatusCache,
        pseudonyms: Pseudonymiser,
        replies: Replies,
        observers: Observer,
        on_stored: Callable[[], None] = lambda: None,
        trust: KioskTrust | None = None,
        policies: EntryPolicies | None = None,
        threshold_dc: int | None = None,
    ) -> None:
        self.site = site
        self.store = store
        self.statuses = statuses
        self.pseudonyms = pseudonyms
        self.replies = replies
        self.observers = observers
        self.on_stored = on_stored  # a new scan is waiting for upload
        self.trust = trust or KioskTrust(KioskRegister(None), GatewayLists())
        self.policies = policies or EntryPolicies({}, no_categories)
        # a visitor measured at or above this (tenths of a degree) is held for a re-check
        self.threshold_dc = threshold_dc
        self.counts: Counter[str] = Counter()
        # One-time signed codes seen at two doors, or again: flagged to the console.
        self.misuse = ReplayGuard(secret=pseudonyms.key)

    async def handle(self, msg: dict) -> None:
        """A live scan: the kiosk waits for its verdict unless it decided itself."""
        received = protocol.now_ms()
        started = time.perf_counter()
        method, credential = msg["method"], msg["credential"]
        live = not msg.get("replay")
        claimed = kiosk_decision(msg) if "source" in msg else None
        judged = self.trust.judge(msg, claimed, received, live)
        if judged.foreign_door:
            self._refuse(msg, judged)
            return
        subject = self.pseudonyms.subject(method, credential)
        verdict = None
        if claimed is not None:
            # The kiosk decided itself (a signed code checked against the trust list, or
            # no verdict in time): record its decision, unless the gateway's check of it
            # differs; there is nothing to send back but the ack.
            verdict = judged.replacement or claimed
            if judged.replacement is not None and live and method != "signed_code":
                # a colour claimed for a code or an ID card: what the platform says
                status = await self.statuses.status(subject, method, credential)
                verdict = self._decide(msg, status)
        elif live:
            # Someone is waiting at the door: the verdict goes out first, before the scan
            # is committed, so the writer's disk work never sits on the visitor's path.
            status = await self.statuses.status(subject, method, credential)
            verdict = self._decide(msg, status)
            await self._send(msg, verdict)
            self.observers.observe(VerdictSent(msg["kiosk"], msg["id"], verdict.colour,
                                               time.perf_counter() - started))
        # A scan nobody waited for any more: the kiosk decided at the door without the
        # gateway (manual check, or its fail-open setting).
        replayed = verdict is None
        verdict = verdict or kiosk_decision(msg)
        stored = self.store.add_scan(
            msg,
            received,
            subject,
            mask(method, credential),
            mask_name(msg.get("name")),
            upload_record(self.site, msg, judged, received),
            verdict,
            protocol.now_ms(),
        )
        is_new = await stored
        self.replies.acknowledge(msg["kiosk"], msg["id"])
        if not is_new:
            self.counts["duplicate"] += 1
            return
        self.on_stored()
        if judged.flags:
            self._distrusted(msg, judged)
        if method == "signed_code":
            self._check_misuse(msg)
        if replayed:
            self.counts["replayed"] += 1
        self.counts[verdict.colour] += 1
        log.info("scan %s from %s -> %s in %.1f ms", msg["id"], msg["kiosk"], verdict.colour,
                 (time.perf_counter() - started) * 1000)
        self.observers.observe(ScanStored(msg["id"], msg["kiosk"], msg["door"], msg["ts"], method,
                                          verdict.colour, verdict.action, verdict.prompt,
                                          verdict.source, msg.get("temp_dc")))

    async def handle_replays(self, batch: list[dict]) -> None:
        """Scans nobody waits for any more (a kiosk's backlog): store, acknowledge, record
        the kiosk's own decision. One writer round for the whole batch."""
        received = protocol.now_ms()
        waits, kept = [], []
        for msg in batch:
            method, credential = msg["method"], msg["credential"]
            claimed = kiosk_decision(msg)
            judged = self.trust.judge(msg, claimed if "source" in msg else None, received,
                                      live=False)
            if judged.foreign_door:
                self._refuse(msg, judged)
                continue
            kept.append((msg, judged))
            waits.append(self.store.add_scan_nowait(
                msg, received, self.pseudonyms.subject(method, credential),
                mask(method, credential), mask_name(msg.get("name")),
                upload_record(self.site, msg, judged, received),
                judged.replacement or claimed, received,
            ))
        fresh = 0
        for (msg, judged), done in zip(kept, waits, strict=True):
            is_new = await done
            self.replies.acknowledge(msg["kiosk"], msg["id"])
            if not is_new:
                self.counts["duplicate"] += 1
                continue
            fresh += 1
            if judged.flags:
                self._distrusted(msg, judged)
            self.counts["replayed"] += 1
            if msg["method"] == "signed_code":
                self._check_misuse(msg)
        if fresh:
            self.on_stored()

    def _decide(self, msg: dict, status: Status) -> Verdict:
        """The colour's verdict under the door's entry policy (gateway/entry_policy.py);
        a temperature at or above the threshold holds the visitor for the person on duty."""
        verdict = verdicts.for_colour(msg["id"], status.colour, status.source)
        policy = self.policies.for_door(msg["door"])
        verdict = verdicts.apply_policy(verdict, policy, status.tested_ms, protocol.now_ms())
        return verdicts.with_temperature(verdict, msg.get("temp_dc"), self.threshold_dc)

    def _refuse(self, msg: dict, judged: Judgement) -> None:
        """A scan the gateway will not take (another door): acknowledged, so the kiosk
        drops it instead of sending it forever, never stored or forwarded, alerted."""
        self.counts["refused_foreign_door"] += 1
        log.warning("scan %s from %s refused: door %r is not enrolled for it", msg["id"],
                    msg["kiosk"], msg["door"][:64])
        self.replies.acknowledge(msg["kiosk"], msg["id"])
        self._distrusted(msg, judged)

    def _distrusted(self, msg: dict, judged: Judgement) -> None:
        for flag in judged.flags:
            self.counts[flag] += 1
        if judged.flags != ["foreign_door"]:
            log.warning("scan %s from %s flagged: %s", msg["id"], msg["kiosk"],
                        ", ".join(judged.flags))
        self.observers.observe(ScanDistrusted(msg["id"], msg["kiosk"], msg["door"], msg["ts"],
                                              tuple(judged.flags)))

    def _check_misuse(self, msg: dict) -> None:
        misuse = self.misuse.observe(msg["credential"], msg["door"], msg["ts"] / 1000)
        if misuse is None:
            return
        self.counts["misuse_" + misuse.kind] += 1
        log.warning("signed code %s: scan %s at %s (first seen at %s)", misuse.kind, msg["id"],
                    msg["door"], misuse.first_door)
        self.observers.observe(MisuseSeen(misuse, msg["id"], msg["kiosk"], msg["door"], msg["ts"]))

    async def _send(self, msg: dict, v: Verdict) -> None:
        await self.replies.verdict(
            msg["kiosk"],
            protocol.verdict(msg["id"], msg["kiosk"], v.colour, v.action, v.prompt, v.source,
                             protocol.now_ms()),
        )
