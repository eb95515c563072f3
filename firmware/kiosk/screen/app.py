"""The local web app behind the status screen: the page, and its current state as JSON;
and the form on which the person on duty registers a visitor with neither phone nor ID
card (firmware/kiosk/keyed.py), open only while someone is signed on at this door.

Served on loopback only; the panel's browser runs on the same Pi. No personal data is
ever sent back: states, prompt texts and the reason a typed identifier was refused.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from firmware.kiosk.keyed import KeyedEntries, NobodyOnDuty
from firmware.kiosk.screen.state import ScreenState
from firmware.manual_id import ManualIdError

PAGE = Path(__file__).with_name("page.html")
REGISTER_PAGE = Path(__file__).with_name("register.html")


class Visitor(BaseModel):
    document: str = Field(max_length=16)
    number: str = Field(min_length=1, max_length=64)
    nationality: str = Field("", max_length=8)


def create_app(state: ScreenState, keyed: KeyedEntries | None = None) -> FastAPI:
    app = FastAPI(title="PlaceCode status screen", docs_url=None, redoc_url=None,
                  openapi_url=None)
    page = PAGE.read_text(encoding="utf-8")
    if keyed is not None:
        register_page = REGISTER_PAGE.read_text(encoding="utf-8")

        @app.get("/register", response_class=HTMLResponse)
        def form() -> str:
            return register_page

        @app.get("/register/open")
        def is_open() -> JSONResponse:
            return JSONResponse({"open": keyed.open}, headers={"Cache-Control": "no-store"})

        @app.post("/register")
        def register(visitor: Visitor) -> JSONResponse:
            try:
                keyed.submit(visitor.document, visitor.number, visitor.nationality)
            except NobodyOnDuty:
                return JSONResponse({"reason": "nobody_on_duty", "message":
                                     "sign on for duty with your staff card first"}, 403)
            except ManualIdError as exc:
                return JSONResponse({"reason": exc.reason, "message": exc.message}, 422)
            return JSONResponse({"ok": True})

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/state")
    def current() -> JSONResponse:
        return JSONResponse(state.snapshot(), headers={"Cache-Control": "no-store"})

    return app


async def serve(state: ScreenState, host: str = "127.0.0.1", port: int = 8089,
                keyed: KeyedEntries | None = None) -> None:
    """Run the screen app inside the kiosk's event loop until cancelled."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(state, keyed), host=host, port=port,
                                           log_level="warning", access_log=False))
    await server.serve()
