"""Verdicts online or offline, end to end through the real broker: the status cache, a
slow or dead platform, a stale colour, the site's gate setting, and signed codes checked
on the kiosk against the trust list the gateway distributes. Never green for a person
nobody could check; nothing lost."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from firmware.kiosk.reading import Reading
from gateway import users
from provisioning import keys
from simulators import processes
from simulators.population import first_of_colour
from tests.conftest import SITE, TEST_USERS, get_json, poll

SEED = 7


def faults(platform: str, **values) -> None:
    httpx.put(platform + "/sim/faults", json=values, timeout=5).raise_for_status()


async def records_for(platform: str, kiosk: str = "kiosk-1") -> list:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(platform + "/sim/records", params={"kiosk": kiosk})).json()


async def test_a_known_colour_is_answered_from_the_cache(kiosk_factory, gateway):
    k = await kiosk_factory()
    person = first_of_colour(SEED, "yellow")
    for _ in range(3):
        k.readings.present(Reading("code", person.code_url))
    shown = await k.lights.wait_for(3)
    assert [(v.colour, v.source) for v, _ in shown] == [
        ("yellow", "platform"), ("yellow", "cache"), ("yellow", "cache")]


async def test_a_slow_platform_gives_manual_check_within_the_deadline(
    kiosk_factory, gateway_factory, platform
):
    gateway_factory(lookup_deadline_s=0.3)
    k = await kiosk_factory(verdict_timeout_s=2.0)
    faults(platform, delay_ms=3000)
    started = time.monotonic()
    k.readings.present(Reading("code", first_of_colour(SEED, "green").code_url))
    (verdict, look), = await k.lights.wait_for(1)
    elapsed = time.monotonic() - started
    assert (verdict.colour, verdict.action, verdict.prompt) == ("unknown", "hold", "manual_check")
    assert verdict.source == "platform", "the gateway answered, within its deadline"
    assert look.light == "amber" and not look.gate
    assert elapsed < 2.0, "well before the kiosk's own timeout"
    faults(platform)
    await poll(lambda: records_for(platform), timeout=15)  # and the record still goes up


async def test_a_dead_platform_loses_nothing(tmp_path, broker, kiosk_factory):
    proc, url = processes.start_platform(tmp_path, port=processes.free_port())
    cfg = processes.gateway_config(tmp_path, SITE, broker.port, url, lookup_deadline_s=0.3)
    gw, _ = processes.start_gateway(tmp_path, cfg)
    try:
        k = await kiosk_factory()
        port = int(url.rsplit(":", 1)[1])
        proc.kill()
        people = [first_of_colour(SEED, c) for c in ("green", "red")]
        for person in people:
            k.readings.present(Reading("code", person.code_url))
        shown = await k.lights.wait_for(2)
        assert all(v.action == "hold" and v.colour == "unknown" for v, _ in shown)
        assert all(look.light != "green" for _, look in shown)
        proc, _ = processes.start_platform(tmp_path, port=port)
        rows = await poll(lambda: _two(records_for(url)), timeout=30)
        assert sorted(r[0] for r in rows) == sorted(v.event_id for v, _ in shown)
    finally:
        gw.stop()
        proc.stop()


async def _two(rows):
    rows = await rows
    return rows if len(rows) >= 2 else None


async def test_a_stale_colour_is_never_shown_as_fresh(kiosk_factory, gateway_factory, platform):
    gateway_factory(cache_ttl_s={"green": 0.2, "yellow": 0.2, "red": 0.2})
    k = await kiosk_factory()
    person = first_of_colour(SEED, "green")
    k.readings.present(Reading("code", person.code_url))
    await k.lights.wait_for(1)
    time.sleep(0.3)  # past the green's time-to-live
    faults(platform, fail_status=True)
    k.readings.present(Reading("code", person.code_url))
    fresh, stale = await k.lights.wait_for(2)
    assert (fresh[0].colour, fresh[0].action, fresh[1].light) == ("green", "open", "green")
    verdict, look = stale
    assert (verdict.colour, verdict.source, verdict.action, verdict.prompt) == (
        "green", "stale", "hold", "stale_status")
    assert (look.light, look.pattern, look.gate) == ("amber", "blink", False)
    assert look != fresh[1]


async def test_fail_open_site_opens_the_gate_but_never_shows_green(kiosk_factory, broker):
    k = await kiosk_factory(verdict_timeout_s=0.3, gate_unchecked="open", seq_sync_s=0)
    k.readings.present(Reading("code", first_of_colour(SEED, "green").code_url))
    (verdict, look), = await k.lights.wait_for(1)
    assert (verdict.colour, verdict.action, verdict.source) == ("unknown", "open", "timeout")
    assert (look.light, look.gate) == ("amber", True)


@pytest.fixture
def trust(tmp_path):
    root = keys.new_private_key()
    issuer = keys.new_issuer()
    (tmp_path / "root.pem").write_bytes(keys.public_pem(root))
    (tmp_path / "trust.cose").write_bytes(keys.sign_trust_list(root, SITE, 1, [issuer]))
    return tmp_path / "root.pem", tmp_path / "trust.cose", issuer, keys.new_issuer()


async def test_signed_codes_are_decided_on_the_kiosk(
    tmp_path, trust, broker, platform, kiosk_factory
):
    root_pem, trust_file, issuer, stranger = trust
    cfg = processes.gateway_config(tmp_path, SITE, broker.port, platform)
    cfg["trust"] = {"list_file": str(trust_file)}
    name, password = TEST_USERS["manager"]
    users.add_user(Path(cfg["db_path"]), name, "manager", password)
    gw, gateway_url = processes.start_gateway(tmp_path, cfg)
    try:
        k = await kiosk_factory(trust={"root_keys": str(root_pem)})
        await poll(lambda: k.kiosk.lists.trust.current is not None)  # the retained list came
        good = keys.sign_code(issuer)
        forged = keys.sign_code(stranger)
        expired = keys.sign_code(issuer, iat=time.time() - 40 * 86400, exp=time.time() - 86400)
        for text in (good, forged, expired):
            k.readings.present(Reading("signed_code", text))
        shown = await k.lights.wait_for(3)
        assert [(v.colour, v.action, v.source) for v, _ in shown] == [
            ("green", "open", "kiosk"), ("unknown", "hold", "kiosk"), ("unknown", "hold", "kiosk")]
        rows = await poll(lambda: _n(records_for(platform), 3), timeout=15)
        assert sorted(r[0] for r in rows) == sorted(v.event_id for v, _ in shown)
        summary = await get_json(gateway_url + "/api/summary")
        assert summary["received"].get("scan") == 3
    finally:
        gw.stop()


async def _n(rows, n):
    rows = await rows
    return rows if len(rows) >= n else None
