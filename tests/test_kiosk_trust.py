"""The gateway's trust model for what a kiosk claims (gateway/kiosk_trust.py): the door
from the register provisioning writes, a kiosk's own decision judged again with the
gateway's lists, a scan time far from the gateway's clock flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware import protocol
from firmware import verdict as verdicts
from gateway.kiosk_trust import GatewayLists, KioskRegister, KioskTrust
from provisioning import keys
from provisioning.enrol import Enrolment, SiteSetup
from provisioning.registry import Registry, build_venue
from tests.test_signed_helpers import NOW, issuer, root

RED_ID = "41010219800101001X"
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def lists(tmp_path_factory) -> GatewayLists:
    d = tmp_path_factory.mktemp("lists")
    (d / "trust.cose").write_bytes(keys.sign_trust_list(root(), "s", 1, [issuer("es")]))
    (d / "red.cose").write_bytes(keys.sign_red_list(root(), "s", 1, [("id", RED_ID)]))
    return GatewayLists.load(d / "trust.cose", d / "red.cose")


def scan(method: str, credential: str, decided: verdicts.Verdict | None = None, door="v/E1",
         ts: int | None = None) -> tuple[dict, verdicts.Verdict | None]:
    msg = protocol.scan(protocol.EventIds().new(), "k1", door, 1, ts or int(NOW * 1000), method,
                        credential)
    if decided is not None:
        msg.update(colour=decided.colour, action=decided.action, source=decided.source)
    return msg, decided


def claim(colour: str, action: str, source: str) -> verdicts.Verdict:
    return verdicts.Verdict("x", colour, action, "pass", source)


def test_a_kiosk_decision_holds_only_as_the_kiosk_could_have_made_it(lists):
    trust = KioskTrust(KioskRegister(None), lists)
    now = int(NOW * 1000)
    good = keys.sign_code(issuer("es"), iat=NOW - 3600)
    forged = keys.sign_code(keys.new_issuer("CN", name="stranger"), iat=NOW - 3600)
    green_kiosk = claim("green", "open", "kiosk")
    cases = [
        # (method, credential, claimed) -> the gateway's decision or None (the claim holds)
        (("signed_code", good, green_kiosk), None),
        (("signed_code", forged, green_kiosk), ("unknown", "hold", "kiosk")),
        (("id_card", "41010219900101002X", green_kiosk), ("unknown", "hold", "timeout")),
        (("code", "https://hc/x?t=1", claim("green", "open", "platform")),
         ("unknown", "hold", "timeout")),
        (("id_card", RED_ID, claim("red", "refuse", "kiosk")), None),
        (("id_card", "41010219900101002X", claim("red", "refuse", "kiosk")),
         ("unknown", "hold", "timeout")),
        (("id_card", "41010219900101002X", claim("unknown", "open", "timeout")), None),
        (("code", "https://hc/x?t=1", claim("unknown", "hold", "timeout")), None),
    ]
    for (method, credential, claimed), expected in cases:
        msg, _ = scan(method, credential, claimed)
        judged = trust.judge(msg, claimed, now, live=True)
        got = judged.replacement
        assert (got and (got.colour, got.action, got.source)) == (expected or None), \
            (method, claimed)
        assert ("decision_overruled" in judged.flags) == (expected is not None)


def test_a_kiosk_holding_a_visitor_for_a_high_temperature_is_believed(lists):
    """A valid signed code held for its temperature (firmware/verdict.py with_temperature)
    is stricter than the gateway's own green, never a wrong green: it holds. Without a
    temperature on the scan the same hold is a claim the kiosk could not have made."""
    trust = KioskTrust(KioskRegister(None), lists)
    good = keys.sign_code(issuer("es"), iat=NOW - 3600)
    held = verdicts.with_temperature(verdicts.for_signed_code("x", True, ""), 385, 373)
    assert (held.action, held.prompt) == ("hold", "high_temperature")
    msg, _ = scan("signed_code", good, held)
    msg.update(prompt=held.prompt, temp_dc=385)
    assert trust.judge(msg, held, int(NOW * 1000), live=True).replacement is None
    del msg["temp_dc"]
    judged = trust.judge(msg, held, int(NOW * 1000), live=True)
    assert judged.flags == ["decision_overruled"]


def test_a_scan_at_another_door_and_a_far_off_time(lists):
    trust = KioskTrust(KioskRegister({"k1": frozenset({"v/E1"})}), lists, max_skew_ms=300_000)
    now = int(NOW * 1000)
    msg, _ = scan("code", "t", door="other-venue/E9")
    assert trust.judge(msg, None, now, live=True).foreign_door
    msg, _ = scan("code", "t")
    assert trust.judge(msg, None, now, live=True).flags == []
    five_days_back, _ = scan("code", "t", ts=now - 5 * DAY_MS)
    assert trust.judge(five_days_back, None, now, live=True).flags == ["clock_skew"]
    assert trust.judge(five_days_back, None, now, live=False).flags == [], "an old replay is fine"
    ahead, _ = scan("code", "t", ts=now + 3_600_000)
    assert trust.judge(ahead, None, now, live=False).flags == ["clock_skew"]


def test_provisioning_writes_the_register_the_gateway_reads(tmp_path: Path):
    registry = Registry(tmp_path / "register.db")
    registry.put(build_venue({
        "code": "41010300000001", "name": "二七广场购物中心", "category": "supermarket",
        "credit_code": "914403001922038216", "address": "郑州市二七区大学路1号",
        "manager_name": "王经理", "manager_phone": "13800138000", "doors": "E1:东门;W1:西门",
    }))  # fmt: skip
    enrolment = Enrolment(registry, SiteSetup("mall-1", tmp_path / "site", tls=False))
    enrolment.init_site(["127.0.0.1"])
    a = enrolment.enrol("41010300000001", "E1")
    b = enrolment.enrol("41010300000001", "W1")
    enrolment.revoke(b.kiosk)
    path = tmp_path / "site" / "broker" / "kiosks.json"
    assert json.loads(path.read_text())["kiosks"] == {a.kiosk: ["41010300000001/E1"]}
    register = KioskRegister.load(path)
    assert register.allows(a.kiosk, "41010300000001/E1")
    assert not register.allows(a.kiosk, "41010300000001/W1")
    assert not register.allows(b.kiosk, "41010300000001/W1"), "revoked: no door"
    registry.close()


# --- against the real broker, gateway and platform simulator ---------------------------------

async def test_forged_colour_foreign_door_and_far_off_time_at_the_real_gateway(tmp_path: Path):
    import sqlite3

    import httpx

    from firmware import mqtt_client
    from gateway import users
    from gateway.broker import Broker
    from simulators import processes
    from simulators.population import first_of_colour
    from tests.conftest import SITE, TEST_USERS, poll

    red = first_of_colour(7, "red")
    (tmp_path / "kiosks.json").write_text(json.dumps({"kiosks": {"k1": ["v/E1"]}}))
    (tmp_path / "trust.cose").write_bytes(keys.sign_trust_list(root(), SITE, 1, [issuer("es")]))
    broker = Broker(tmp_path / "broker").start()
    platform, url = processes.start_platform(tmp_path)
    # the refused scan leaves a gap in k1's numbering: upload what is behind it at once
    cfg = processes.gateway_config(tmp_path, SITE, broker.port, url, upload_hold_s=0)
    cfg["kiosks"] = {"register_file": str(tmp_path / "kiosks.json"), "max_clock_skew_s": 60}
    cfg["trust"] = {"list_file": str(tmp_path / "trust.cose")}
    name, password = TEST_USERS["manager"]
    users.add_user(Path(cfg["db_path"]), name, "manager", password)
    gateway, gateway_url = processes.start_gateway(tmp_path, cfg)
    try:
        now = protocol.now_ms()
        ids = protocol.EventIds()
        green = ("green", "open", "pass", "kiosk")
        stranger = keys.new_issuer("CN", name="stranger")
        scans = {
            # a red person's ID card, claimed green by the kiosk
            "forged_id": protocol.scan(ids.new(), "k1", "v/E1", 1, now, "id_card",
                                       red.id_number, decided=green),
            # a signed code from an issuer nobody trusts, claimed green
            "forged_code": protocol.scan(ids.new(), "k1", "v/E1", 2, now, "signed_code",
                                         keys.sign_code(stranger), decided=green),
            # another venue's door
            "foreign": protocol.scan(ids.new(), "k1", "other/E9", 3, now, "code", "x"),
            # five days back, as a live scan
            "old": protocol.scan(ids.new(), "k1", "v/E1", 4, now - 5 * DAY_MS, "code",
                                 first_of_colour(7, "green").code_url),
        }
        address = mqtt_client.BrokerAddress(port=broker.port)
        async with mqtt_client.client(address, "k1", persistent=False) as mqtt:
            for msg in scans.values():
                await mqtt.publish(protocol.topic(SITE, "k1", protocol.SCAN),
                                   protocol.encode(protocol.SCAN, msg), qos=1)

        async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as http:
            (await http.post("/api/sign-in", json={"name": name, "password": password})
             ).raise_for_status()

            async def settled():
                rows = (await http.get("/api/entries")).json()
                alerts = [a for a in (await http.get("/api/alerts")).json()
                          if a["kind"] == "kiosk_claim"]
                return (rows, alerts) if len(rows) >= 3 and len(alerts) >= 4 else None

            rows, alerts = await poll(settled, timeout=15)
        stored = {r["id"]: r for r in rows}
        assert scans["foreign"]["id"] not in stored, "another door's scan is refused"
        assert stored[scans["forged_id"]["id"]]["colour"] == "red", "the platform's colour"
        assert stored[scans["forged_code"]["id"]]["colour"] == "unknown"
        flags = {a["door"]: a["action"] for a in alerts}
        assert flags["other/E9"] == "foreign_door"
        assert sorted(a["action"] for a in alerts if a["door"] == "v/E1") == \
            ["clock_skew", "decision_overruled", "decision_overruled"]

        async def uploaded():
            with sqlite3.connect(tmp_path / "platform.sqlite") as db:
                got = {k: json.loads(b) for k, b in db.execute("SELECT key, body FROM records")}
            return got if len(got) >= 3 else None

        records = await poll(uploaded, timeout=20)
        assert scans["foreign"]["id"] not in records, "never forwarded"
        old = records[scans["old"]["id"]]
        assert old["kiosk_ts"] == now - 5 * DAY_MS and abs(old["ts"] - now) < 60_000
        assert old["flags"] == ["clock_skew"]
        assert records[scans["forged_id"]["id"]]["flags"] == ["decision_overruled"]
    finally:
        gateway.stop()
        platform.stop()
        broker.stop()
