"""Visitors with neither phone nor card, and the paper register, against a real site
(broker, platform simulator and gateway as processes): a visitor registered by hand is
looked up at the platform, stored, forwarded once, counted and traced; a 50-line register
file with 3 bad lines reaches the platform once per good line, with the register's own
times, however often it is uploaded; bad input at each form changes nothing."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from firmware.verdict import PROMPT_TEXT
from simulators.population import first_of_colour, population, travellers
from tests.conftest import poll
from tests.test_console_site import running_site, signed_in

SEED = 7
TZ = ZoneInfo("Asia/Shanghai")
DOORS = ("east-gate", "west-gate")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("register")
    register = work / "kiosks.json"
    register.write_text(json.dumps({"kiosks": {"kiosk-1": ["east-gate"],
                                               "kiosk-2": ["west-gate"]}}))
    with running_site(work, kiosks={"register_file": str(register)}) as running:
        yield running


def wrong_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


async def platform_records(site, kiosk: str) -> list[list]:
    async with httpx.AsyncClient(base_url=site.platform) as http:
        return (await http.get("/sim/records", params={"kiosk": kiosk})).json()


async def platform_record(site, key: str) -> dict:
    async with httpx.AsyncClient(base_url=site.platform) as http:
        return (await http.get(f"/sim/records/{key}")).json()


async def lookups(site) -> int:
    async with httpx.AsyncClient(base_url=site.platform) as http:
        return (await http.get("/sim/stats")).json()["lookups"]


async def test_a_visitor_registered_by_hand_is_checked_forwarded_counted_and_traced(site):
    red, green = first_of_colour(SEED, "red"), first_of_colour(SEED, "green")
    traveller = travellers(SEED)[0]
    before = await lookups(site)
    async with signed_in(site, "duty") as (http, _me):
        assert (await http.get("/api/doors")).json() == sorted(DOORS)
        by_id = await http.post("/api/register/visitor", json={
            "door": "east-gate", "document": "id_number", "number": red.id_number.lower()})
        by_passport = await http.post("/api/register/visitor", json={
            "door": "west-gate", "document": "passport", "number": traveller.passport,
            "nationality": traveller.nationality.lower()})
        by_phone = await http.post("/api/register/visitor", json={
            "door": "east-gate", "document": "phone", "number": "+86 " + green.phone})
        entries = (await http.get("/api/entries")).json()
    done = [r.json() for r in (by_id, by_passport, by_phone)]
    assert [(d["colour"], d["action"], d["source"]) for d in done] == [
        ("red", "refuse", "platform"), (traveller.colour, *{
            "green": ("open",), "yellow": ("hold",), "red": ("refuse",)}[traveller.colour],
            "platform"), ("green", "open", "platform")]
    assert done[0]["text"] == list(PROMPT_TEXT["no_entry"])
    assert await lookups(site) == before + 3, "each looked up at the platform like any scan"

    # Masked like any identifier, on the console and in its answers.
    shown = {e["id"]: e for e in entries}
    assert shown[done[0]["id"]]["method"] == "manual"
    assert shown[done[0]["id"]]["medium"] == "keyed"
    assert shown[done[0]["id"]]["masked"] == red.id_number[:3] + "*" * 11 + red.id_number[-4:]
    assert shown[done[1]["id"]]["masked"].startswith(traveller.nationality + " ****")
    assert shown[done[2]["id"]]["masked"] == green.phone[:3] + "****" + green.phone[-4:]
    text = json.dumps(entries) + json.dumps(done)
    assert red.id_number not in text and traveller.passport not in text
    assert green.phone not in text

    # At the platform once each, with the time of registration.
    rows = await poll(lambda: _at_least(platform_records(site, "console"), 3))
    assert sorted(r[0] for r in rows) == sorted(d["id"] for d in done)
    assert all(r[3] == 1 for r in rows), "each record delivered exactly once"
    record = await platform_record(site, done[2]["id"])
    assert (record["method"], record["credential"], record["ts"]) == (
        "manual", "phone:" + green.phone, done[2]["ts"])

    # Counted in the daily report, found by tracing (the ID number as for an ID card).
    async with signed_in(site, "manager") as (http, _me):
        open_day = (await http.get("/api/report")).json()["schedule"]["open_period"]["day"]
        report = (await http.get("/api/report", params={"day": open_day})).json()
        audit = (await http.get("/api/audit")).json()["rows"]
    site_unit = next(u for u in report["units"] if u["depth"] == 0)  # no register: one unit
    east = next(d for d in site_unit["doors"] if d["door"] == "east-gate")
    assert east["manual"] >= 2 and east["red"] >= 1 and east["green"] >= 1
    registered = [r for r in audit if r["action"] == "register_visitor"]
    assert {r["user"] for r in registered} == {"test-duty"} and len(registered) >= 3
    assert red.id_number not in json.dumps(audit)
    async with signed_in(site, "tracer") as (http, _me):
        now = int(time.time() * 1000)
        found = (await http.post("/api/trace/person", json={
            "kind": "id_card", "value": red.id_number, "from_ms": now - 3_600_000,
            "to_ms": now + 60_000})).json()
        by_passport_trace = (await http.post("/api/trace/person", json={
            "kind": "passport", "value": f"{traveller.nationality} {traveller.passport}",
            "from_ms": now - 3_600_000, "to_ms": now + 60_000})).json()
    assert [v["id"] for v in found["visits"]] == [done[0]["id"]]
    assert [v["id"] for v in by_passport_trace["visits"]] == [done[1]["id"]]


async def _at_least(rows_coro, n: int):
    rows = await rows_coro
    return rows if len(rows) >= n else None


async def test_bad_input_at_each_form_is_refused_and_changes_nothing(site):
    person = population(SEED)[40]
    when = datetime.now(TZ) - timedelta(hours=2)
    async with signed_in(site, "duty") as (http, _me):
        entries_before = len((await http.get("/api/entries?limit=500")).json())
        lookups_before = await lookups(site)
        refused = {
            "check digit": await http.post("/api/register/visitor", json={
                "door": "east-gate", "document": "id_number",
                "number": wrong_check_digit(person.id_number)}),
            "unknown door": await http.post("/api/register/visitor", json={
                "door": "back-door", "document": "id_number", "number": person.id_number}),
            "entry check digit": await http.post("/api/register/entry", json={
                "time": when.strftime("%Y-%m-%dT%H:%M"), "door": "east-gate",
                "document": "id_number", "number": wrong_check_digit(person.id_number),
                "colour": "green"}),
            "entry unknown door": await http.post("/api/register/entry", json={
                "time": when.strftime("%Y-%m-%dT%H:%M"), "door": "back-door",
                "document": "id_number", "number": person.id_number, "colour": "green"}),
            "entry future": await http.post("/api/register/entry", json={
                "time": (datetime.now(TZ) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                "door": "east-gate", "document": "id_number", "number": person.id_number,
                "colour": "green"}),
            "file future": await http.post("/api/register/import", content=(
                "time,door,document,number,nationality,colour\n"
                f"{(datetime.now(TZ) + timedelta(days=1)):%Y-%m-%d %H:%M},east-gate,"
                f"id_number,{person.id_number},,green\n").encode()),
        }
        entries_after = len((await http.get("/api/entries?limit=500")).json())
    reasons = {what: r.json()["detail"]["reason"] for what, r in refused.items()
               if r.status_code == 422}
    assert reasons == {"check digit": "id_check_digit", "unknown door": "unknown_door",
                       "entry check digit": "id_check_digit",
                       "entry unknown door": "unknown_door", "entry future": "time_future"}
    # The file is taken line by line: its one line is reported, nothing is stored.
    assert refused["file future"].json() == {
        "imported": 0, "already": 0, "already_lines": [],
        "bad": [{"line": 2, "reason": "time_future", "message": "the time is in the future"}]}
    assert person.id_number not in json.dumps([r.json() for r in refused.values()])
    assert entries_after == entries_before, "nothing stored"
    assert await lookups(site) == lookups_before, "nothing looked up"


def register_file(start: datetime) -> tuple[str, dict[int, tuple[str, int]], dict[int, str]]:
    """50 entries: 47 good (ID numbers, passports, phones, colours in both languages) and
    3 bad. Returns the CSV, {line: (door, ts ms)} of the good ones, {line: reason} of the
    bad ones."""
    people, visitors = population(SEED)[100:140], travellers(SEED)[10:14]
    lines = ["时间,门,证件类型,号码,国籍,健康码"]
    good: dict[int, tuple[str, int]] = {}
    colours = ("绿码", "green", "黄码", "red", "")
    for i in range(50):
        when = start + timedelta(minutes=3 * i)
        door = DOORS[i % 2]
        if i < 40:
            row = [f"{when:%Y-%m-%d %H:%M}", door, "身份证", people[i].id_number, "",
                   colours[i % 5]]
        elif i < 44:
            t = visitors[i - 40]
            row = [f"{when:%Y/%m/%d %H:%M}", door, "护照", t.passport, t.nationality, "绿"]
        else:
            row = [f"{when:%Y-%m-%dT%H:%M}", door, "手机", people[i - 40].phone, "", "green"]
        lines.append(",".join(row))
        good[i + 2] = (door, int(when.timestamp()) // 60 * 60_000)
    bad = {7: "id_check_digit", 23: "unknown_door", 41: "time_future"}
    for line, reason in bad.items():
        row = lines[line - 1].split(",")
        if reason == "id_check_digit":
            row[3] = wrong_check_digit(row[3])
        elif reason == "unknown_door":
            row[1] = "back-door"
        else:
            row[0] = f"{datetime.now(TZ) + timedelta(days=2):%Y-%m-%d %H:%M}"
        lines[line - 1] = ",".join(row)
        del good[line]
    return "\n".join(lines) + "\n", good, bad


async def test_a_paper_register_file_reaches_the_platform_once_with_its_own_times(site):
    start = (datetime.now(TZ) - timedelta(days=1)).replace(hour=8, minute=0, second=0,
                                                          microsecond=0)
    text, good, bad = register_file(start)
    assert len(good) == 47
    async with signed_in(site, "duty") as (http, _me):
        first = (await http.post("/api/register/import", content=text.encode("utf-8-sig"),
                                 headers={"Content-Type": "text/csv"})).json()
        # The same file again (saved by Excel as GB18030 this time): nothing new.
        again = (await http.post("/api/register/import", content=text.encode("gb18030"),
                                 headers={"Content-Type": "text/csv"})).json()
        # One of its entries keyed in by hand as well: the same entry, not a new one.
        line = min(good)
        fields = text.splitlines()[line - 1].split(",")
        typed = (await http.post("/api/register/entry", json={
            "time": fields[0], "door": fields[1], "document": "id_number",
            "number": fields[3], "colour": "green"})).json()

    assert first["imported"] == 47 and first["already"] == 0
    assert {b["line"]: b["reason"] for b in first["bad"]} == bad
    assert all(b["message"] for b in first["bad"])
    assert again["imported"] == 0 and again["already"] == 47
    assert again["bad"] == first["bad"]
    assert typed == {"imported": 0, "already": 1, "bad": []}

    rows = await poll(lambda: _at_least(platform_records(site, "register"), 47), timeout=20)
    assert len(rows) == 47 and all(r[3] == 1 for r in rows), "each entry once at the platform"
    assert [r[2] for r in rows] == list(range(1, 48)), "a gap-free sequence"
    records = [await platform_record(site, r[0]) for r in rows]
    assert all(r["transcribed"] and r["medium"] == "register" for r in records)
    assert sorted((r["door"], r["ts"]) for r in records) == sorted(good.values()), \
        "each with the time written in the register"
    colours = {r["colour_seen"] for r in records}
    assert colours == {"green", "yellow", "red", "unknown"}

    async with signed_in(site, "manager") as (http, _me):
        report = (await http.get("/api/report", params={"day": f"{start:%Y-%m-%d}"})).json()
        audit = (await http.get("/api/audit")).json()["rows"]
    site_unit = next(u for u in report["units"] if u["depth"] == 0)  # no register: one unit
    assert (site_unit["scans"], site_unit["transcribed"]) == (47, 47)
    assert sum(d["transcribed"] for d in site_unit["doors"]) == 47
    imports = [(d["imported"], d["already"], d["bad"])
               for d in (r["detail"] for r in audit if r["action"] == "import_register")]
    assert (47, 0, 3) in imports and (0, 47, 3) in imports, "both uploads audited"


async def test_the_console_forms_in_a_browser(site, tmp_path):
    """Headless Chromium: the person on duty registers a foreign visitor by passport, is
    told a mistyped ID number's check digit is wrong, and uploads a register file whose
    bad lines come back by number, in Chinese."""
    from playwright.async_api import async_playwright

    from tests.conftest import launch_chromium
    from tests.test_console_browser import open_signed_in, shot

    traveller = travellers(SEED)[20]
    person = population(SEED)[160]
    upload = tmp_path / "登记册.csv"
    when = datetime.now(TZ) - timedelta(hours=3)
    upload.write_text("时间,门,证件类型,号码,国籍,健康码\n"
                      f"{when:%Y-%m-%d %H:%M},west-gate,身份证,{person.id_number},,绿码\n"
                      f"{when:%Y-%m-%d %H:%M},side-door,身份证,{person.id_number},,绿码\n",
                      encoding="utf-8")
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await open_signed_in(browser, site.url, "duty")
            await page.click("#tabs button[data-view=register]")
            await page.wait_for_selector("#visitor-form select[name=door] option[value=west-gate]",
                                         state="attached")
            form = page.locator("#visitor-form")
            await form.locator("select[name=door]").select_option("west-gate")
            await form.locator("select[name=document]").select_option("passport")
            await form.locator("input[name=number]").fill(traveller.passport)
            await form.locator("input[name=nationality]").fill(traveller.nationality)
            await form.locator("button[type=submit]").click()
            await page.wait_for_selector("#visitor-result .dot")
            result = await page.text_content("#visitor-result")
            assert {"green": "绿码", "yellow": "黄码", "red": "红码"}[traveller.colour] in result
            assert traveller.passport not in await page.content()

            await form.locator("select[name=document]").select_option("id_number")
            await form.locator("input[name=number]").fill(wrong_check_digit(person.id_number))
            await form.locator("button[type=submit]").click()
            await page.wait_for_function(
                "() => document.getElementById('visitor-error').textContent !== ''")
            assert "校验位不符" in await page.text_content("#visitor-error")

            await page.set_input_files("#import-form input[name=file]", str(upload))
            await page.click("#import-form button[type=submit]")
            await page.wait_for_selector("#import-bad tr[data-line='3']")
            assert "导入 1 条" in await page.text_content("#import-summary")
            assert "本场所没有这个门" in await page.text_content("#import-bad")
            await shot(page, "register")
        finally:
            await browser.close()


@pytest.mark.slow
async def test_the_gateways_own_numbering_continues_after_a_restart(tmp_path):
    """Registrations and register entries are numbered per their own kiosk name; a
    restarted gateway continues those numbers from its store, never reusing one."""
    register = tmp_path / "kiosks.json"
    register.write_text(json.dumps({"kiosks": {"kiosk-1": ["east-gate"]}}))
    people = population(SEED)[300:304]
    when = datetime.now(TZ) - timedelta(hours=1)

    def entry(person, minutes: int) -> str:
        return (f"{when + timedelta(minutes=minutes):%Y-%m-%d %H:%M},east-gate,id_number,"
                f"{person.id_number},,green\n")

    header = "time,door,document,number,nationality,colour\n"
    for run, (visitor, lines) in enumerate([(people[0], [entry(people[1], 0),
                                                         entry(people[2], 1)]),
                                            (people[3], [entry(people[1], 0),
                                                         entry(people[2], 2)])]):
        with running_site(tmp_path, kiosks={"register_file": str(register)}) as site:
            async with signed_in(site, "duty") as (http, _me):
                done = await http.post("/api/register/visitor", json={
                    "door": "east-gate", "document": "id_number",
                    "number": visitor.id_number})
                assert done.status_code == 200
                imported = (await http.post("/api/register/import",
                                            content=(header + "".join(lines)).encode())).json()
            assert (imported["imported"], imported["already"]) == ((2, 0), (1, 1))[run]
            await poll(lambda site=site, n=run + 1: _at_least(
                platform_records(site, "console"), n), timeout=20)
            await poll(lambda site=site, n=run + 2: _at_least(
                platform_records(site, "register"), n), timeout=20)
            console, paper = (await platform_records(site, "console"),
                              await platform_records(site, "register"))
    assert [r[2] for r in console] == [1, 2], "the console's numbers continue"
    assert [r[2] for r in paper] == [1, 2, 3], "the register's numbers continue"
    assert all(r[3] == 1 for r in console + paper), "each delivered once"
