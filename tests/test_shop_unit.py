"""The shop door unit's real firmware under real MicroPython (WebAssembly, in Node), its
TCP carried by the harness to the real Mosquitto and the real gateway, its UART to the
scanner module simulator on a pty (simulators/shop_unit.py, simulators/shop_scanner.py)."""

from __future__ import annotations

import asyncio
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

    def start(name: str = UNIT, flash: Path | None = None, **options: object) -> ShopUnit:
        cfg = unit_config(SITE, name, "door-1", broker.port, **options)
        unit = ShopUnit(cfg, scanner.path, tmp_path / "logs" / f"{name}.log", flash=flash)
        started.append(unit)
        return unit

    yield start
    for unit in started:
        unit.close()


# (light, pattern, buzzer tones) per verdict action (firmware/shop/indicator.py)
LOOK_OPEN = ("green", "steady", [2700])
LOOK_HOLD = ("amber", "slow_blink", [2000, 2000])
LOOK_REFUSE = ("red", "blink", [800, 800, 800])


def pattern(on_s: float | None) -> str:
    """The pattern from how long the LED first stayed on: 0.15 s blink, 0.5 s slow blink,
    3 s steady (the bands are wide: a loaded CI machine stretches the timing)."""
    if on_s is None or on_s > 1.5:
        return "steady"
    return "slow_blink" if on_s > 0.3 else "blink"


def assert_look(show, expected):
    assert (show.light, pattern(show.first_on_s), show.tones) == expected, show


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
    kiosks = await get_json(gateway + "/api/kiosks")
    row = next(k for k in kiosks if k["kiosk"] == UNIT)
    assert row["health"]["scanner"] == "ok" and row["health"]["outbox"] == "ok", row
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
    await asyncio.sleep(2)  # down for a while
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
    await asyncio.sleep(0.5)
    scanner.send_raw(b"\x02\x00\x00\x01\x00\x00\x00")  # an answer frame with a bad CRC
    await asyncio.sleep(0.5)
    scanner.present(first_of_colour(SEED, "green").code_url)
    (show,) = unit.wait_for_shows(1)
    assert_look(show, LOOK_OPEN)
    await records(platform, UNIT, 1)
    report = unit.stop()
    assert report["rejected"] == {"garbage": 1, "too_long": 1, "not_utf8": 1, "partial": 1,
                                  "bad_answer": 1}
    assert report["codes"] == 1


@pytest.fixture
def enrolled_site(tmp_path: Path, platform):
    """Two shops enrolled as kind "shop", the real broker with the generated password and
    ACL files, the real gateway signed in with its own broker user."""
    from gateway.broker import Broker, free_port
    from provisioning.broker_files import BrokerControl
    from provisioning.enrol import Enrolment, SiteSetup
    from provisioning.registry import Registry, build_venue
    from simulators import processes

    registry = Registry(tmp_path / "register.db")
    for code, name in (("41010300000101", "老王面馆"), ("41010300000102", "小李水果")):
        registry.put(build_venue({
            "code": code, "name": name, "category": "supermarket",
            "credit_code": "914403001922038216", "address": "郑州市二七区大学路1号",
            "manager_name": "王经理", "manager_phone": "13800138000", "doors": "01:主入口",
        }))  # fmt: skip
    setup = SiteSetup(SITE, tmp_path / "site", tls=False)
    enrolment = Enrolment(registry, setup)
    section = enrolment.init_site(["127.0.0.1"])
    gateway_secret = Path(section).read_text().split('password = "')[1].split('"')[0]
    shop_a = enrolment.enrol("41010300000101", "01", kind="shop")
    shop_b = enrolment.enrol("41010300000102", "01", kind="shop")
    broker = Broker(tmp_path / "auth-broker", port=free_port(),
                    auth_lines=enrolment.auth_lines()).start()
    assert broker.process is not None
    enrolment.broker = BrokerControl(pid=broker.process.pid)
    cfg = processes.gateway_config(tmp_path, SITE, broker.port, platform)
    cfg["broker"].update(username="gateway", password=gateway_secret)
    gateway, _ = processes.start_gateway(tmp_path, cfg)
    yield {"a": shop_a, "b": shop_b, "broker": broker, "setup": setup}
    gateway.stop()
    broker.stop()
    registry.close()


def test_a_unit_enrolled_for_shop_a_cannot_act_as_shop_b(enrolled_site, tmp_path, scanner,
                                                         platform):
    import json

    from provisioning.enrol import SiteSetup

    a, b, broker = enrolled_site["a"], enrolled_site["b"], enrolled_site["broker"]
    assert a.kiosk.startswith("s41010300000101-01-") and b.kiosk.startswith("s41010300000102-")
    acl = enrolled_site["setup"].acl.read_text()
    assert f"topic write placecode/{SITE}/{a.kiosk}/scan" in acl
    assert f"{a.kiosk}/door" not in acl and "trust" not in acl.split(f"user {a.kiosk}")[1]
    shop_json = json.loads((a.bundle_dir / "shop.json").read_text())
    assert isinstance(enrolled_site["setup"], SiteSetup) and shop_json["unit"] == a.kiosk

    # A's credentials, B's name: the broker lets it in as A, then drops everything it
    # publishes on B's topics (MQTT 3.1.1 has no way to say so: the PUBACK comes anyway).
    # No verdict, no ack: its visitor gets the manual check, the scan stays on its flash,
    # and nothing reaches the gateway or the platform as B.
    spoof = unit_config(SITE, b.kiosk, shop_json["door"], broker.port,
                        username=a.kiosk, password=a.secret)
    unit = ShopUnit(spoof, scanner.path, tmp_path / "logs" / "spoof.log")
    try:
        time.sleep(2)
        scanner.present(first_of_colour(SEED, "green").code_url)
        (show,) = unit.wait_for_shows(1)
        assert_look(show, LOOK_HOLD)
        report = unit.stop()
    finally:
        unit.close()
    assert report["shown"] == {"manual_check": 1}
    assert report["outbox"] == 1, "never acknowledged: the scan stays on the unit's flash"

    # The same unit with its own identity gets its verdict through the same broker.
    own = unit_config(SITE, a.kiosk, shop_json["door"], broker.port,
                      username=a.kiosk, password=a.secret, data_dir="/flash/own")
    unit = ShopUnit(own, scanner.path, tmp_path / "logs" / "own.log")
    try:
        unit.wait_online()
        scanner.present(first_of_colour(SEED, "green").code_url)
        (show,) = unit.wait_for_shows(1)
        assert_look(show, LOOK_OPEN)
        assert len(_records_now(platform, a.kiosk, 1)) == 1
        assert unit.stop()["outbox"] == 0
    finally:
        unit.close()
    assert _records_now(platform, b.kiosk, 0) == []


