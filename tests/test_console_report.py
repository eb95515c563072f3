"""Counts, coverage and the daily report against a real gateway; the platform is a small
real HTTP server standing in for the city's (the simulator has no report endpoint)."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import date, datetime
from typing import Self
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from firmware.kiosk.reading import Reading
from gateway.broker import free_port
from gateway.report import Reporter
from tests.conftest import poll
from tests.test_console_site import kiosk_at, running_site, signed_in

TZ = ZoneInfo("Asia/Shanghai")


class StandInPlatform:
    """Accepts scan records, answers no status (404: unknown person), keeps reports."""

    def __init__(self) -> None:
        self.reports: list[dict] = []
        self.fail = False
        app = FastAPI()

        @app.post("/api/v1/daily-reports")
        async def daily(request: Request) -> Response:
            if self.fail:
                return Response(status_code=503)
            self.reports.append(await request.json())
            return Response('{"ok": true}', media_type="application/json")

        @app.post("/api/v1/records")
        async def records(request: Request) -> dict:
            return {"accepted": len((await request.json())["records"]), "duplicates": 0}

        @app.post("/api/v1/status")
        async def status() -> Response:
            return Response(status_code=404)

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def platform_standin():
    with StandInPlatform() as standin:
        yield standin


@pytest.fixture(scope="module")
def site(tmp_path_factory, platform_standin):
    # A deadline of 00:01 with a minute's lead: the report is due at any time of day.
    with running_site(tmp_path_factory.mktemp("report"), f"http://127.0.0.1:{platform_standin.port}",
                      report_deadline="00:01", report_lead_minutes=1) as running:
        yield running


def today() -> str:
    return datetime.now(TZ).date().isoformat()


async def test_the_report_goes_out_by_itself_and_on_demand_with_its_result(site, platform_standin):
    auto = await poll(lambda: [r for r in platform_standin.reports if r["date"] == today()],
                      timeout=15)
    assert auto[0]["site"] == "test-site"

    async with kiosk_at(site, "kiosk-1", "east-gate") as k:
        for n in range(3):
            k.readings.present(Reading("code", f"https://hc.henan.example/yk/v1?t=unknown{n:026d}"))
        await k.lights.wait_for(3, timeout=10)
    async with signed_in(site, "manager") as (http, _me):
        sent = (await http.post("/api/report/send", json={})).json()
        assert sent["ok"] and sent["status"] == "HTTP 200"
        assert platform_standin.reports[-1]["doors"] == [{
            "door": "east-gate", "scans": 3, "green": 0, "yellow": 0, "red": 0, "unknown": 3,
            "offline": 0, "manual": 0, "transcribed": 0}]
        assert platform_standin.reports[-1]["total"] == 3

        platform_standin.fail = True
        failed = (await http.post("/api/report/send", json={})).json()
        platform_standin.fail = False
        assert not failed["ok"] and failed["status"] == "HTTP 503"

        view = (await http.get("/api/report")).json()
        results = [(a["trigger"], a["ok"], a["status"]) for a in view["attempts"]]
        assert results[:2] == [("by test-manager", False, "HTTP 503"),
                               ("by test-manager", True, "HTTP 200")]
        assert ("automatic", True, "HTTP 200") in results
        assert view["schedule"]["deadline"] == "00:01"

        text = (await http.get("/api/report.csv")).text.lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:4] == ["date", "site", "door", "scans"]
        assert rows[1][:4] == [today(), "test-site", "east-gate", "3"]
        assert rows[-1][2:4] == ["TOTAL", "3"]
        audit = (await http.get("/api/audit")).json()["rows"]
        sends = [r["detail"]["ok"] for r in audit if r["action"] == "send_report"]
        assert sends[:2] == [False, True]


async def test_coverage_is_unknown_until_the_door_is_counted(site):
    async with signed_in(site, "manager") as (http, _me):
        counts = (await http.get("/api/counts")).json()
        door = next(d for d in counts["doors"] if d["door"] == "east-gate")
        assert door["checked"] >= 3 and door["people"] is None and door["coverage"] is None
        busy = next(h for h in door["hours"] if h["checked"])
        assert busy["coverage"] is None

        fed = await http.post("/api/door-counts", json={
            "door": "east-gate", "hour_ms": busy["hour_ms"] + 1234, "people": door["checked"] * 2})
        assert fed.status_code == 200
        bad = await http.post("/api/door-counts", json={"door": "east-gate", "hour_ms": 0,
                                                        "people": -1})
        assert bad.status_code == 422
        counts = (await http.get("/api/counts")).json()
        door = next(d for d in counts["doors"] if d["door"] == "east-gate")
        assert door["people"] == door["checked"] * 2 and door["coverage"] == 0.5
        days = (await http.get("/api/counts/days", params={"days": 3})).json()
        assert days[-1]["doors"]["east-gate"] == door["checked"]
    async with signed_in(site, "duty") as (http, _me):
        refused = await http.post(
            "/api/door-counts", json={"door": "x", "hour_ms": 0, "people": 1}
        )
        assert refused.status_code == 403


def test_the_report_is_due_from_lead_minutes_before_the_deadline():
    reporter = Reporter.__new__(Reporter)
    reporter.tz, reporter.deadline_minute, reporter.lead_minutes = TZ, 16 * 60, 30

    def at(hh, mm):
        return int(datetime(2026, 11, 24, hh, mm, tzinfo=TZ).timestamp() * 1000)

    assert not reporter.due(at(15, 29))
    assert reporter.due(at(15, 30)) and reporter.due(at(16, 5))
    assert date.fromisoformat(reporter.status(at(9, 0))["today"]) == date(2026, 11, 24)
