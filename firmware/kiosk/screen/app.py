"""The local web app behind the status screen: the page, and its current state as JSON.

Served on loopback only; the panel's browser runs on the same Pi. No personal data
ever reaches it: states and prompt texts only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from firmware.kiosk.screen.state import ScreenState

PAGE = Path(__file__).with_name("page.html")


def create_app(state: ScreenState) -> FastAPI:
    app = FastAPI(title="PlaceCode status screen", docs_url=None, redoc_url=None,
                  openapi_url=None)
    page = PAGE.read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/state")
    def current() -> JSONResponse:
        return JSONResponse(state.snapshot(), headers={"Cache-Control": "no-store"})

    return app


async def serve(state: ScreenState, host: str = "127.0.0.1", port: int = 8089) -> None:
    """Run the screen app inside the kiosk's event loop until cancelled."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(state), host=host, port=port,
                                           log_level="warning", access_log=False))
    await server.serve()
