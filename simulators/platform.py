"""The city platform simulator: health-code status lookups and scan-record uploads.

Implements docs/platform-api.md over real HTTP with a real SQLite file, so the gateway's
platform client and forwarder are tested against the same wire they use on a site.
People and their colours come from the shared seed (simulators/population.py).
Faults on demand (/sim/faults): answer slowly, fail with 503, or drop uploads.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from firmware import startup
from simulators import platform_reports, platform_venues
from simulators.platform_records import RecordStore, UploadProcess
from simulators.population import Person, Traveller, population, travellers


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: str = Field(pattern="^(code|id_card|passport|phone)$")
    credential: str = Field(min_length=1, max_length=2048)
    nationality: str | None = Field(None, pattern="^[A-Z]{3}$")  # with a passport


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_ms: int = Field(0, ge=0, le=60000)
    fail_status: bool = False
    fail_uploads: bool = False
    fail_records: bool = False  # scan-record uploads only (reports are still taken)


def token_of(credential: str) -> str:
    """A code credential is the decoded QR text: a URL with ?t=<token>, or the bare token."""
    if credential.startswith(("http://", "https://")):
        values = parse_qs(urlparse(credential).query).get("t")
        return values[0] if values else ""
    return credential


class Platform:
    def __init__(self, db_path: Path, seed: int) -> None:
        people = population(seed)
        self.by_token = {p.token: p for p in people}
        self.by_id = {p.id_number: p for p in people}
        self.by_phone = {p.phone: p for p in people}
        self.by_passport = {(t.nationality, t.passport): t for t in travellers(seed)}
        self.faults = Faults()
        self.lookups = 0
        self.records = RecordStore(db_path)  # read here; written by the upload process

    def person(self, query: StatusQuery) -> Person | Traveller | None:
        self.lookups += 1
        if query.method == "code":
            return self.by_token.get(token_of(query.credential))
        if query.method == "phone":
            return self.by_phone.get(query.credential)
        if query.method == "passport":
            return self.by_passport.get((query.nationality or "", query.credential.upper()))
        return self.by_id.get(query.credential.upper())

    def stats(self) -> dict:
        return {**self.records.totals(), "lookups": self.lookups}


def create_app(db_path: Path, seed: int, settle_heap: bool = False) -> FastAPI:
    platform = Platform(db_path, seed)
    uploads = UploadProcess(db_path)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(uploads.start)
        if settle_heap:
            startup.settle_heap()
        try:
            yield
        finally:
            uploads.stop()

    app = FastAPI(title="City platform simulator", lifespan=lifespan)
    app.state.platform = platform
    app.include_router(platform_venues.make_router(db_path))
    app.include_router(platform_reports.make_router(db_path,
                                                    lambda: platform.faults.fail_uploads))

    @app.post("/api/v1/status")
    async def status(query: StatusQuery) -> dict:
        if platform.faults.delay_ms:
            await asyncio.sleep(platform.faults.delay_ms / 1000)
        if platform.faults.fail_status:
            raise HTTPException(503, "platform unavailable")
        person = platform.person(query)
        if person is None:
            raise HTTPException(404, "unknown person")
        now = datetime.now(UTC)
        tested = now - timedelta(hours=person.tested_hours_ago)
        return {"colour": person.colour, "as_of": now.isoformat(timespec="seconds"),
                "last_negative_test": tested.isoformat(timespec="seconds")}

    @app.post("/api/v1/records")
    async def records(request: Request) -> dict:
        """Parsed, checked and stored in the upload process (simulators/platform_records)."""
        if platform.faults.fail_uploads or platform.faults.fail_records:
            raise HTTPException(503, "platform unavailable")
        body = await request.body()
        outcome = await uploads.store(body)
        if outcome[0] == "invalid":
            raise RequestValidationError(outcome[1])
        _, new, duplicates = outcome
        return {"accepted": new, "duplicates": duplicates}

    @app.get("/sim/stats")
    def stats() -> dict:
        return platform.stats()

    @app.get("/sim/records")
    def keys(kiosk: str | None = None, order: str = "seq") -> list[list]:
        return platform.records.keys(kiosk, arrival=order == "arrival")

    @app.get("/sim/records/{key}")
    def record(key: str) -> dict:
        found = platform.records.body(key)
        if found is None:
            raise HTTPException(404, "no such record")
        return found

    @app.get("/sim/conflicts")
    def conflicts() -> list[list]:
        return platform.records.conflicts()

    @app.put("/sim/faults")
    def set_faults(faults: Faults) -> Faults:
        platform.faults = faults
        return faults

    @app.get("/health")
    def health() -> dict:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.platform")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", type=Path, default=Path("var/platform.sqlite"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    startup.tune_interpreter()  # as every PlaceCode process: no helper thread holds a lookup 5 ms
    uvicorn.run(
        create_app(args.db, args.seed, settle_heap=True), host=args.host, port=args.port,
        log_level="warning", access_log=False,
    )


if __name__ == "__main__":
    main()
