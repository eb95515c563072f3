"""Coverage (应扫尽扫, gateway/coverage.py) on the mall of 3 shops and 4 doors
(tests/mall.py): scans ÷ people counted roll up from doors to shops to the mall on the
console; an alert when coverage stays low for the configured time (once per episode),
and when people pass a door whose kiosk is offline."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

from firmware import schema
from gateway.coverage import CoverageWatch, Thresholds
from gateway.store import COMPONENT
from gateway.venues import Units
from tests.mall import MALL, SHOPS, door, register_mall

MIN = 60_000
RULES = Thresholds(below=0.9, window_ms=15 * MIN, for_ms=30 * MIN, min_people=10)


class Recorded:
    """The console's raise_alert, as a list of what was raised (keyed like the console)."""

    def __init__(self) -> None:
        self.raised: dict[str, dict] = {}

    async def __call__(self, key: str, kind: str, **fields: object) -> None:
        self.raised.setdefault(key, {"kind": kind, **fields})


def store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    schema.migrate(db, path, COMPONENT)  # the store as the gateway makes it
    return db


def scans(db: sqlite3.Connection, where: str, n: int, at: int, kiosk: str = "k") -> None:
    for i in range(n):
        ts = at + i
        db.execute("INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, subject,"
                   " masked) VALUES (?, ?, ?, ?, ?, ?, 'code', 's', 'm')",
                   (f"{where}-{ts}-{i}", kiosk, where, ts, ts, ts))


def passes(db: sqlite3.Connection, where: str, n: int, at: int, kiosk: str = "k") -> None:
    for i in range(n):
        db.execute("INSERT INTO door_passes (id, door, direction, ts) VALUES (?, ?, 'in', ?)",
                   (f"{kiosk}-1a2b-{at + i}", where, at + i))


async def test_low_coverage_raises_once_per_episode_for_the_door_and_its_units(tmp_path):
    units = Units("site", register_mall(tmp_path / "register.db"))
    db = store(tmp_path / "gateway.sqlite")
    alerts = Recorded()
    t0 = 1_795_500_000_000
    async with aiosqlite.connect(tmp_path / "gateway.sqlite") as events:
        async def nobody() -> list[dict]:
            return []

        watch = CoverageWatch(events, units, RULES, nobody, alerts)

        async def check_with(at: int, scanned: int, counted: int) -> None:
            """`counted` people came in through the east door in the 10 minutes before
            `at`, `scanned` of them scanned; one person at the first shop, scanned."""
            scans(db, door(MALL, "E1"), scanned, at - 10 * MIN)
            passes(db, door(MALL, "E1"), counted, at - 10 * MIN)
            scans(db, door(SHOPS[0]), 1, at - 5 * MIN)
            passes(db, door(SHOPS[0]), 1, at - 5 * MIN)
            await watch.check_coverage(at)

        await check_with(t0, 10, 20)  # 11 of 21: low from now on
        assert alerts.raised == {}
        await check_with(t0 + 20 * MIN, 10, 20)  # low for 20 minutes: not yet
        assert alerts.raised == {}
        await check_with(t0 + 31 * MIN, 12, 20)  # low for 31 minutes
        assert {(a["kind"], a["door"], a["masked"]) for a in alerts.raised.values()} == {
            ("low_coverage", door(MALL, "E1"), door(MALL, "E1")),
            ("low_coverage", None, f"二七广场购物中心 ({MALL})"),
        }
        mall = alerts.raised[f"coverage:unit:{MALL}:{t0}"]
        assert mall["action"] == "62%" and mall["ts"] == t0  # 13 of 21
        await check_with(t0 + 40 * MIN, 12, 20)  # still the same episode: nothing new
        assert len(alerts.raised) == 2
        await check_with(t0 + 60 * MIN, 20, 20)  # recovered
        await check_with(t0 + 80 * MIN, 5, 20)  # low again: a new episode ...
        await check_with(t0 + 111 * MIN, 5, 20)  # ... raised after 31 minutes
        assert len(alerts.raised) == 4
        assert f"coverage:unit:{MALL}:{t0 + 80 * MIN}" in alerts.raised
        # a shop with good coverage, and too few people anywhere, raise nothing
        assert not any(SHOPS[0] in key for key in alerts.raised)


