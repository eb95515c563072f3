"""Each enrolled kiosk's door policy, published retained (protocol kind `policy`).

A kiosk applies its door's entry policy to the decisions it makes itself, so it has to
know it, and keep knowing it while the gateway is away: the message is retained, and the
kiosk stores it. The gateway works out every kiosk's policy from the kiosk register (its
doors) and the entry policies (their units' categories) every `interval_s`, publishes what
changed, and everything again on a new connection (the broker may have lost its store).
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from firmware import mqtt_client, protocol
from gateway.entry_policy import EntryPolicies
from gateway.kiosk_trust import KioskRegister

log = logging.getLogger(__name__)


class PolicyPublisher:
    def __init__(self, site: str, session: mqtt_client.Session, register: KioskRegister,
                 policies: EntryPolicies, interval_s: float = 2.0) -> None:
        self.site = site
        self.session = session
        self.register = register
        self.policies = policies
        self.interval_s = interval_s
        self._sent: dict[str, tuple] = {}  # kiosk -> the policy fields last published
        self._client: aiomqtt.Client | None = None

    def wanted(self) -> dict[str, dict]:
        """kiosk -> its policy message now (none without a kiosk register)."""
        enrolled = self.register.enrolled() or {}
        now = protocol.now_ms()
        out = {}
        for kiosk, doors in sorted(enrolled.items()):
            try:
                protocol.check_kiosk_name(kiosk)
            except protocol.ProtocolError:
                continue  # not a name a kiosk can connect as
            policy = self.policies.for_doors(sorted(doors))
            names = sorted({c for d in doors if (c := self.policies.category_of(d))})
            out[kiosk] = protocol.policy(kiosk, policy, now, ",".join(names)[:200] or None)
        return out

    async def publish_changed(self) -> int:
        """Publish what differs from what this connection already carried; the count."""
        client = self.session.client
        if client is None:
            return 0
        if client is not self._client:
            self._client, self._sent = client, {}
        published = 0
        for kiosk, msg in self.wanted().items():
            key = tuple(v for k, v in sorted(msg.items()) if k != "ts")
            if self._sent.get(kiosk) == key:
                continue
            await client.publish(protocol.topic(self.site, kiosk, protocol.POLICY),
                                 protocol.encode(protocol.POLICY, msg), qos=1, retain=True)
            self._sent[kiosk] = key
            published += 1
        return published

    async def run(self) -> None:
        while True:
            try:
                await self.publish_changed()
            except aiomqtt.MqttError as exc:
                log.warning("door policies not published: %s", exc)
                self._client = None  # publish them all on the next try
            await asyncio.sleep(self.interval_s)
