"""Venue-wide tracing (时空关联, gateway/venue_tracing.py) on the mall of 3 shops and 4
doors (tests/mall.py): a trace started from a visit to one shop finds a person who came
into the mall by another door while the case was inside, and not one who had left
before; exits come from the doors' counts where every entrance counts them, a default
stay otherwise, and the result says which. Against the store's own schema here, and
through a real gateway's console API (audited) below."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware import schema
from gateway import venue_tracing
from gateway.store import COMPONENT
from gateway.venues import Units
from tests.mall import MALL, SHOPS, door, register_mall

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
T = 1_795_500_000_000 - 1_795_500_000_000 % 86_400_000 + 4 * 3_600_000  # 12:00 in Shanghai
DEFAULT, LONGEST = 60 * MIN, 240 * MIN


class Store:
    """Scans and door passes written as the gateway's store holds them."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        schema.migrate(self.db, path, COMPONENT)  # the store as the gateway makes it
        self.n = 0

    def scan(self, who: str, at_door: str, ts: int) -> str:
        self.n += 1
        event_id = f"{ts:012x}-7000-8000-{self.n:012x}"
        self.db.execute(
            "INSERT INTO events (id, kiosk, door, seq, ts, received_ms, method, subject, masked,"
            " colour) VALUES (?, 'k', ?, ?, ?, ?, 'code', ?, ?, 'green')",
            (event_id, at_door, self.n, ts, ts, who, who[:3] + "…"))
        return event_id

    def passes(self, at_door: str, direction: str, *times: int) -> None:
        for ts in times:
            self.n += 1
            self.db.execute("INSERT INTO door_passes (id, door, direction, ts) VALUES (?,?,?,?)",
                            (f"p{self.n}", at_door, direction, ts))


def trace(store: Store, tree_path: Path, who: str = "case") -> dict:
    tree = Units("site", tree_path).tree()
    return venue_tracing.trace_venue(store.db, tree, [who], T - 86_400_000, T + 86_400_000,
                                     TZ, DEFAULT, LONGEST)


def the_mall(tmp_path: Path) -> tuple[Store, Path]:
    register = register_mall(tmp_path / "register.db")
    store = Store(tmp_path / "gateway.sqlite")
    store.scan("case", door(SHOPS[0]), T)  # the case, at the first shop
    store.scan("came-in", door(MALL, "W1"), T - 20 * MIN)  # another door, still inside
    store.scan("left", door(MALL, "N1"), T - 180 * MIN)  # came and went before
    store.scan("upstairs", door(SHOPS[1]), T + 30 * MIN)  # another shop of the mall
    store.scan("later", door(MALL, "S1"), T + 90 * MIN)  # after the case's stay
    store.scan("elsewhere", "41010300000999/01", T)  # not in the mall
    return store, register


def test_a_shop_visit_finds_the_mall_not_those_who_had_left_default_stay(tmp_path):
    store, register = the_mall(tmp_path)
    result = trace(store, register)
    [stay] = result["stays"]
    assert (stay["venue"], stay["basis"]) == (MALL, "default")
    assert (stay["start_ms"], stay["end_ms"]) == (T, T + DEFAULT)
    assert stay["venue_name"] == "二七广场购物中心"
    found = {c["subject"]: c for c in result["contacts"]}
    assert set(found) == {"came-in", "upstairs"}
    assert found["came-in"]["basis"] == "default"
    assert found["came-in"]["stay_until_ms"] == T + 40 * MIN
    assert result["people"] == 2 and result["default_stay_minutes"] == 60


def test_exits_counted_at_every_entrance_decide_who_was_still_inside(tmp_path):
    store, register = the_mall(tmp_path)
    # Everyone who came in that day, in order, and when people went out, in order:
    # "left" came in first (09:00) and the first exit is 09:40; "came-in" came in second
    # (11:40) and the second exit is 12:50, after the case's scan at 12:00.
    store.passes(door(MALL, "N1"), "in", T - 180 * MIN)
    store.passes(door(MALL, "W1"), "in", T - 20 * MIN)
    store.passes(door(MALL, "E1"), "in", T - 5 * MIN)  # the case, by the east door
    store.passes(door(MALL, "S1"), "in", T + 90 * MIN)
    store.passes(door(MALL, "E1"), "out", T - 140 * MIN)
    store.passes(door(MALL, "S1"), "out", T + 50 * MIN)
    store.passes(door(MALL, "W1"), "out", T + 65 * MIN)
    store.passes(door(MALL, "N1"), "out", T + 150 * MIN)
    result = trace(store, register)
    [stay] = result["stays"]
    assert stay["basis"] == "exits"
    # the case ranks third among the day's entries (by its own scan time): third exit
    assert (stay["start_ms"], stay["end_ms"]) == (T, T + 65 * MIN)
    found = {c["subject"]: c for c in result["contacts"]}
    assert set(found) == {"came-in", "upstairs"}
    assert found["came-in"]["basis"] == "exits"
    assert found["came-in"]["stay_until_ms"] == T + 50 * MIN


