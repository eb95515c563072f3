"""A mall of 3 shops and 4 doors in a real provisioning register, for the tests of units,
reports, coverage and tracing: the mall has four entrances (一门一码) and each shop inside
it is a unit of its own with its own door (一店一码); the third shop is registered under
the mall's credit code, as the register allows for a venue inside another."""

from __future__ import annotations

from pathlib import Path

from provisioning.registry import Registry, build_venue
from provisioning.validators import credit_check_char

MALL = "41010300000100"
SHOPS = ("41010300000101", "41010300000102", "41010300000103")
MALL_DOORS = ("E1", "W1", "N1", "S1")


def credit(serial: int) -> str:
    first17 = f"91410103{serial:09d}"
    return first17 + credit_check_char(first17)


def door(venue: str, code: str = "01") -> str:
    """A door as scans name it (provisioning.venue_code.door_id)."""
    return f"{venue}/{code}"


def mall_doors() -> list[str]:
    return [door(MALL, d) for d in MALL_DOORS]


def shop_doors() -> list[str]:
    return [door(s) for s in SHOPS]


def venue(code: str, name: str, category: str, parent: str | None = None,
          credit_code: str | None = None, doors: str = "") -> dict:
    return {"code": code, "parent": parent or "", "name": name, "category": category,
            "credit_code": credit_code or "", "address": "郑州市二七区大学路1号",
            "manager_name": "王经理", "manager_phone": "13800138000", "doors": doors}


def register_mall(path: Path) -> Path:
    """Write the mall into the register at `path` (created if new); returns the path."""
    rows = [
        venue(MALL, "二七广场购物中心", "supermarket", credit_code=credit(1),
              doors="E1:东门;W1:西门;N1:北门;S1:南门"),
        venue(SHOPS[0], "一楼药店", "small_shop", MALL, credit(2), "01:店门"),
        venue(SHOPS[1], "二楼餐馆", "restaurant", MALL, credit(3), "01:店门"),
        venue(SHOPS[2], "三楼书店", "small_shop", MALL, None, "01:店门"),
    ]
    with Registry(path) as registry:
        registry.put_many([build_venue(r) for r in rows])
    return path
