"""Existing codes are honoured (issue 17 item 5, seed 002 "补全信息后仍可使用，无需更换"): a
register with codes the health-code operator already issued is imported, each door's
poster holds exactly the issued payload (read back with the kiosk's own decoder), rows
that lack required fields load as incomplete with what they lack, and completing them
never changes a code."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from provisioning import csv_io, poster, upload
from provisioning.registry import Registry
from tests.test_provisioning_poster import decode

HEADER = ["场所编码", "上级场所编码", "场所名称", "场所类别", "统一社会信用代码", "详细地址",
          "负责人", "负责人电话", "出入口", "已申领场所码"]
# Payloads as an operator's codes hold them: not our URL form, mixed case, a query string.
SHOP_CODE = "https://hnhm.example.gov.cn/csm/v2?c=Xk3pQ9aLr2Zt7&t=1"
MALL_EAST = "https://hnhm.example.gov.cn/csm/v2?c=Mall0East4Fh2&t=1"
MALL_WEST = "HNCSM:410103:0000002:W1:9QX"


def register_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


MALL = ["41010300000001", "", "二七广场购物中心", "大型商超", "914403001922038216",
        "郑州市二七区德化街1号", "王经理", "13800138000", "E1:东门;W1:西门;N1:北门",
        f"E1 {MALL_EAST}\nW1 {MALL_WEST}"]
# A shop with an issued code and nothing but its name and category: loads incomplete.
SHOP = ["41010300000002", "41010300000001", "老蔡记蒸饺", "餐馆", "", "", "", "", "",
        SHOP_CODE]
# A pharmacy with no issued code, missing its credit code and its manager's phone.
PHARMACY = ["41010300000003", "", "德化街大药房", "药店", "", "郑州市二七区德化街9号",
            "赵店长", "", "", ""]
WRONG = ["41010300000004", "", "坏行", "餐馆", "914403001922038216", "地址", "李", "12345",
         "", ""]


@pytest.fixture
def registry(tmp_path: Path):
    with Registry(tmp_path / "register.sqlite") as reg:
        yield reg


def poster_payload(registry: Registry, code: str, door: str, out: Path) -> str:
    venue = registry.get(code)
    assert venue is not None
    files = poster.make_poster(venue, next(d for d in venue.doors if d.code == door), out)
    texts = decode(Image.open(files.png))
    assert texts == [files.content]
    return texts[0]


def test_issued_codes_are_printed_unchanged_and_incomplete_rows_load(registry, tmp_path):
    report = csv_io.import_text(registry, register_csv([MALL, SHOP, PHARMACY, WRONG]))
    assert (report.rows, report.loaded) == (4, 3)
    # lines where each record starts (the mall's issued codes span two lines)
    assert [(b.line, b.code) for b in report.bad] == [(6, "41010300000004")]
    assert "manager_phone" in report.bad[0].reason  # present but wrong: still refused
    assert [(r.line, r.code, r.missing) for r in report.incomplete] == [
        (4, "41010300000002", ("address", "manager_name", "manager_phone")),
        (5, "41010300000003", ("manager_phone", "credit_code")),
    ]
    assert registry.incomplete() == {r.code: r.missing for r in report.incomplete}
    assert "incomplete (loaded): missing manager_phone, credit_code" in \
        report.incomplete[1].reason

    # The kiosk's decoder reads each poster back as the operator's payload, byte for byte.
    assert poster_payload(registry, "41010300000002", "01", tmp_path) == SHOP_CODE
    assert poster_payload(registry, "41010300000001", "E1", tmp_path) == MALL_EAST
    assert poster_payload(registry, "41010300000001", "W1", tmp_path) == MALL_WEST
    # a door without an issued code gets the district's own door URL
    ours = poster_payload(registry, "41010300000001", "N1", tmp_path)
    assert ours == "HTTPS://PLACECODE.EXAMPLE/V/41010300000001/N1/" + ours[-1]


def test_completing_a_venue_never_changes_its_code(registry, tmp_path):
    csv_io.import_text(registry, register_csv([MALL, SHOP, PHARMACY]))
    before = {code: poster_payload(registry, code, "01", tmp_path / "before")
              for code in ("41010300000002", "41010300000003")}
    # the shop fills in its fields and leaves the issued-code cell empty
    shop = SHOP[:5] + ["郑州市二七区德化街1号3F-12", "蔡老板", "0371-66881234", "", ""]
    pharmacy = PHARMACY[:4] + ["91410103MA44FDNH20"] + PHARMACY[5:7] + ["13912345678", "", ""]
    report = csv_io.import_text(registry, register_csv([shop, pharmacy]))
    assert report.bad == [] and report.incomplete == []
    assert registry.incomplete() == {}
    venue = registry.get("41010300000002")
    assert venue is not None and venue.manager_phone == "0371-66881234"
    after = {code: poster_payload(registry, code, "01", tmp_path / "after")
             for code in ("41010300000002", "41010300000003")}
    assert after == before
    assert after["41010300000002"] == SHOP_CODE


def test_a_row_missing_fields_never_erases_what_the_register_holds(registry):
    csv_io.import_text(registry, register_csv([MALL]))
    thinner = MALL[:6] + ["", "", "", ""]  # manager and phone left empty this time
    report = csv_io.import_text(registry, register_csv([thinner]))
    assert report.bad == [] and report.incomplete == []
    venue = registry.get("41010300000001")
    assert venue is not None
    assert (venue.manager_name, venue.manager_phone) == ("王经理", "13800138000")
    assert {d.code: d.issued for d in venue.doors} == {"E1": MALL_EAST, "W1": MALL_WEST,
                                                        "N1": None}


def test_an_issued_code_is_kept_not_replaced(registry):
    csv_io.import_text(registry, register_csv([MALL, SHOP]))
    other = SHOP[:9] + ["https://elsewhere.example/another-code"]
    report = csv_io.import_text(registry, register_csv([other]))
    assert [b.reason for b in report.bad] == [
        "door 01 already has an issued code; a code once issued is kept, not replaced"]
    venue = registry.get("41010300000002")
    assert venue is not None and venue.doors[0].issued == SHOP_CODE


@pytest.mark.parametrize(("cell", "says"), [
    ("just-one-payload", "the venue has 3 doors"),
    ("X9 https://a.example/1", "'X9' is not one of the venue's doors"),
    ("E1 https://a.example/1\nE1 https://a.example/2", "door E1 is given twice"),
    ("E1 two words", "the issued code is one word"),
])
def test_issued_codes_that_cannot_be_placed_refuse_the_row(registry, cell, says):
    report = csv_io.import_text(registry, register_csv([MALL[:9] + [cell]]))
    assert report.loaded == 0
    assert says in report.bad[0].reason


def test_the_register_round_trips_issued_codes_and_uploads_only_complete_venues(
        registry, tmp_path):
    csv_io.import_text(registry, register_csv([MALL, SHOP, PHARMACY]))
    csv_io.export_csv(registry, tmp_path / "out.csv")
    with Registry(tmp_path / "again.sqlite") as again:
        report = csv_io.import_csv(again, tmp_path / "out.csv")
        assert report.bad == [] and report.loaded == 3
        assert list(again.all()) == list(registry.all())
    mall = registry.get("41010300000001")
    assert mall is not None
    record = upload.record(mall)
    assert [(d["code"], d["qr"], d["issued"]) for d in record["doors"]][:2] == [
        ("E1", MALL_EAST, True), ("N1", record["doors"][1]["qr"], False)]


def test_a_register_of_the_previous_version_keeps_its_venues_and_doors(tmp_path):
    """Version 1 files (before incomplete venues and issued codes) open, migrate and keep
    every venue and door; the previous release can still open the migrated file."""
    import sqlite3

    from firmware import schema
    from provisioning import registry as registry_module
    from tests.schema_v1 import REGISTRY

    path = tmp_path / "register.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    schema.migrate(old, path, schema.Component("registry", REGISTRY))
    old.execute("INSERT INTO venues (code, name, category, credit_code, address, manager_name,"
                " manager_phone, updated_at) VALUES ('41010300000001', '商场', 'supermarket',"
                " '914403001922038216', '地址', '王', '13800138000', 1)")
    old.execute("INSERT INTO doors (venue, code, name) VALUES ('41010300000001', 'E1', '东门')")
    old.close()
    with Registry(path) as reg:
        venue = reg.get("41010300000001")
        assert venue is not None and not venue.incomplete
        assert [(d.code, d.issued) for d in venue.doors] == [("E1", None)]
        assert registry_module.COMPONENT.version == 2
    again = sqlite3.connect(path, isolation_level=None)
    schema.migrate(again, path, schema.Component("registry", REGISTRY))  # a rollback opens it
    again.close()


async def test_the_console_shows_incomplete_units_with_what_they_lack(tmp_path):
    """In headless Chromium: the units view names each incomplete unit's missing fields,
    flags a sentinel place and shows its entry policy."""
    from tests.test_console_browser import open_signed_in, shot
    from tests.test_console_site import running_site, signed_in

    with Registry(tmp_path / "register.sqlite") as reg:
        csv_io.import_text(reg, register_csv([MALL, SHOP, PHARMACY]))
    with running_site(tmp_path / "site",
                      units={"register_file": str(tmp_path / "register.sqlite")}) as site:
        async with signed_in(site, "duty") as (http, _me):
            units = {u["code"]: u for u in (await http.get("/api/units")).json()["units"]}
        assert units["41010300000002"]["missing"] == ["address", "manager_name",
                                                      "manager_phone"]
        assert units["41010300000003"]["missing"] == ["manager_phone", "credit_code"]
        assert units["41010300000001"]["missing"] == []
        assert units["41010300000003"]["sentinel"]
        assert units["41010300000003"]["policy"] == {"yellow": "refuse", "test_within_h": 0,
                                                     "unchecked": "hold"}

        from playwright.async_api import async_playwright

        from tests.conftest import launch_chromium

        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            try:
                page = await open_signed_in(browser, site.url, "duty")
                await page.click("#tabs button[data-view=units]")
                row = "#units tr[data-unit='41010300000003']"
                await page.wait_for_selector(row + " [data-missing]")
                text = await page.text_content(row) or ""
                assert "信息不全，待补：负责人电话、统一社会信用代码" in text
                assert "哨点" in text and "药品监管部门" in text and "拒绝黄码" in text
                assert await page.query_selector(
                    "#units tr[data-unit='41010300000001'] [data-missing]") is None
                await shot(page, "units-incomplete")
            finally:
                await browser.close()