def test_a_door_without_exit_counts_means_the_default_stay(tmp_path):
    store, register = the_mall(tmp_path)
    for d in ("E1", "W1", "N1"):  # S1 counts nothing: nobody knows who left by it
        store.passes(door(MALL, d), "in", T - 30 * MIN)
        store.passes(door(MALL, d), "out", T - 10 * MIN)
    assert trace(store, register)["stays"][0]["basis"] == "default"


def test_the_case_own_scans_in_one_venue_make_one_stay(tmp_path):
    store, register = the_mall(tmp_path)
    store.scan("case", door(MALL, "E1"), T - 10 * MIN)  # came in, then the shop
    store.scan("case", door(SHOPS[2]), T + 50 * MIN)  # and a third shop later
    result = trace(store, register)
    [stay] = result["stays"]
    assert (stay["start_ms"], stay["end_ms"]) == (T - 10 * MIN, T + 110 * MIN)
    assert len(stay["scans"]) == 3
    assert {c["subject"] for c in result["contacts"]} == {"came-in", "upstairs", "later"}


async def test_venue_wide_tracing_through_the_console_is_audited(tmp_path):
    """The acceptance case at a real gateway: scans and door counts arrive from kiosks
    over MQTT (as a kiosk's backlog, at yesterday noon), the tracer asks the console."""
    import csv
    import io
    from datetime import datetime, timedelta

    from firmware import mqtt_client, protocol
    from simulators.population import population
    from tests.conftest import SITE, poll
    from tests.test_console_site import running_site, signed_in

    people = population(7)
    case, came_in, left, upstairs = people[0], people[1], people[2], people[3]
    noon = datetime.now(TZ).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    at = int(noon.timestamp() * 1000)
    register = register_mall(tmp_path / "register.db")
    scans = [(case, door(SHOPS[0]), at), (came_in, door(MALL, "W1"), at - 20 * MIN),
             (left, door(MALL, "N1"), at - 180 * MIN), (upstairs, door(SHOPS[1]), at + 30 * MIN)]
    with running_site(tmp_path / "site", units={"register_file": str(register)}) as site:
        ids = protocol.EventIds()
        address = mqtt_client.BrokerAddress(port=site.broker.port)
        async with mqtt_client.client(address, "kiosk-backlog", persistent=False) as mqtt:
            for seq, (person, where, ts) in enumerate(sorted(scans, key=lambda s: s[2]), 1):
                msg = protocol.scan(ids.new(ts), "kiosk-backlog", where, seq, ts, "code",
                                    person.code_url, medium="screen")
                msg["replay"] = True
                await mqtt.publish(protocol.topic(SITE, "kiosk-backlog", protocol.SCAN),
                                   protocol.encode(protocol.SCAN, msg), qos=1)
        span = {"from_ms": at - 86_400_000, "to_ms": at + 86_400_000}
        async with signed_in(site, "tracer") as (http, _me):
            async def traced() -> dict | None:
                r = (await http.post("/api/trace/venue", json={
                    "kind": "code", "value": case.token, **span})).json()
                return r if len(r["contacts"]) == 2 else None

            result = await poll(traced, timeout=15)
            assert [(s["venue"], s["basis"]) for s in result["stays"]] == [(MALL, "default")]
            assert {c["door"] for c in result["contacts"]} == {door(MALL, "W1"),
                                                               door(SHOPS[1])}
            exported = await http.post("/api/trace/venue", json={
                "kind": "code", "value": case.code_url, **span, "format": "csv"})
            rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
            assert sorted(r["role"] for r in rows) == [
                "contact (default)", "contact (default)", "visit"]
            assert case.token not in exported.text
        async with signed_in(site, "manager") as (http, _me):
            audit = (await http.get("/api/audit")).json()
        traces = [r for r in audit["rows"] if r["action"] == "trace_venue"]
        assert traces and traces[0]["detail"]["venues"] == [MALL]
        assert case.token not in str(audit) and audit["chain_broken_at"] is None
