"""Kiosk time from the gateway: correct timestamps on a site without internet.

A Pi has no battery-backed clock: after a power cut it boots with the time it last saved
(fake-hwclock), possibly hours behind, and an NTP step later makes the wall clock jump.
So the kiosk does not stamp scans with the wall clock. It asks the gateway for its time
(`GET /api/time`, a few exchanges, the one with the shortest round trip wins, the answer
taken to be from the middle of it: error ≤ RTT/2), and from then on counts forward with
the monotonic clock, which never jumps. Re-syncs never move time backwards: `now_ms()` is
non-decreasing, and event ids (firmware/protocol.py EventIds) stay increasing on top.

`offset_ms` = gateway time − this Pi's wall clock: what the console shows per kiosk, so a
site manager sees a Pi whose clock is wrong. Jumps of the wall clock are detected (the gap
between wall and monotonic clock changes) and counted, for the status message and the log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

JUMP_MS = 1000  # a wall-clock change beyond this, not explained by elapsed time, is a jump


def gateway_client_options(url: str, username: str | None, password: str | None,
                           ca_file: str | None) -> dict:
    """httpx options for calling the gateway (time, releases, update status): the kiosk's
    broker login as HTTP Basic credentials, which the gateway checks against the broker's
    password file, and the site CA for its HTTPS certificate. The login goes only over
    HTTPS or to loopback, never in clear across the site network."""
    options: dict = {}
    parts = httpx.URL(url)
    try:
        loopback = parts.host == "localhost" or ipaddress.ip_address(parts.host).is_loopback
    except ValueError:
        loopback = False
    if username and password and (parts.scheme == "https" or loopback):
        options["auth"] = (username, password)
    if ca_file:
        options["verify"] = ssl.create_default_context(cafile=ca_file)
    return options


@dataclass(frozen=True, slots=True)
class Sample:
    gateway_ms: int  # the gateway's clock, taken to be read at the middle of the exchange
    mono_s: float  # the kiosk's monotonic clock at that middle
    wall_ms: int  # the kiosk's wall clock at that middle
    rtt_ms: float

    @property
    def offset_ms(self) -> int:
        return self.gateway_ms - self.wall_ms


class GatewayClock:
    def __init__(
        self,
        gateway_url: str,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        http: httpx.AsyncClient | None = None,
        client_options: dict | None = None,
    ) -> None:
        self.url = gateway_url.rstrip("/") + "/api/time"
        self.client_options = client_options or {}
        self.wall = wall
        self.mono = mono
        self._http = http
        self.anchor: Sample | None = None
        self.jumps = 0
        self._last_ms = 0
        self._wall_minus_mono = self._gap()

    # --- the clock the kiosk stamps events with ----------------------------------------

    def now_ms(self) -> int:
        self._check_jump()
        if self.anchor is None:
            now = int(self.wall() * 1000)  # not synced yet: the best we have
        else:
            now = self.anchor.gateway_ms + int((self.mono() - self.anchor.mono_s) * 1000)
        self._last_ms = max(self._last_ms, now)  # never backwards, whatever happened
        return self._last_ms

    @property
    def offset_ms(self) -> int | None:
        """Gateway time minus this Pi's wall clock now (None before the first sync)."""
        if self.anchor is None:
            return None
        return self.now_ms() - int(self.wall() * 1000)

    @property
    def synced(self) -> bool:
        return self.anchor is not None

    # --- syncing ----------------------------------------------------------------------

    async def sample(self, client: httpx.AsyncClient) -> Sample:
        t0, w0 = self.mono(), self.wall()
        response = await client.get(self.url)
        t1, w1 = self.mono(), self.wall()
        response.raise_for_status()
        gateway_ms = int(response.json()["now_ms"])
        return Sample(gateway_ms, (t0 + t1) / 2, int((w0 + w1) / 2 * 1000), (t1 - t0) * 1000)

    async def sync(self, exchanges: int = 5, timeout_s: float = 2.0) -> Sample:
        """A few exchanges; the shortest round trip wins. Raises httpx.HTTPError if none."""
        client = self._http or httpx.AsyncClient(timeout=timeout_s, **self.client_options)
        try:
            samples = []
            for _ in range(exchanges):
                try:
                    samples.append(await self.sample(client))
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    last_error = exc
            if not samples:
                raise httpx.TransportError(f"no time from {self.url}: {last_error}")
        finally:
            if self._http is None:
                await client.aclose()
        best = min(samples, key=lambda s: s.rtt_ms)
        before = self.now_ms() if self.anchor else None
        self.anchor = best
        if before is not None and abs(self.now_ms() - before) > JUMP_MS:
            log.warning("kiosk time corrected by %d ms at re-sync", self.now_ms() - before)
        log.info("time from gateway: offset %d ms, rtt %.1f ms", best.offset_ms, best.rtt_ms)
        return best

    async def run(self, interval_s: float = 600.0, retry_s: float = 10.0) -> None:
        """Keep syncing: every `interval_s`, every `retry_s` while the gateway is away."""
        while True:
            try:
                await self.sync()
                await asyncio.sleep(interval_s)
            except httpx.HTTPError as exc:
                log.warning("gateway time unavailable: %s", type(exc).__name__)
                await asyncio.sleep(retry_s)

    # --- wall-clock jumps -------------------------------------------------------------

    def _gap(self) -> float:
        return self.wall() - self.mono()

    def _check_jump(self) -> None:
        gap = self._gap()
        jumped_ms = (gap - self._wall_minus_mono) * 1000
        if abs(jumped_ms) > JUMP_MS:
            self.jumps += 1
            log.warning("system clock jumped by %+d ms; kiosk time unaffected", int(jumped_ms))
        self._wall_minus_mono = gap

    def report(self) -> dict[str, int | bool | None]:
        """Fields for the kiosk's status message: the console shows each kiosk's clock."""
        return {"clock_offset_ms": self.offset_ms, "clock_synced": self.synced,
                "clock_jumps": self.jumps}