async def test_people_through_a_door_whose_kiosk_was_offline(tmp_path):
    units = Units("site", register_mall(tmp_path / "register.db"))
    db = store(tmp_path / "gateway.sqlite")
    alerts = Recorded()
    t0 = 1_795_500_000_000
    state = {"kiosk": "k-mall", "state": "online", "changed_ms": t0 - 60 * MIN}

    async def kiosks() -> list[dict]:
        return [dict(state)]

    scans(db, door(MALL, "E1"), 1, t0 - 30 * MIN, kiosk="k-mall")  # its door
    async with aiosqlite.connect(tmp_path / "gateway.sqlite") as events:
        watch = CoverageWatch(events, units, RULES, kiosks, alerts)
        await watch.check_offline(t0)
        state.update(state="offline", changed_ms=t0)
        await watch.check_offline(t0 + 5 * MIN)
        assert alerts.raised == {}  # offline, but nobody passed (yet)
        # back online; its board's counts from the offline spell arrive now
        state.update(state="online", changed_ms=t0 + 20 * MIN)
        passes(db, door(MALL, "E1"), 3, t0 + 2 * MIN, kiosk="k-mall")
        passes(db, door(MALL, "E1"), 2, t0 + 2 * MIN, kiosk="k-mall-2")  # another lane's
        passes(db, door(MALL, "E1"), 4, t0 + 25 * MIN, kiosk="k-mall")  # after it came back
        await watch.check_offline(t0 + 21 * MIN)
        [alert] = alerts.raised.values()
        assert (alert["kind"], alert["kiosk"], alert["door"], alert["action"]) == (
            "unchecked_passes", "k-mall", door(MALL, "E1"), "3")
        assert alert["ts"] == t0
        await watch.check_offline(t0 + 22 * MIN)
        assert len(alerts.raised) == 1


async def test_counts_and_coverage_roll_up_to_the_mall_on_the_console(tmp_path):
    """At a real gateway: kiosks' scans and their boards' counts arrive over MQTT; the
    console's counts show each unit with the doors of the units inside it."""
    from firmware import mqtt_client, protocol
    from tests.conftest import SITE, poll
    from tests.test_console_site import running_site, signed_in

    register = register_mall(tmp_path / "register.db")
    now = protocol.now_ms()
    plan = [  # kiosk, door, scans, people counted in
        ("k-east", door(MALL, "E1"), 3, 4),
        ("k-west", door(MALL, "W1"), 2, 2),
        ("k-shop1", door(SHOPS[0]), 1, 1),
        ("k-shop2", door(SHOPS[1]), 2, 0),  # no counter at this shop
    ]
    with running_site(tmp_path / "site", units={"register_file": str(register)}) as site:
        ids = protocol.EventIds()
        address = mqtt_client.BrokerAddress(port=site.broker.port)
        for kiosk, where, n_scans, n_people in plan:
            async with mqtt_client.client(address, kiosk, persistent=False) as mqtt:
                for seq in range(1, n_scans + 1):
                    msg = protocol.scan(ids.new(), kiosk, where, seq, now, "code",
                                        f"https://hc.henan.example/yk/v1?t={kiosk}{seq}",
                                        medium="screen")
                    msg["replay"] = True
                    await mqtt.publish(protocol.topic(SITE, kiosk, protocol.SCAN),
                                       protocol.encode(protocol.SCAN, msg), qos=1)
                for seq in range(1, n_people + 1):
                    await mqtt.publish(
                        protocol.topic(SITE, kiosk, protocol.DOOR),
                        protocol.encode(protocol.DOOR, protocol.door(
                            f"{kiosk}-1-{seq}", kiosk, where, "in", now, 1, seq)), qos=1)
        async with signed_in(site, "manager") as (http, _me):
            async def counted() -> dict | None:
                d = (await http.get("/api/counts")).json()
                units = {u["code"]: u for u in d["units"]}
                return units if units[MALL]["people"] == 7 and units[MALL]["checked"] == 8 \
                    else None

            units = await poll(counted, timeout=15)
        # the mall: 8 scans at its doors and its shops'; 7 people counted where a counter
        # is (E1, W1, the first shop), 6 scans there: 6 / 7
        assert units[MALL]["coverage"] == round(6 / 7, 4)
        assert (units[SHOPS[0]]["checked"], units[SHOPS[0]]["people"],
                units[SHOPS[0]]["coverage"]) == (1, 1, 1.0)
        assert (units[SHOPS[1]]["checked"], units[SHOPS[1]]["people"],
                units[SHOPS[1]]["coverage"]) == (2, None, None)
        hour = next(h for h in units[MALL]["hours"] if h["people"])
        assert (hour["checked"], hour["people"]) == (8, 7)


