"""The venue register: field rules with clear errors, doors, nesting, and the CSV import a
district uses to load its existing register (100,000 venues, a few bad rows)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from provisioning import csv_io, sample_register, validators, venue_code
from provisioning.registry import InvalidVenue, Registry, RegistryError, build_venue

MALL = {
    "code": "41010300000001", "name": "二七广场购物中心", "category": "supermarket",
    "credit_code": "914403001922038216", "address": "郑州市二七区大学路1号",
    "manager_name": "王经理", "manager_phone": "138 0013 8000", "doors": "E1:东门;W1:西门",
}  # fmt: skip


@pytest.fixture
def registry(tmp_path: Path):
    reg = Registry(tmp_path / "register.db")
    yield reg
    reg.close()


def errors_of(**changes: str) -> str:
    with pytest.raises(InvalidVenue) as caught:
        build_venue({**MALL, **changes})
    return str(caught.value)


@pytest.mark.parametrize(
    "code", ["9144030071526726XG", "91330100799655058B", "914403001922038216"]
)
def test_real_credit_codes_pass_gb32100(code: str) -> None:
    assert validators.credit_code(code.lower()) == code


def test_credit_code_errors_say_what_is_wrong() -> None:
    assert "GB 32100 gives '6'" in errors_of(credit_code="914403001922038217")
    assert "18 characters" in errors_of(credit_code="91440300192203821")
    assert "'I' is not allowed" in errors_of(credit_code="91440300192203821I")


def test_every_single_character_typo_in_a_credit_code_is_caught() -> None:
    code = "914403001922038216"
    for i in range(18):
        for ch in validators.CREDIT_ALPHABET:
            if ch != code[i] and (i < 2 or i >= 8 or ch.isdigit()):
                with pytest.raises(validators.FieldError):
                    validators.credit_code(code[:i] + ch + code[i + 1 :])


def test_phones_are_normalised_and_bad_ones_masked_in_the_error() -> None:
    assert (
        build_venue({**MALL, "manager_phone": "+86 138-0013-8000"}).manager_phone == "13800138000"
    )
    assert (
        build_venue({**MALL, "manager_phone": "(0371) 6688 1234"}).manager_phone == "0371-66881234"
    )
    message = errors_of(manager_phone="1380013800")
    assert "manager_phone" in message and "1380013800" not in message and "138*****00" in message


def test_buses_and_taxis_are_registered_by_plate() -> None:
    bus = build_venue({**MALL, "category": "bus", "credit_code": "", "plate": "豫A·D1234 5"})
    assert bus.plate == "豫AD12345"
    assert "registered by its vehicle plate" in errors_of(category="taxi", credit_code="")
    assert "not a Chinese vehicle plate" in errors_of(category="taxi", plate="ABC123")
    assert "only buses, taxis" in errors_of(plate="豫A12345")


def test_categories_by_key_or_chinese_name() -> None:
    assert build_venue({**MALL, "category": "农贸市场"}).category == "farmers_market"
    assert "unknown category 'spaceship'" in errors_of(category="spaceship")


def test_duplicate_doors_and_all_errors_of_a_row_are_reported_together() -> None:
    message = errors_of(doors="E1:东门;E1:西门;W1:东门", manager_name="", credit_code="")
    assert "duplicate door code E1" in message and "duplicate door name 东门" in message
    assert "manager_name: is required" in message and "credit_code: required" in message


def test_venue_without_doors_gets_one_main_entrance() -> None:
    assert [d.code for d in build_venue({**MALL, "doors": ""}).doors] == ["01"]


def test_nested_venues_shop_inside_mall(registry: Registry) -> None:
    registry.put(build_venue(MALL))
    shop = build_venue(
        {
            **MALL,
            "code": "41010300000002",
            "parent": MALL["code"],
            "credit_code": "",
            "name": "一楼奶茶店",
            "category": "small_shop",
            "zone": "1F-012",
            "doors": "01:店门",
        }
    )
    registry.put(shop)
    assert registry.children(MALL["code"]) == ["41010300000002"]
    orphan = build_venue({**MALL, "code": "41010300000003", "parent": "41010399999999"})
    with pytest.raises(RegistryError, match="parent venue 41010399999999 is not registered"):
        registry.put(orphan)
    loop = build_venue({**MALL, "parent": "41010300000002"})
    with pytest.raises(RegistryError, match="loop"):
        registry.put(loop)
    assert registry.get(MALL["code"]).parent is None


def test_updating_a_venue_keeps_its_doors_and_refuses_a_clashing_door_name(
    registry: Registry,
) -> None:
    registry.put(build_venue(MALL))
    registry.put(build_venue({**MALL, "doors": "N1:北门"}))
    assert [d.code for d in registry.doors(MALL["code"])] == ["E1", "N1", "W1"]
    with pytest.raises(RegistryError, match="door name 东门"):
        registry.put(build_venue({**MALL, "doors": "S1:东门"}))


def test_import_100k_register_loads_good_rows_and_reports_each_bad_one(
    tmp_path: Path, registry: Registry
) -> None:
    fixes: dict[int, list[str]] = {}
    text, planted = sample_register.csv_text(100_000, fixes=fixes)
    path = tmp_path / "register.csv"
    path.write_text(text, encoding="utf-8-sig")
    report = csv_io.import_csv(registry, path)
    assert (report.rows, report.loaded, len(report.bad)) == (
        100_000,
        100_000 - len(planted),
        len(planted),
    )
    assert [b.line for b in report.bad] == sorted(planted)
    by_line = {b.line: b.reason for b in report.bad}
    assert "check character" in by_line[9]
    assert "manager_phone" in by_line[125]
    assert "unknown category 'spaceship'" in by_line[4569]
    assert "duplicate door code 01" in by_line[45680]
    assert "parent venue 41010399999999 is not registered" in by_line[77779]
    assert registry.count() == 100_000 - len(planted)
    assert registry.get(sample_register.venue_code(8)) is None  # the bad row on line 9
    assert len(registry.doors(sample_register.venue_code(1))) == 5
    # The clerk fixes the refused rows and imports them (and a loaded one again): no duplicates.
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(csv_io.COLUMNS)
        writer.writerows(fixes[line] for line in sorted(fixes))
        writer.writerow(text.splitlines()[2].split(","))  # an already loaded row, again
    again = csv_io.import_csv(registry, path)
    assert (again.loaded, again.bad, registry.count()) == (len(planted) + 1, [], 100_000)


def test_import_drops_children_of_a_bad_parent_with_the_reason(registry: Registry) -> None:
    header = ",".join(c for c in csv_io.COLUMNS if c != "issued_code")  # an optional column
    rows = [
        # bad check character in the credit code
        "41010300000001,,商场,supermarket,914403001922038217,,地址,,王,13800138000,,,",
        "41010300000002,41010300000001,商铺,small_shop,,,地址,1F,李,13800138001,,,",
        "41010300000003,,小店,small_shop,914403001922038216,,地址,,张,13800138002,,,",
    ]
    report = csv_io.import_text(registry, "\n".join([header, *rows]) + "\n")
    assert report.loaded == 1
    assert [(b.line, b.code) for b in report.bad] == [(2, "41010300000001"), (3, "41010300000002")]
    assert "not registered" in report.bad[1].reason


def test_import_is_all_or_nothing_when_the_write_fails(tmp_path: Path, registry: Registry) -> None:
    text, _ = sample_register.csv_text(2000, bad=False)
    # Another program holds a write lock on the register: the import must fail cleanly.
    other = sqlite3.connect(registry.path, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    registry.db.execute("PRAGMA busy_timeout=100")
    with pytest.raises(sqlite3.OperationalError):
        csv_io.import_text(registry, text)
    other.execute("ROLLBACK")
    other.close()
    assert (
        registry.count() == 0
        and registry.db.execute("SELECT count(*) FROM doors").fetchone()[0] == 0
    )


def test_file_level_problems_are_refused_whole(registry: Registry) -> None:
    with pytest.raises(csv_io.CsvFileError, match="unknown column 'colour'"):
        csv_io.import_text(registry, "code,name,colour\n")
    with pytest.raises(csv_io.CsvFileError, match="missing column 'manager_phone'"):
        csv_io.import_text(registry, "code,name,category,address,manager_name\n")


def test_chinese_headers_gb18030_and_ragged_rows(tmp_path: Path, registry: Registry) -> None:
    text = (
        "场所编码,场所名称,场所类别,统一社会信用代码,详细地址,负责人,负责人电话,出入口\n"
        '41010300000001,二七商场,大型商超,914403001922038216,"郑州市二七区\n大学路1号",王经理,13800138000,E1:东门\n'
        "41010300000002,缺列的行\n"
    )
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gb18030"))
    report = csv_io.import_csv(registry, path)
    assert report.loaded == 1
    assert [(b.line, b.reason) for b in report.bad] == [(4, "has 2 fields, the header has 8")]
    assert registry.get("41010300000001").address == "郑州市二七区 大学路1号"


def test_export_then_import_round_trips(tmp_path: Path, registry: Registry) -> None:
    text, _ = sample_register.csv_text(500, bad=False)
    csv_io.import_text(registry, text)
    out = tmp_path / "export.csv"
    assert csv_io.export_csv(registry, out) == 500
    copy = Registry(tmp_path / "copy.db")
    assert csv_io.import_csv(copy, out).loaded == 500
    assert list(copy.all()) == list(registry.all())
    copy.close()


def test_door_code_content_round_trips_and_catches_typos() -> None:
    url = venue_code.door_url("41010300000001", "E1")
    assert url == "HTTPS://PLACECODE.EXAMPLE/V/41010300000001/E1/" + url[-1]
    code = venue_code.parse(url.lower(), hosts=("placecode.example",))
    assert (code.venue, code.door, code.door_id) == ("41010300000001", "E1", "41010300000001/E1")
    assert venue_code.parse(code.short) == venue_code.DoorCode("41010300000001", "E1")
    for bad, reason in [
        (url[:-1] + ("0" if url[-1] != "0" else "1"), "bad_check"),
        (url.replace("00000001", "00000010"), "bad_check"),
        ("HTTPS://EVIL.EXAMPLE/V/41010300000001/E1/" + url[-1], "foreign_host"),
        ("hello", "not_venue_code"),
    ]:
        with pytest.raises(venue_code.VenueCodeError) as caught:
            venue_code.parse(bad, hosts=("PLACECODE.EXAMPLE",))
        assert caught.value.reason == reason
