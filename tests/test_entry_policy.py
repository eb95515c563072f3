"""Entry policies per venue category (gateway/entry_policy.py, firmware/verdict.py): the
gateway's config sets them, the kiosk keeps its door's and applies it to its own
decisions, and the gateway judges a kiosk's decision under the same policy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from firmware import protocol
from firmware import verdict as verdicts
from firmware.kiosk.decide import KioskDecisions
from firmware.kiosk.door_policy import DoorPolicy
from firmware.kiosk.reading import Reading
from gateway import config
from gateway.entry_policy import DEFAULTS, EntryPolicies, PolicyError, policies_from_config
from gateway.kiosk_trust import GatewayLists, KioskRegister, KioskTrust
from provisioning import categories, keys
from tests.test_signed_helpers import issuer, root

TEST_48H = verdicts.Policy("hold", 48, "site")
CAREFUL = verdicts.Policy("refuse", 0, "hold")


def signed_test(hours_ago: float, result: str = "260415000") -> str:
    """A signed test certificate sampled `hours_ago` hours before now."""
    sampled = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    dcc = keys.sample_dcc("t")
    dcc["t"][0].update(sc=sampled.isoformat(timespec="seconds"), tr=result)
    return keys.sign_code(issuer("es"), dcc)


def trust_file(tmp_path: Path) -> Path:
    path = tmp_path / "trust.cose"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(keys.sign_trust_list(root(), "s", 1, [issuer("es")]))
    return path


def kiosk_decisions(tmp_path: Path, policy: verdicts.Policy | None,
                    gate_unchecked: str = "closed") -> KioskDecisions:
    """The kiosk's decisions with the gateway's trust list and, if given, a door policy
    received as the gateway sends it."""
    lists = GatewayLists.load(trust_file(tmp_path), None)
    held = SimpleNamespace(trust=SimpleNamespace(current=lists.trust),
                           red=SimpleNamespace(current=None))
    door = DoorPolicy(tmp_path / "policy.json")
    if policy is not None:
        door.take(protocol.policy("k1", policy, protocol.now_ms()))
    return KioskDecisions(held, gate_unchecked, door)  # type: ignore[arg-type]


def signed(credential: str) -> Reading:
    return Reading("signed_code", credential, "screen")


# --- categories ------------------------------------------------------------------------

def test_the_notices_categories_each_with_a_department_and_sentinels_flagged():
    named = {c.zh for c in categories.CATEGORIES.values()}
    for zh in ("药店", "机关/企事业单位经营场所", "办公场所", "批发市场", "专业市场", "会展中心",
               "救助站", "公共驿站", "美容美发", "其他公共场所"):
        assert zh in named, zh
    assert {c.group for c in categories.CATEGORIES.values()} == set(categories.GROUPS)
    assert len(categories.GROUPS) == 6
    pharmacy = categories.lookup("药店")
    assert categories.DEPARTMENTS[pharmacy.department][0] == "药品监管部门"
    assert pharmacy.sentinel and categories.lookup("medical").sentinel
    assert not categories.lookup("office").sentinel
    assert categories.DEPARTMENTS[categories.lookup("rescue_station").department][0] == "民政部门"


# --- the gateway's policies --------------------------------------------------------------

def test_hospitals_and_pharmacies_refuse_yellow_by_default_and_config_replaces_a_category():
    policies = policies_from_config({"elderly_care": {"yellow": "refuse", "test_within_h": 48},
                                     "pharmacy": {}})
    assert DEFAULTS["medical"] == CAREFUL
    assert policies["medical"] == CAREFUL
    assert policies["pharmacy"] == verdicts.NO_POLICY  # replaced whole: hold yellow
    assert policies["elderly_care"] == verdicts.Policy("refuse", 48, "site")
    doors = {"V1/E1": "medical", "V2/01": "small_shop", "V3/01": "elderly_care"}
    entry = EntryPolicies(policies, doors.get)
    assert entry.for_door("V1/E1") == CAREFUL
    assert entry.for_door("V2/01") == verdicts.NO_POLICY
    assert entry.for_door("nowhere/1") == verdicts.NO_POLICY
    assert entry.for_doors(["V1/E1", "V3/01"]) == verdicts.Policy("refuse", 48, "hold")


@pytest.mark.parametrize(("table", "says"), [
    ({"spaceship": {}}, "entry_policies.spaceship: not a category key"),
    ({"medical": {"yellow": "open"}}, "entry_policies.medical: yellow must be hold or refuse"),
    ({"school": {"test_within_h": 1000}}, "test_within_h must be 0-336 hours"),
    ({"school": {"gate": "open"}}, "unknown policy field gate"),
])
def test_a_bad_policy_in_the_config_is_refused_naming_it(tmp_path: Path, table, says):
    with pytest.raises(PolicyError, match=says):
        policies_from_config(table)
    lines = ['site = "s"', f'db_path = "{tmp_path / "g.db"}"', 'pseudonym_key = "k" ', ""]
    lines[2] = 'pseudonym_key = "0123456789abcdef0123"'
    for category, fields in table.items():
        lines.append(f"[entry_policies.{category}]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in fields.items()]
    (tmp_path / "g.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(Exception, match=says.split(": ", 1)[-1]):
        config.load(tmp_path / "g.toml")


# --- the kiosk's own decisions -------------------------------------------------------------

def test_a_signed_code_opens_a_test_door_only_with_a_recent_negative_test(tmp_path: Path):
    kiosk = kiosk_decisions(tmp_path, TEST_48H)
    assert kiosk.signed_code("e", signed(signed_test(20))).fields() == \
        ("green", "open", "pass", "kiosk")
    for credential in (signed_test(60), signed_test(2, result="260373001"),
                       keys.sign_code(issuer("es"))):  # too old, positive, a vaccination
        assert kiosk.signed_code("e", signed(credential)).fields() == \
            ("green", "hold", "test_required", "kiosk")
    # the same vaccination code opens a door that asks for no test
    plain = kiosk_decisions(tmp_path / "plain", None)
    assert plain.signed_code("e", signed(keys.sign_code(issuer("es")))).action == "open"


def test_a_careful_door_holds_an_unchecked_person_whatever_the_gate_setting(tmp_path: Path):
    code = Reading("code", "https://hc.example/x", "screen")
    fail_open = kiosk_decisions(tmp_path / "a", None, gate_unchecked="open")
    assert fail_open.without_verdict("e", code).action == "open"
    careful = kiosk_decisions(tmp_path / "b", CAREFUL, gate_unchecked="open")
    assert careful.without_verdict("e", code).fields() == \
        ("unknown", "hold", "manual_check", "timeout")


def test_the_kiosk_keeps_its_door_policy_across_a_restart(tmp_path: Path):
    door = DoorPolicy(tmp_path / "policy.json")
    assert door.current == verdicts.NO_POLICY
    assert door.take(protocol.policy("k1", CAREFUL, 5))
    assert not door.take(protocol.policy("k1", CAREFUL, 6))  # the same again: no write
    assert DoorPolicy(tmp_path / "policy.json").current == CAREFUL
    (tmp_path / "policy.json").write_text('{"policy": {"yellow": "maybe"}, "ts": 1}')
    assert DoorPolicy(tmp_path / "policy.json").current == verdicts.NO_POLICY


# --- the gateway judging the kiosk's decision ------------------------------------------------

def test_the_gateway_judges_a_kiosks_decision_under_the_doors_policy(tmp_path: Path):
    doors = {"v/E1": TEST_48H}
    trust = KioskTrust(KioskRegister(None), GatewayLists.load(trust_file(tmp_path), None),
                       policy_of=lambda door: doors.get(door, verdicts.NO_POLICY))
    ids = protocol.EventIds()
    now = protocol.now_ms()
    vaccination = keys.sign_code(issuer("es"))

    def judge(door: str, decided: verdicts.Verdict) -> list[str]:
        msg = protocol.scan(ids.new(), "k1", door, 1, now, "signed_code", vaccination,
                            decided=decided.fields())
        return trust.judge(msg, verdicts.Verdict.from_message(msg), now, live=True).flags

    held = verdicts.Verdict("", "green", "hold", "test_required", "kiosk")
    opened = verdicts.Verdict("", "green", "open", "pass", "kiosk")
    assert judge("v/E1", held) == []  # what the kiosk had to do there
    assert judge("v/E1", opened) == ["decision_overruled"]  # the door asks for a test
    assert judge("v/W9", opened) == []  # a door with no policy


# --- at the real gateway, with real kiosks, broker, register and platform simulator --------

async def test_a_pharmacy_in_a_mall_refuses_yellow_and_the_mall_asks_for_a_test(tmp_path: Path):
    """A yellow code is refused at the pharmacy's door and held at the mall's; the mall's
    config asks for a negative test within 48 hours, which the platform simulator reports;
    each kiosk is told its door's policy and keeps it."""
    import asyncio
    import contextlib
    import json

    import httpx

    from firmware.kiosk import config as kiosk_config
    from firmware.kiosk.kiosk import Kiosk
    from gateway import users
    from gateway.broker import Broker
    from provisioning.registry import Registry, build_venue
    from simulators import processes
    from simulators.lights import SimulatedLights
    from simulators.population import population
    from simulators.visitors import QueuedReadings
    from tests.conftest import SITE, TEST_USERS, poll
    from tests.mall import MALL, credit, door, venue

    pharmacy = "41010300000109"
    with Registry(tmp_path / "register.db") as registry:
        registry.put_many([
            build_venue(venue(MALL, "二七广场购物中心", "supermarket", credit_code=credit(1),
                              doors="E1:东门;W1:西门")),
            build_venue(venue(pharmacy, "一楼大药房", "药店", MALL, credit(9), "01:店门")),
        ])
    kiosks = {"k-mall": [door(MALL, "E1")], "k-pharmacy": [door(pharmacy)]}
    (tmp_path / "kiosks.json").write_text(json.dumps({"kiosks": kiosks}))
    people = population(7)
    yellow = next(p for p in people if p.colour == "yellow")
    tested = next(p for p in people if p.colour == "green" and p.tested_hours_ago < 40)
    untested = next(p for p in people if p.colour == "green" and p.tested_hours_ago > 56)

    broker = Broker(tmp_path / "broker").start()
    platform, url = processes.start_platform(tmp_path)
    cfg = processes.gateway_config(tmp_path, SITE, broker.port, url)
    cfg["kiosks"] = {"register_file": str(tmp_path / "kiosks.json")}
    cfg["units"] = {"register_file": str(tmp_path / "register.db")}
    cfg["entry_policies"] = {"supermarket": {"test_within_h": 48}}
    user, password = TEST_USERS["manager"]
    users.add_user(Path(cfg["db_path"]), user, "manager", password)
    gateway, gateway_url = processes.start_gateway(tmp_path, cfg)
    tasks: list[asyncio.Task] = []
    try:
        at: dict[str, tuple[Kiosk, QueuedReadings, SimulatedLights]] = {}
        for name, (door_id,) in kiosks.items():
            raw = processes.kiosk_config(tmp_path, SITE, name, door_id, broker.port)
            kiosk = Kiosk(kiosk_config.KioskConfig.model_validate(raw),
                          readings := QueuedReadings(), lights := SimulatedLights())
            tasks.append(asyncio.create_task(kiosk.run()))
            await asyncio.wait_for(kiosk.session.connected.wait(), 10)
            at[name] = (kiosk, readings, lights)

        await poll(lambda: at["k-pharmacy"][0].policy.current == CAREFUL)
        await poll(lambda: at["k-mall"][0].policy.current == TEST_48H)
        assert DoorPolicy(tmp_path / "k-pharmacy" / "policy.json").current == CAREFUL

        async def verdict_at(name: str, credential: str) -> tuple:
            _kiosk, readings, lights = at[name]
            seen = len(lights.shown)
            readings.present(Reading("code", credential, "screen"))
            shown = await lights.wait_for(seen + 1, timeout=10)
            return shown[-1][0].fields()

        assert await verdict_at("k-pharmacy", yellow.code_url) == \
            ("yellow", "refuse", "yellow_no_entry", "platform")
        assert await verdict_at("k-mall", yellow.code_url) == \
            ("yellow", "hold", "wait_staff", "cache")
        assert (await verdict_at("k-mall", tested.code_url))[:3] == ("green", "open", "pass")
        assert (await verdict_at("k-mall", untested.code_url))[:3] == \
            ("green", "hold", "test_required")
        assert (await verdict_at("k-pharmacy", untested.code_url))[:3] == \
            ("green", "open", "pass")

        # the console shows which policy each kiosk follows, as the kiosk reports it
        async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as http:
            (await http.post("/api/sign-in", json={"name": user, "password": password})
             ).raise_for_status()

            async def reported() -> dict | None:
                rows = {k["kiosk"]: k.get("policy") for k in
                        (await http.get("/api/kiosks")).json()}
                return rows if rows.get("k-pharmacy") and rows.get("k-mall") else None

            shown = await poll(reported, timeout=20)
        assert (shown["k-pharmacy"]["yellow"], shown["k-pharmacy"]["unchecked"]) == \
            ("refuse", "hold")
        assert shown["k-mall"]["test_within_h"] == 48
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        gateway.stop()
        platform.stop()
        broker.stop()
