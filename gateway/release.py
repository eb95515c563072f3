"""What the gateway serves its kiosks over HTTP besides MQTT: releases and the time.

A site has no internet, so the gateway is the kiosks' update server and time source.
Release bundles (built by `python -m firmware.kiosk.update build`) are dropped into
`<gateway data dir>/releases/` (the folder of `db_path`); kiosks fetch them with
`python -m firmware.kiosk.update apply`. `GET /api/time` gives the gateway's clock for
firmware/kiosk/timesync.py. `GET /api/update-status/<kiosk>` is the updater's health
check: that one kiosk's presence and software version, nothing personal. Every route here
answers only a kiosk (its broker login as HTTP Basic credentials, and then only about
itself) or a loopback caller (gateway/web_security.py), never an anonymous one. Only
bundle files by exact name are served: no listing of other files, no path components.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from gateway import web_security
from gateway.web_security import KioskCaller

router = APIRouter(dependencies=[Depends(web_security.kiosk)])

BUNDLE_RE = re.compile(r"^placecode-([0-9A-Za-z][0-9A-Za-z.+_-]{0,63})\.tar\.gz(\.sha256|\.sig)?$")


def releases_dir(request: Request) -> Path:
    return Path(request.app.state.gateway.config.db_path).parent / "releases"


@router.get("/api/time")
async def gateway_time() -> dict:
    return {"now_ms": time.time_ns() // 1_000_000}


@router.get("/api/releases")
async def releases(request: Request) -> dict:
    folder = releases_dir(request)
    bundles = sorted(
        (p for p in folder.glob("placecode-*.tar.gz") if p.with_name(p.name + ".sha256").exists()),
        key=lambda p: p.stat().st_mtime,
    ) if folder.is_dir() else []
    names = [m.group(1) for m in map(BUNDLE_RE.match, (p.name for p in bundles)) if m]
    return {"latest": names[-1] if names else None, "releases": names}


@router.get("/api/releases/{filename}")
async def release_file(filename: str, request: Request) -> FileResponse:
    if not BUNDLE_RE.match(filename):
        raise HTTPException(404, "no such release file")
    path = releases_dir(request) / filename
    if not path.is_file():
        raise HTTPException(404, "no such release file")
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/api/update-status/{kiosk}")
async def update_status(kiosk: str, request: Request,
                        caller: Annotated[KioskCaller, Depends(web_security.kiosk)]) -> dict:
    if caller.kiosk is not None and caller.kiosk != kiosk:
        raise HTTPException(403, "a kiosk may ask only about itself")
    for row in await request.app.state.gateway.reads.kiosks():
        if row["kiosk"] == kiosk:
            return {"kiosk": kiosk, "state": row["state"], "sw": row["sw"],
                    "last_seen_ms": row["last_seen_ms"]}
    raise HTTPException(404, "no such kiosk")
