"""The city platform as the gateway sees it (docs/platform-api.md): one port, `Platform`,
and its HTTP client, `HttpPlatform`.

A status lookup has a strict deadline: a visitor is waiting at the door. Any failure —
slow, down, unknown person, garbage answer — is the one outcome "could not check", which
the verdict turns into "hold for the person on duty", never into green.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx

from gateway import standard2
from gateway.lookup_channel import LookupChannel, LookupFailed
from gateway.personal import identity

log = logging.getLogger(__name__)

COLOURS = ("green", "yellow", "red")
DAILY_REPORTS = "/api/v1/daily-reports"


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the platform says of one person: the colour ('unknown': could not tell in
    time), and when their latest negative test was sampled, if it said (ms, or None)."""

    colour: str
    tested_ms: int | None = None


UNCHECKED = Lookup("unknown")


class UploadFailed(Exception):
    """The platform did not confirm an upload; the same records are sent again later."""


class Platform(Protocol):
    """What the gateway asks of the city platform."""

    errors: Counter[str]  # failed lookups, by reason

    async def status(self, method: str, credential: str) -> Lookup:
        """green / yellow / red, or 'unknown' when the platform could not tell in time."""
        ...

    async def upload_encoded(self, records: list[str]) -> None:
        """Upload scan records (each a JSON object, encoded); raises UploadFailed."""
        ...

    async def upload_reports(self, reports: list[str]
                             ) -> tuple[list[standard2.ReportResult] | None, str]:
        """Upload daily reports (each a JSON object in the platform's format, encoded;
        gateway/standard2): (the platform's answer per report, or None if it did not take
        them; what it answered, in words)."""
        ...

    async def close(self) -> None: ...


def lookup_body(method: str, credential: str) -> dict:
    """The status query for a scan: a manual one asks about the person its identifier
    names (an ID number as an ID card; a passport with its nationality; a phone)."""
    kind, value = identity(method, credential)
    if kind == "passport":
        nationality, _, number = value.partition(":")
        return {"method": kind, "credential": number, "nationality": nationality}
    return {"method": kind, "credential": value}


class HttpPlatform:
    """The platform's HTTP API (implements Platform)."""

    def __init__(self, base_url: str, deadline_s: float, upload_timeout_s: float = 10.0) -> None:
        self.deadline_s = deadline_s
        self.errors: Counter[str] = Counter()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(upload_timeout_s),
            limits=httpx.Limits(max_keepalive_connections=20, max_connections=50),
        )
        self._lookups = LookupChannel(base_url)

    async def close(self) -> None:
        await self._lookups.close()
        await self._http.aclose()

    async def status(self, method: str, credential: str) -> Lookup:
        """green / yellow / red, or 'unknown' when the platform could not tell us in time."""
        try:
            async with asyncio.timeout(self.deadline_s):
                response = await self._lookups.post_json("/api/v1/status",
                                                         lookup_body(method, credential))
        except TimeoutError:
            self.errors["timeout"] += 1
            return UNCHECKED
        except LookupFailed as exc:
            self.errors["unreachable"] += 1
            log.warning("platform lookup failed: %s", exc)
            return UNCHECKED
        if response.status == 404:
            self.errors["unknown_person"] += 1
            return UNCHECKED
        if response.status != 200:
            self.errors[f"http_{response.status}"] += 1
            return UNCHECKED
        try:
            body = response.json()
            colour = body["colour"]  # type: ignore[index]
        except (ValueError, KeyError, TypeError):
            body, colour = None, None
        if colour not in COLOURS:
            self.errors["bad_answer"] += 1
            return UNCHECKED
        return Lookup(colour, self._tested_ms(body))

    def _tested_ms(self, body: object) -> int | None:
        """`last_negative_test` (ISO 8601 with a zone), optional; a bad one counts as none."""
        text = body.get("last_negative_test") if isinstance(body, dict) else None
        if text is None:
            return None
        try:
            when = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            self.errors["bad_test_time"] += 1
            return None
        return int(when.timestamp() * 1000)

    async def upload_encoded(self, records: list[str]) -> None:
        """POST a batch of scan records, each already encoded as a JSON object (as the
        store keeps them): joined, not decoded and encoded again on the gateway's event
        loop."""
        body = ('{"records":[' + ",".join(records) + "]}").encode()
        try:
            response = await self._http.post(
                "/api/v1/records", content=body, headers={"content-type": "application/json"}
            )
            response.raise_for_status()
            response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UploadFailed(f"{type(exc).__name__}: {exc}") from exc

    async def upload_reports(self, reports: list[str]
                             ) -> tuple[list[standard2.ReportResult] | None, str]:
        try:
            response = await self._http.post(DAILY_REPORTS,
                                             content=standard2.daily_reports(reports),
                                             headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        status = f"HTTP {response.status_code}"
        if response.status_code != 200:
            return None, status
        try:
            return standard2.report_results(response.json()), status
        except (ValueError, standard2.BadAnswer) as exc:
            return None, f"{status}, unreadable answer: {exc}"
