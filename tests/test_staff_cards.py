"""Staff sign on and off by tapping their own ID card at a kiosk (real broker, platform
simulator and gateway processes; the staff list kept with `python -m gateway.staff`).
A staff card is no visitor: nothing is stored as a scan and nothing reaches the platform."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from firmware.kiosk.reading import Reading
from simulators.population import first_of_colour
from tests.conftest import poll
from tests.test_console_site import kiosk_at, running_site, signed_in

STAFF_ID = "11010519491231002X"  # a valid GB 11643 number (check character X)


def staff_cli(site, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    config = str(site.work / "gateway.toml")
    return subprocess.run(
        [sys.executable, "-m", "gateway.staff", *args, "--config", config], input=stdin,
        capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("staff"), duty={"doors": ["east-gate"]}) as s:
        yield s


def test_the_staff_list_refuses_bad_numbers_and_unknown_users(site) -> None:
    wrong_check = STAFF_ID[:-1] + "1"
    bad = staff_cli(site, "add", "test-duty", stdin=wrong_check + "\n")
    assert bad.returncode == 2 and "check character" in bad.stderr
    assert wrong_check not in bad.stderr + bad.stdout, "the number is never echoed"
    nobody = staff_cli(site, "add", "no-such-user", stdin=STAFF_ID + "\n")
    assert nobody.returncode == 2 and "no console user" in nobody.stderr
    tracer = staff_cli(site, "add", "test-tracer", stdin=STAFF_ID + "\n")
    assert tracer.returncode == 2 and "only duty and manager" in tracer.stderr
    listed = staff_cli(site, "list")
    assert listed.returncode == 0 and listed.stdout == "", "nothing was added"


async def test_a_staff_card_signs_on_and_off_and_is_never_a_visit(site) -> None:
    added = staff_cli(site, "add", "test-duty", stdin=STAFF_ID + "\n")
    assert added.returncode == 0, added.stderr
    assert STAFF_ID not in added.stdout and "110***********002X" in added.stdout
    visitor, red = first_of_colour(7, "green"), first_of_colour(7, "red")
    async with kiosk_at(site, "kiosk-1", "east-gate") as k:
        await poll(lambda: k.kiosk.staff.cards.cards, timeout=15)  # the retained list came
        k.readings.present(Reading("id_card", STAFF_ID, medium="card", name="王工"))
        await poll(lambda: "duty_on" in k.lights.prompts, timeout=10)
        async with signed_in(site, "duty") as (http, _me):
            page = (await http.get("/api/duty")).json()
        east = next(d for d in page["doors"] if d["door"] == "east-gate")
        assert [(r["user"], r["on_via"]) for r in east["on_duty"]] == [
            ("test-duty", "card:kiosk-1")]

        # A red code is held; the person on duty checks by hand and taps their card again:
        # the gate opens once, and the red stays red.
        k.readings.present(Reading("code", red.code_url, medium="screen"))
        await k.lights.wait_for(1, timeout=10)
        async with signed_in(site, "duty") as (http, _me):
            (held,) = await poll(lambda: _entry_alerts(http), timeout=10)
        assert held["assignee"] == "test-duty"
        k.readings.present(Reading("id_card", STAFF_ID, medium="card", name="王工"))
        await poll(lambda: k.lights.gate_openings, timeout=10)
        assert k.lights.gate_openings == [3000] and "duty_off" not in k.lights.prompts

        k.readings.present(Reading("code", visitor.code_url, medium="screen"))
        await k.lights.wait_for(2, timeout=10)  # a visitor is a scan, as ever
        k.readings.present(Reading("id_card", STAFF_ID, medium="card", name="王工"))
        await poll(lambda: "duty_off" in k.lights.prompts, timeout=10)
        assert len(k.lights.shown) == 2, "the staff taps showed no verdict"
        assert k.lights.gate_openings == [3000], "no open alert left: the tap signed off"

    async with signed_in(site, "manager") as (http, _me):
        entries = (await http.get("/api/entries")).json()
        page = (await http.get("/api/duty")).json()
        audit = (await http.get("/api/audit")).json()["rows"]
    assert [(e["method"], e["colour"]) for e in entries] == [("code", "green"), ("code", "red")]
    opened = next(r for r in audit if r["action"] == "open_gate")
    assert (opened["user"], opened["detail"]["via"], opened["detail"]["reason"]) == (
        "test-duty", "card:kiosk-1", "manual_check_passed")
    assert opened["detail"]["alert"] == held["n"]
    assert page["staff"] == [{"user": "test-duty", "masked": "110***********002X",
                              "added_ms": page["staff"][0]["added_ms"]}]
    assert [r for d in page["doors"] for r in d["on_duty"]] == []
    vias = [(r["action"], r["detail"]["via"]) for r in audit if r["action"].startswith("duty_")]
    assert ("duty_on", "card:kiosk-1") in vias and ("duty_off", "card:kiosk-1") in vias
    assert STAFF_ID not in str(audit) + str(page)
    async with httpx.AsyncClient(base_url=site.platform, timeout=5) as http:
        uploaded = await poll(lambda: _uploaded(http), timeout=15)
    assert STAFF_ID not in str(uploaded), "the staff card never reached the platform"
    for log in (site.work / "logs").iterdir():
        assert STAFF_ID not in log.read_text(errors="replace"), log.name
    removed = staff_cli(site, "remove", "test-duty")
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert staff_cli(site, "list").stdout == ""


async def _entry_alerts(http: httpx.AsyncClient) -> list[dict]:
    return [a for a in (await http.get("/api/alerts")).json() if a["kind"] == "entry"]


async def _uploaded(http: httpx.AsyncClient) -> list:
    response = await http.get("/sim/records")
    return response.json() if response.status_code == 200 and response.json() else []