async def test_without_a_register_a_counted_door_nobody_scanned_at_is_low(tmp_path):
    db = store(tmp_path / "gateway.sqlite")
    alerts = Recorded()
    t0 = 1_795_500_000_000
    async with aiosqlite.connect(tmp_path / "gateway.sqlite") as events:
        async def nobody() -> list[dict]:
            return []

        watch = CoverageWatch(events, Units("demo", None), RULES, nobody, alerts)
        for minutes in (0, 31):
            passes(db, "east-gate", 12, t0 + (minutes - 5) * MIN)
            await watch.check_coverage(t0 + minutes * MIN)
        assert {(a["door"], a["masked"], a["action"]) for a in alerts.raised.values()} == {
            ("east-gate", "east-gate", "0%"),
            (None, "demo (demo)", "0%"),  # the site as its one unit
        }


async def test_the_console_alerts_people_counted_while_a_kiosk_was_offline(tmp_path):
    """At a real gateway: a kiosk goes offline and comes back; its board's counts from
    the offline spell arrive with it, and the console raises the alert."""
    import asyncio

    from firmware import mqtt_client, protocol
    from tests.conftest import SITE, poll
    from tests.test_console_site import running_site, signed_in

    register = register_mall(tmp_path / "register.db")
    where, kiosk = door(MALL, "N1"), "k-north"
    with running_site(tmp_path / "site", units={"register_file": str(register)},
                      kiosk_check_s=0.2, coverage_check_s=0.2) as site:
        address = mqtt_client.BrokerAddress(port=site.broker.port)
        topic = {kind: protocol.topic(SITE, kiosk, kind) for kind in protocol.KINDS}
        async with mqtt_client.client(address, kiosk, persistent=False) as mqtt, \
                signed_in(site, "duty") as (http, _me):
            async def state(name: str) -> None:
                await mqtt.publish(topic["status"], protocol.encode(
                    protocol.STATUS, protocol.status(kiosk, name, protocol.now_ms())),
                    qos=1, retain=True)

                async def shown() -> bool:
                    rows = (await http.get("/api/kiosks")).json()
                    return any(k["kiosk"] == kiosk and k["state"] == name for k in rows)

                await poll(shown)

            await state("online")
            scan = protocol.scan(protocol.EventIds().new(), kiosk, where, 1, protocol.now_ms(),
                                 "code", "https://hc.henan.example/yk/v1?t=north1",
                                 medium="screen")
            await mqtt.publish(topic["scan"], protocol.encode(protocol.SCAN, scan), qos=1)
            await state("offline")
            await asyncio.sleep(0.3)
            during = protocol.now_ms()
            await asyncio.sleep(0.3)
            await state("online")
            for n in range(1, 4):  # the board counted three people meanwhile
                await mqtt.publish(topic["door"], protocol.encode(protocol.DOOR, protocol.door(
                    f"{kiosk}-1f-{n}", kiosk, where, "in", during + n, 0x1f, n)), qos=1)

            async def raised() -> dict | None:
                rows = (await http.get("/api/alerts")).json()
                return next((a for a in rows if a["kind"] == "unchecked_passes"), None)

            alert = await poll(raised, timeout=15)
        assert (alert["kiosk"], alert["door"], alert["action"]) == (kiosk, where, "3")
