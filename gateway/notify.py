"""Telling the site manager about an alert nobody acknowledged: one interface, two ways.

`Notifier.send(notice)` delivers one notice or raises NotifyError with a short reason; the
escalation (gateway/escalation.py) retries until it is delivered or the alert is closed.
Each notice carries a key (the alert's number and site), so a receiver that got a retry
of a notice it already has can tell (`Idempotency-Key`).

- `WebhookNotifier`: POSTs the notice as JSON to the manager's system, with
  `Authorization: Bearer <secret>` and `X-PlaceCode-Signature: sha256=<HMAC of the body>`.
- `SmsNotifier`: POSTs {to, text} to an HTTP SMS gateway, which texts the manager.

A notice names the door, what happened and who was on duty; never the visitor (no ID
number, name or code, not even masked): it leaves the site's network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Protocol

import httpx

from gateway.config import NotifierConfig


class NotifyError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Notice:
    key: str  # "<site>:alert:<n>": the same for every retry of one notice
    site: str
    alert: int
    kind: str
    door: str | None
    colour: str | None
    raised_ms: int
    waited_s: int
    on_duty: str | None
    text: str  # Chinese first, English second

    def body(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode()


class Notifier(Protocol):
    name: str  # what the alert records as where the notice went

    async def send(self, notice: Notice) -> None: ...

    async def close(self) -> None: ...


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Http:
    def __init__(self, cfg: NotifierConfig) -> None:
        self.cfg = cfg
        self.http = httpx.AsyncClient(timeout=cfg.timeout_s)

    async def _post(self, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = await self.http.post(self.cfg.url, content=body, headers={
                "Content-Type": "application/json; charset=utf-8", **headers})
        except httpx.TimeoutException:
            raise NotifyError("timeout") from None
        except httpx.HTTPError as exc:
            raise NotifyError(f"unreachable: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"HTTP {response.status_code}")

    async def close(self) -> None:
        await self.http.aclose()


class WebhookNotifier(_Http):
    name = "webhook"

    async def send(self, notice: Notice) -> None:
        body = notice.body()
        headers = {"Idempotency-Key": notice.key}
        if self.cfg.secret:
            headers["Authorization"] = f"Bearer {self.cfg.secret}"
            headers["X-PlaceCode-Signature"] = signature(self.cfg.secret, body)
        await self._post(body, headers)


class SmsNotifier(_Http):
    name = "sms"

    async def send(self, notice: Notice) -> None:
        body = json.dumps({"to": list(self.cfg.to), "text": notice.text, "ref": notice.key},
                          ensure_ascii=False).encode()
        headers = {"Idempotency-Key": notice.key}
        if self.cfg.secret:
            headers["Authorization"] = f"Bearer {self.cfg.secret}"
        await self._post(body, headers)


def from_config(cfg: NotifierConfig) -> Notifier:
    return WebhookNotifier(cfg) if cfg.kind == "webhook" else SmsNotifier(cfg)
