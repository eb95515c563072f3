"""The venue tree at the gateway: units, their doors and ancestors from a real provisioning
register (SQLite and CSV), followed when the register changes, and the console's units
view against a real gateway with kiosks scanning at a mall's door and a shop's door."""

from __future__ import annotations

import os

from firmware.kiosk.reading import Reading
from gateway.venues import Units, VenueTree
from provisioning.csv_io import export_csv
from provisioning.registry import Registry, build_venue
from tests.conftest import poll
from tests.mall import (
    MALL,
    SHOPS,
    credit,
    door,
    mall_doors,
    register_mall,
    shop_doors,
    venue,
)
from tests.test_console_site import kiosk_at, running_site, signed_in


def test_a_mall_of_three_shops_and_four_doors(tmp_path):
    tree = Units("site", register_mall(tmp_path / "register.db")).tree()
    mall = tree.units[MALL]
    assert mall.doors == tuple(sorted(mall_doors())) and mall.children == SHOPS
    assert mall.identifier == credit(1) and mall.identifier_kind == "credit_code"
    assert tree.top == (MALL,)
    # every scan counts for its door, its unit and the unit's ancestors
    at_shop = tree.attribute(door(SHOPS[0]))
    assert (at_shop.unit, at_shop.ancestors) == (SHOPS[0], (MALL,))
    assert tree.attribute(door(MALL, "W1")).units == (MALL,)
    assert tree.attribute("elsewhere/01").unit is None
    # a shop registered without a credit code is known by its mall's
    third = tree.units[SHOPS[2]]
    assert (third.identifier, third.identifier_kind) == (credit(1), f"parent:{MALL}")
    assert set(tree.doors_under(MALL)) == set(mall_doors()) | set(shop_doors())
    assert tree.doors_under(SHOPS[1]) == (door(SHOPS[1]),)

    per_door = {door(MALL, "E1"): {"scans": 5}, door(MALL, "S1"): {"scans": 2},
                door(SHOPS[0]): {"scans": 3}, door(SHOPS[2]): {"scans": 1},
                "elsewhere/01": {"scans": 9}}
    rolled = tree.rollup(per_door)
    assert rolled[MALL]["scans"] == 5 + 2 + 3 + 1
    assert [rolled[s]["scans"] for s in SHOPS] == [3, 0, 1]
    assert tree.unplaced(per_door) == ["elsewhere/01"]
    view = tree.view()
    assert [(u["code"], u["depth"]) for u in view] == [(MALL, 0)] + [(s, 1) for s in SHOPS]
    assert view[0]["category_zh"] == "大型商超"


def test_the_register_is_followed_without_a_restart(tmp_path):
    path = register_mall(tmp_path / "register.db")
    units = Units("site", path, reload_s=0)
    assert len(units.tree().units) == 4
    stall = "41010300000104"
    with Registry(path) as registry:
        registry.put(build_venue(venue(stall, "四楼摊位", "stall", SHOPS[1], doors="A1:摊位口")))
    tree = units.tree()
    assert tree.attribute(door(stall, "A1")).units == (stall, SHOPS[1], MALL)
    assert tree.units[stall].depth == 2 and units.loads == 2

    # a register file that cannot be read keeps the tree that was loaded, and says why
    os.rename(path, tmp_path / "moved.db")
    (tmp_path / "register.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    assert units.tree() is tree
    assert units.status()["error"]


def test_a_csv_register_loads_its_good_rows_and_names_the_bad(tmp_path):
    with Registry(tmp_path / "register.db") as registry:
        register_mall(tmp_path / "register.db")
        export_csv(registry, tmp_path / "register.csv")
    text = (tmp_path / "register.csv").read_text(encoding="utf-8-sig")
    broken = text.replace(credit(3), credit(3)[:-1] + "0")  # a wrong check character
    (tmp_path / "register.csv").write_text(broken, encoding="utf-8-sig")
    units = Units("site", tmp_path / "register.csv")
    tree = units.tree()
    assert SHOPS[1] not in tree.units and set(tree.units) == {MALL, SHOPS[0], SHOPS[2]}
    assert any("credit_code" in p for p in units.status()["problems"])


def test_roots_limit_the_site_and_no_register_makes_the_site_one_unit(tmp_path):
    tree = Units("site", register_mall(tmp_path / "register.db"), roots=[SHOPS[0]]).tree()
    assert set(tree.units) == {SHOPS[0]} and tree.attribute(door(MALL, "E1")).unit is None
    single = VenueTree.for_site("demo")
    assert single.attribute("east-gate").units == ("demo",)
    assert single.doors_under("demo") is None  # every door: no filter


async def test_the_console_shows_units_with_their_doors_and_rolled_up_scans(tmp_path):
    register = register_mall(tmp_path / "register.db")
    with running_site(tmp_path / "site", units={"register_file": str(register)}) as site:
        async with kiosk_at(site, "kiosk-1", door(MALL, "E1")) as at_mall, \
                kiosk_at(site, "kiosk-2", door(SHOPS[0])) as at_shop:
            for n in range(2):
                at_mall.readings.present(
                    Reading("code", f"https://hc.henan.example/yk/v1?t=unknown{n:026d}"))
            at_shop.readings.present(
                Reading("code", "https://hc.henan.example/yk/v1?t=unknown" + "9" * 26))
            await at_mall.lights.wait_for(2, timeout=10)
            await at_shop.lights.wait_for(1, timeout=10)
        async with signed_in(site, "duty") as (http, _me):
            view = (await http.get("/api/units")).json()
            units = {u["code"]: u for u in view["units"]}
            assert (units[MALL]["scans_own"], units[MALL]["scans"]) == (2, 3)
            assert (units[SHOPS[0]]["scans_own"], units[SHOPS[0]]["scans"]) == (1, 1)
            assert {d["door"]: d["scans"] for d in units[MALL]["doors"]}[door(MALL, "E1")] == 2
            assert view["register"]["units"] == 4 and not view["register"]["error"]

            # a shop added to the register appears without a restart
            with Registry(register) as registry:
                registry.put(build_venue(venue("41010300000105", "新开奶茶店", "small_shop",
                                               MALL, doors="01:店门")))

            async def shown() -> bool:
                rows = (await http.get("/api/units")).json()["units"]
                return any(u["code"] == "41010300000105" for u in rows)

            await poll(shown, timeout=10)
        async with signed_in(site, "tracer") as (http, _me):
            assert (await http.get("/api/units")).status_code == 200