def _records_now(platform: str, unit: str, n: int, timeout: float = 20.0) -> list:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        rows = httpx.get(platform + f"/sim/records?kiosk={unit}", timeout=5).json()
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


async def test_power_cut_in_a_record_write_loses_no_shown_scan_and_duplicates_none(
        tmp_path, start_unit, scanner, broker, gateway, platform):
    """End to end, one cut in the middle of the 4th record (firmware/tests/test_shop_outbox.py
    cuts at every byte): scans 1-3 were shown to their visitors and stay; the torn 4th
    was never shown (the light comes after the write) and never reaches anyone; the next
    visitor's scan takes number 4; everything arrives once."""
    from firmware.shop import outbox

    flash = tmp_path / "flash"
    unit = start_unit(flash=flash)
    unit.wait_online()
    broker.stop()
    code = first_of_colour(SEED, "green").code_url
    for n in range(1, 5):
        scanner.present(code)
        unit.wait_for_shows(n)
    assert unit.stop()["outbox"] == 4
    log = next((flash / "outbox").glob("log.*"))
    data = log.read_bytes()
    ids, at = [], 0
    while at < len(data):
        size = 3 + (data[at + 1] << 8 | data[at + 2]) + 4
        payload = data[at + 3:at + size - 4]
        ids.append(payload[payload.find(b'"id": "') + 7:][:36].decode())
        last_start, at = at, at + size
    assert len(ids) == 4 and outbox.frame(payload) == data[last_start:]
    log.write_bytes(data[:last_start + (len(data) - last_start) // 2])  # the power cut

    broker.start()
    unit = start_unit(flash=flash)
    unit.wait_online(timeout=30)
    await records(platform, UNIT, 3)  # the backlog is through: the gateway is back too
    scanner.present(code)  # the next visitor
    (show,) = unit.wait_for_shows(1)
    assert_look(show, LOOK_OPEN)
    rows = await records(platform, UNIT, 4)
    await asyncio.sleep(1)  # anything sent twice would arrive by now
    rows = await get_json(platform + f"/sim/records?kiosk={UNIT}")
    assert [r[2] for r in rows] == [1, 2, 3, 4]
    assert all(r[3] == 1 for r in rows), "each delivered once"
    assert [r[0] for r in rows][:3] == ids[:3], "the three shown scans, as stored"
    assert ids[3] not in [r[0] for r in rows], "the torn scan went nowhere"
    assert unit.stop()["outbox"] == 0


async def test_trigger_mode_reads_only_when_triggered_and_a_held_phone_is_one_scan(
        start_unit, scanner, gateway, platform):
    unit = start_unit(scanner_mode="trigger", scanner_light="always")
    unit.wait_online()
    assert scanner.mode == "trigger" and scanner.light == 2
    code = first_of_colour(SEED, "green").code_url
    scanner.present(code)  # waits in the module until the unit triggers a read
    (show,) = unit.wait_for_shows(1)
    assert_look(show, LOOK_OPEN)
    triggers = [c for c in scanner.commands if c[1] == 0x0002]
    assert triggers and all(c == (0x08, 0x0002, b"\x01") for c in triggers)

    unit.stop()
    unit = start_unit(name="shop-2")  # continuous mode: a phone held up is read repeatedly
    unit.wait_online()
    for _ in range(4):
        scanner.present(code)
        await asyncio.sleep(0.1)
    (show,) = unit.wait_for_shows(1)
    assert_look(show, LOOK_OPEN)
    await records(platform, "shop-2", 1)
    report = unit.stop()
    assert report["repeats"] == 3 and report["shown"] == {"pass": 1}
    assert len(await get_json(platform + "/sim/records?kiosk=shop-2")) == 1


async def test_a_unit_whose_flash_was_wiped_continues_the_gateways_numbering(
        tmp_path, start_unit, scanner, gateway, platform):
    code = first_of_colour(SEED, "green").code_url
    unit = start_unit(flash=tmp_path / "flash-before")
    unit.wait_online()
    for n in (1, 2):
        scanner.present(code)
        unit.wait_for_shows(n)
    await records(platform, UNIT, 2)
    unit.stop()
    unit = start_unit(flash=tmp_path / "flash-new")  # a replaced or wiped unit
    unit.wait_online()
    await asyncio.sleep(1)  # the gateway's ack with high_seq answers the online status
    scanner.present(code)
    unit.wait_for_shows(1)
    rows = await records(platform, UNIT, 3)
    assert [r[2] for r in rows] == [1, 2, 3], "numbering continues at the gateway's high_seq"
    assert unit.stop()["last_seq"] == 3
