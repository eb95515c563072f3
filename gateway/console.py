"""The site manager's console: latest entries and kiosks online, from the gateway itself.

Everything it shows is already masked in the store; the page's assets are served by the
gateway (no internet on a site network).
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

STATIC = Path(__file__).with_name("static")

router = APIRouter()


def _gateway(request: Request):
    return request.app.state.gateway


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "console.html", media_type="text/html; charset=utf-8")


@router.get("/api/entries")
async def entries(request: Request, limit: int = 50) -> list[dict]:
    return await _gateway(request).store.latest(min(max(limit, 1), 500))


@router.get("/api/kiosks")
async def kiosks(request: Request) -> list[dict]:
    return await _gateway(request).store.kiosks()


@router.get("/api/summary")
async def summary(request: Request) -> dict:
    gw = _gateway(request)
    kiosk_rows = await gw.store.kiosks()
    return {
        "site": gw.config.site,
        "now_ms": int(time.time() * 1000),
        "mqtt_connected": gw.link.connected.is_set(),
        "counts": await gw.store.counts(),
        "kiosks_online": sum(1 for k in kiosk_rows if k["state"] == "online"),
        "kiosks_total": len(kiosk_rows),
        "received": dict(gw.link.received),
        "rejected": dict(gw.link.rejected),
        "platform_errors": dict(gw.platform.errors),
        "forwarder": {
            "backlog": await gw.store.upload_backlog(),
            "uploaded": gw.forwarder.uploaded,
            "last_success": gw.forwarder.last_success,
            "last_error": gw.forwarder.last_error,
        },
    }


@router.get("/healthz")
async def healthz(request: Request) -> dict:
    return {"ok": True, "mqtt_connected": _gateway(request).link.connected.is_set()}
