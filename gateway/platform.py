"""The gateway's client for the city platform (docs/platform-api.md).

A status lookup has a strict deadline: a visitor is waiting at the door. Any failure —
slow, down, unknown person, garbage answer — is the one outcome "could not check", which
the verdict turns into "hold for the person on duty", never into green.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import httpx

log = logging.getLogger(__name__)

COLOURS = ("green", "yellow", "red")


class PlatformClient:
    def __init__(self, base_url: str, deadline_s: float, upload_timeout_s: float = 10.0) -> None:
        self.deadline_s = deadline_s
        self.errors: Counter[str] = Counter()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(upload_timeout_s),
            limits=httpx.Limits(max_keepalive_connections=20, max_connections=50),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def status(self, method: str, credential: str) -> str:
        """green / yellow / red, or 'unknown' when the platform could not tell us in time."""
        try:
            async with asyncio.timeout(self.deadline_s):
                response = await self._http.post(
                    "/api/v1/status", json={"method": method, "credential": credential}
                )
        except TimeoutError:
            self.errors["timeout"] += 1
            return "unknown"
        except httpx.HTTPError as exc:
            self.errors["unreachable"] += 1
            log.warning("platform lookup failed: %s", type(exc).__name__)
            return "unknown"
        if response.status_code == 404:
            self.errors["unknown_person"] += 1
            return "unknown"
        if response.status_code != 200:
            self.errors[f"http_{response.status_code}"] += 1
            return "unknown"
        try:
            colour = response.json()["colour"]
        except (ValueError, KeyError, TypeError):
            colour = None
        if colour not in COLOURS:
            self.errors["bad_answer"] += 1
            return "unknown"
        return colour

    async def upload_encoded(self, records: list[str]) -> dict:
        """POST a batch of scan records, each already encoded as a JSON object (as the
        store keeps them): joined, not decoded and encoded again on the gateway's event
        loop. Raises httpx.HTTPError on any failure."""
        body = ('{"records":[' + ",".join(records) + "]}").encode()
        response = await self._http.post(
            "/api/v1/records", content=body, headers={"content-type": "application/json"}
        )
        response.raise_for_status()
        return response.json()
