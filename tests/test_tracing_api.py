"""Tracing through the console API of a real gateway: by code token or ID number, CSV
export, refusals of bad questions, and the audit trail naming nobody in clear."""

from __future__ import annotations

import csv
import io
import time

import pytest

from firmware.kiosk.reading import Reading
from simulators.population import first_of_colour
from tests.test_console_site import kiosk_at, running_site, signed_in

SEED = 7


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("trace")) as running:
        yield running


async def test_trace_by_token_and_by_door_with_csv_and_audit(site):
    green, yellow, red = (first_of_colour(SEED, c) for c in ("green", "yellow", "red"))
    async with kiosk_at(site, "kiosk-a", "shop-a") as a, kiosk_at(site, "kiosk-b", "shop-b") as b:
        a.readings.present(Reading("code", green.code_url, medium="screen"))
        await a.lights.wait_for(1, timeout=10)
        a.readings.present(Reading("id_card", yellow.id_number, medium="card", name=yellow.name))
        b.readings.present(Reading("code", red.code_url, medium="paper"))
        await a.lights.wait_for(2, timeout=10)
        await b.lights.wait_for(1, timeout=10)
    now = int(time.time() * 1000)
    span = {"from_ms": now - 3_600_000, "to_ms": now + 60_000}

    async with signed_in(site, "tracer") as (http, _me):
        # The bare token finds the scan the kiosk stored under the whole code URL.
        found = (await http.post("/api/trace/person", json={
            "kind": "code", "value": green.token, **span})).json()
        assert [v["door"] for v in found["visits"]] == ["shop-a"]
        assert [c["masked"] for c in found["contacts"]] == [
            yellow.id_number[:3] + "*" * 11 + yellow.id_number[-4:]]
        assert found["people"] == 1 and found["window_minutes"] == 30

        by_id = (await http.post("/api/trace/person", json={
            "kind": "id_card", "value": yellow.id_number.lower(), **span, "format": "csv"}))
        rows = list(csv.DictReader(io.StringIO(by_id.text.lstrip("\ufeff"))))
        assert [(r["role"], r["door"]) for r in rows] == [
            ("visit", "shop-a"), ("contact", "shop-a")
        ]
        assert yellow.id_number not in by_id.text and yellow.name not in by_id.text

        door = (await http.post("/api/trace/door", json={"door": "shop-b", **span})).json()
        assert [s["method"] for s in door["scans"]] == ["code"] and door["people"] == 1

        short = await http.post("/api/trace/person", json={"kind": "id_card", "value": "4101",
                                                           **span})
        assert short.status_code == 422
        too_long = await http.post("/api/trace/door", json={
            "door": "shop-a", "from_ms": 0, "to_ms": 100 * 86_400_000})
        assert too_long.status_code == 422

    async with signed_in(site, "manager") as (http, _me):
        audit = (await http.get("/api/audit")).json()
    traces = [r for r in audit["rows"] if r["action"].startswith("trace_")]
    assert [r["action"] for r in traces] == ["trace_door", "trace_person", "trace_person"]
    assert {r["user"] for r in traces} == {"test-tracer"}
    assert traces[1]["detail"]["format"] == "csv"
    text = str(audit)
    assert green.token not in text and yellow.id_number not in text
    assert audit["chain_broken_at"] is None
