"""Counts, coverage and the daily report against a real gateway process, real kiosks over
the broker and the platform simulator (which checks every report against the scan records
it received), for a mall of 3 shops and 4 doors from a real provisioning register.

The report's cut-off is set a minute or so ahead of the test's start, so the period closes
while the test watches: the scans before it are in the report the gateway sends by itself,
a scan after it is in the next period."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from firmware.kiosk.reading import Reading
from tests.conftest import poll
from tests.mall import MALL, SHOPS, door, register_mall
from tests.test_console_site import kiosk_at, running_site, signed_in

TZ = ZoneInfo("Asia/Shanghai")


def next_cutoff() -> datetime:
    """A minute boundary at least 25 s from now, on the site's clock."""
    now = datetime.now(TZ)
    cut = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return cut if (cut - now).total_seconds() >= 25 else cut + timedelta(minutes=1)


@pytest.fixture(scope="module")
def cutoff() -> datetime:
    return next_cutoff()


@pytest.fixture(scope="module")
def site(tmp_path_factory, cutoff):
    work = tmp_path_factory.mktemp("report")
    deadline = cutoff + timedelta(minutes=1)  # the period closes a minute before it
    with running_site(work, units={"register_file": str(register_mall(work / "register.db"))},
                      report_deadline=deadline.strftime("%H:%M"), report_lead_minutes=1,
                      report_retry_s=1) as running:
        yield running


def code(n: int) -> Reading:
    return Reading("code", f"https://hc.henan.example/yk/v1?t=unknown{n:026d}")


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_period_closes_and_every_units_report_goes_out_by_itself(site, cutoff):
    day = cutoff.date() + timedelta(days=1) if cutoff.strftime("%H:%M") == "23:59" \
        else cutoff.date()
    async with kiosk_at(site, "kiosk-1", door(MALL, "E1")) as at_mall, \
            kiosk_at(site, "kiosk-2", door(SHOPS[0])) as at_shop:
        at_mall.readings.present(code(1))
        at_mall.readings.present(code(2))
        at_shop.readings.present(code(3))
        await at_mall.lights.wait_for(2, timeout=10)
        await at_shop.lights.wait_for(1, timeout=10)
    async with signed_in(site, "manager") as (http, _me):
        view = (await http.get("/api/report", params={"day": day.isoformat()})).json()
        assert view["period"]["to"] == cutoff.isoformat(timespec="seconds")
        units = {u["unit"]: u for u in view["units"]}
        assert (units[MALL]["scans"], units[MALL]["own_scans"], units[MALL]["state"]) == (
            3, 2, "open")
        early = await http.post("/api/report/send", json={"day": day.isoformat()})
        assert early.status_code == 409 and "still open" in early.text

        async def confirmed() -> dict | None:
            v = (await http.get("/api/report", params={"day": day.isoformat()})).json()
            return v if v["states"] == {"confirmed": 4} else None

        view = await poll(confirmed, timeout=150, interval=1)
        # A scan after the cut-off belongs to the next period.
        async with kiosk_at(site, "kiosk-1", door(MALL, "E1")) as at_mall:
            at_mall.readings.present(code(4))
            await at_mall.lights.wait_for(1, timeout=10)
        units = {u["unit"]: u for u in view["units"]}
        assert (units[MALL]["reported_scans"], units[SHOPS[0]]["reported_scans"]) == (3, 1)
        at_platform = httpx.get(site.platform + "/sim/daily-reports").json()
        mall = next(r for r in at_platform
                    if r["unit_code"] == MALL and r["period"]["label"] == day.isoformat())
        assert (mall["total"], mall["status"], mall["late"]) == (3, "confirmed", False)
        nxt = (await http.get("/api/report",
                              params={"day": (day + timedelta(days=1)).isoformat()})).json()
        assert {u["unit"]: u for u in nxt["units"]}[MALL]["scans"] == 1

        # Sent again by hand: the platform replaces each unit's report, one per unit.
        again = (await http.post("/api/report/send", json={"day": day.isoformat()})).json()
        assert again["ok"] and again["units"] == 4
        at_platform = httpx.get(site.platform + "/sim/daily-reports").json()
        ours = [r for r in at_platform if r["period"]["label"] == day.isoformat()]
        assert len(ours) == 4 and {r["deliveries"] for r in ours} == {2}

        view = (await http.get("/api/report", params={"day": day.isoformat()})).json()
        results = [(a["trigger"], a["ok"]) for a in view["attempts"]]
        assert results[0] == ("by test-manager", True) and ("automatic", True) in results
        text = (await http.get("/api/report.csv", params={"day": day.isoformat()})).text
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0][:5] == ["day", "from", "to", "unit", "unit_name"]
        total = next(r for r in rows if r[3] == MALL and r[5] == "TOTAL")
        assert total[7] == "3"
        audit = (await http.get("/api/audit")).json()["rows"]
        sends = [r["detail"]["ok"] for r in audit if r["action"] == "send_report"]
        assert sends[:2] == [True, False]  # the early one was refused


async def test_coverage_is_unknown_until_the_door_is_counted(site):
    gate = door(MALL, "W1")
    async with kiosk_at(site, "kiosk-3", gate) as k:
        for n in range(3):
            k.readings.present(code(10 + n))
        await k.lights.wait_for(3, timeout=10)
    async with signed_in(site, "manager") as (http, _me):
        counts = (await http.get("/api/counts")).json()
        row = next(d for d in counts["doors"] if d["door"] == gate)
        assert row["checked"] >= 3 and row["people"] is None and row["coverage"] is None
        busy = next(h for h in row["hours"] if h["checked"])
        assert busy["coverage"] is None

        fed = await http.post("/api/door-counts", json={
            "door": gate, "hour_ms": busy["hour_ms"] + 1234, "people": row["checked"] * 2})
        assert fed.status_code == 200
        bad = await http.post("/api/door-counts", json={"door": gate, "hour_ms": 0,
                                                        "people": -1})
        assert bad.status_code == 422
        counts = (await http.get("/api/counts")).json()
        row = next(d for d in counts["doors"] if d["door"] == gate)
        assert row["people"] == row["checked"] * 2 and row["coverage"] == 0.5
        days = (await http.get("/api/counts/days", params={"days": 3})).json()
        assert days[-1]["doors"][gate] == row["checked"]
    async with signed_in(site, "duty") as (http, _me):
        refused = await http.post(
            "/api/door-counts", json={"door": "x", "hour_ms": 0, "people": 1}
        )
        assert refused.status_code == 403
