"""The shop door unit's real firmware under real MicroPython (WebAssembly, in Node), its
TCP carried by the harness to the real Mosquitto and the real gateway, its UART to the
scanner module simulator on a pty (simulators/shop_unit.py, simulators/shop_scanner.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulators.population import first_of_colour
from simulators.shop_scanner import ScannerModule
from simulators.shop_unit import ShopUnit, unit_config
from tests.conftest import SITE, get_json, poll

SEED = 7
UNIT = "shop-1"
pytestmark = pytest.mark.skipif(
    not (Path(__file__).resolve().parent.parent / "firmware/shop/lib/umqtt/simple.py").exists(),
    reason="umqtt.simple not fetched: run scripts/setup",
)


@pytest.fixture
def scanner(tmp_path: Path):
    with ScannerModule(tmp_path / "gm65") as module:
        yield module


@pytest.fixture
def start_unit(tmp_path: Path, broker, scanner):
    started: list[ShopUnit] = []

    def start(name: str = UNIT, **options: object) -> ShopUnit:
        cfg = unit_config(SITE, name, "door-1", broker.port, **options)
        unit = ShopUnit(cfg, scanner.path, tmp_path / "logs" / f"{name}.log")
        started.append(unit)
        return unit

    yield start
    for unit in started:
        unit.close()


# (light, first on-time of the pattern in s, buzzer tones) per verdict action
LOOK_OPEN = ("green", 3.0, [2700])  # steady for the whole show
LOOK_HOLD = ("amber", 0.5, [2000, 2000])
LOOK_REFUSE = ("red", 0.15, [800, 800, 800])


def looks(shows):
    return [(s.light, s.first_on_s, s.tones) for s in shows]


def assert_look(show, expected):
    light, on_s, tones = expected
    assert show.light == light
    assert show.tones == tones
    assert show.first_on_s == pytest.approx(on_s, abs=0.12)


async def records(platform: str, unit: str, n: int):
    async def got():
        rows = await get_json(platform + f"/sim/records?kiosk={unit}")
        return rows if len(rows) >= n else None

    return await poll(got, timeout=20)


async def test_green_yellow_red_each_give_their_pattern_and_reach_the_platform_once(
        start_unit, scanner, gateway, platform):
    unit = start_unit()
    unit.wait_online()
    assert scanner.mode == "continuous" and not scanner.beep, "the driver configured the module"
    for n, colour in enumerate(("green", "yellow", "red"), 1):
        scanner.present(first_of_colour(SEED, colour).code_url)
        unit.wait_for_shows(n)
    shows = unit.wait_for_shows(3)
    for show, look in zip(shows, (LOOK_OPEN, LOOK_HOLD, LOOK_REFUSE), strict=True):
        assert_look(show, look)

    rows = await records(platform, UNIT, 3)
    assert [r[2] for r in rows] == [1, 2, 3], "sequence numbers 1..3 in order"
    assert all(r[3] == 1 for r in rows), "each record delivered to the platform exactly once"
    report = unit.stop()
    assert report["shown"] == {"pass": 1, "wait_staff": 1, "no_entry": 1}
    assert report["outbox"] == 0, "every scan acknowledged"


async def test_broker_down_scans_wait_in_flash_and_arrive_once_in_order(
        start_unit, scanner, broker, gateway, platform):
    unit = start_unit()
    unit.wait_online()
    broker.stop()
    codes = [first_of_colour(SEED, "green").code_url] * 3
    for n, code in enumerate(codes, 1):
        scanner.present(code)
        unit.wait_for_shows(n)
    shows = unit.wait_for_shows(3)
    for show in shows:  # no broker: manual check, never green
        assert_look(show, LOOK_HOLD)
    time.sleep(2)  # down for a while
    unit.online.clear()
    broker.start()
    unit.wait_online(timeout=40)

    rows = await records(platform, UNIT, 3)
    assert [r[2] for r in rows] == [1, 2, 3]
    assert all(r[3] == 1 for r in rows), "each delivered once"
    entries = await poll(lambda: get_json(
        platform + f"/sim/records?kiosk={UNIT}&order=arrival"))
    assert [r[2] for r in entries] == [1, 2, 3], "and in order"
    report = unit.stop()
    assert report["outbox"] == 0 and report["shown"] == {"manual_check": 3}


async def test_garbage_long_lines_and_bad_utf8_are_counted_and_the_next_code_works(
        start_unit, scanner, gateway, platform):
    unit = start_unit(max_code_len=300)
    unit.wait_online()
    scanner.send_raw(b"\x01\x1b[2Jnoise\r")  # control characters
    scanner.send_raw(b"A" * 1000 + b"\r")  # over-long
    scanner.send_raw(b"\xff\xfe\xc3\x28 bad utf-8\r")  # not UTF-8
    scanner.send_raw(b"half a line with no end")  # partial: the tail never comes
    time.sleep(0.5)
    scanner.send_raw(b"\x02\x00\x00\x01\x00\x00\x00")  # an answer frame with a bad CRC
    time.sleep(0.5)
    scanner.present(first_of_colour(SEED, "green").code_url)
    (show,) = unit.wait_for_shows(1)
    assert_look(show, LOOK_OPEN)
    await records(platform, UNIT, 1)
    report = unit.stop()
    assert report["rejected"] == {"garbage": 1, "too_long": 1, "not_utf8": 1, "partial": 1,
                                  "bad_answer": 1}
    assert report["codes"] == 1
