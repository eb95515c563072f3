"""A green, a yellow and a red person at a kiosk, through the real broker, gateway and
platform simulator: each gets the right verdict and signal, and the platform receives
each scan record exactly once."""

from __future__ import annotations

from firmware.kiosk.reading import Reading
from simulators.population import first_of_colour
from tests.conftest import get_json, poll

SEED = 7  # the platform simulator's default population seed


async def test_three_colours_get_their_verdicts_and_signals(kiosk_factory, gateway, platform):
    k = await kiosk_factory()
    people = {c: first_of_colour(SEED, c) for c in ("green", "yellow", "red")}
    k.readings.present(Reading("code", people["green"].code_url, medium="screen"))
    k.readings.present(Reading("id_card", people["yellow"].id_number, medium="card",
                               name=people["yellow"].name))
    k.readings.present(Reading("code", people["red"].code_url, medium="paper"))

    shown = await k.lights.wait_for(3, timeout=10)

    assert [(v.colour, v.action, v.source) for v, _ in shown] == [
        ("green", "open", "platform"),
        ("yellow", "hold", "platform"),
        ("red", "refuse", "platform"),
    ]
    assert [(look.light, look.gate) for _, look in shown] == [
        ("green", True), ("amber", False), ("red", False),
    ]
    event_ids = [v.event_id for v, _ in shown]
    assert event_ids == sorted(event_ids), "event ids sort by time of scan"

    async def uploaded():
        rows = await get_json(platform + "/sim/records?kiosk=kiosk-1")
        return rows if len(rows) >= 3 else None

    rows = await poll(uploaded)
    assert sorted(r[0] for r in rows) == sorted(event_ids)
    assert [r[2] for r in rows] == [1, 2, 3], "sequence numbers 1..3 in order"
    assert all(r[3] == 1 for r in rows), "each record delivered to the platform exactly once"

    # The outbox is empty once the gateway has confirmed every scan (its ack may reach the
    # kiosk after the record reaches the platform).
    async def outbox_empty() -> bool:
        return (await k.kiosk.outbox.backlog())[0] == 0

    await poll(outbox_empty, 5)
    entries = await get_json(gateway + "/api/entries")
    assert {e["id"]: e["colour"] for e in entries} == {
        event_ids[0]: "green", event_ids[1]: "yellow", event_ids[2]: "red"
    }
    # The console holds only masked personal data.
    yellow = next(e for e in entries if e["colour"] == "yellow")
    assert people["yellow"].id_number not in str(entries)
    assert yellow["masked"].startswith(people["yellow"].id_number[:3])
    assert yellow["masked"].endswith(people["yellow"].id_number[-4:])


async def test_unknown_person_is_held_for_manual_check_never_green(kiosk_factory, gateway):
    k = await kiosk_factory()
    k.readings.present(Reading("code", "https://hc.henan.example/yk/v1?t=" + "Z" * 32))
    (verdict, look), = await k.lights.wait_for(1)
    assert (verdict.colour, verdict.action, verdict.prompt) == ("unknown", "hold", "manual_check")
    assert look.light == "amber" and not look.gate


async def test_no_gateway_gives_manual_check_and_the_scan_is_kept(
    kiosk_factory, broker, gateway_factory, platform
):
    k = await kiosk_factory(verdict_timeout_s=0.5, resend_after_s=1.0, seq_sync_s=0.5)
    person = first_of_colour(SEED, "green")
    k.readings.present(Reading("code", person.code_url))
    (verdict, look), = await k.lights.wait_for(1)
    assert (verdict.action, verdict.source, look.light, look.gate) == (
        "hold", "timeout", "amber", False)
    assert (await k.kiosk.outbox.backlog())[0] == 1, "the unanswered scan stays queued"

    gateway_factory()  # the gateway comes up: the queued scan is delivered and confirmed

    async def delivered():
        return (await k.kiosk.outbox.backlog())[0] == 0

    await poll(delivered)
    rows = await poll(lambda: get_json(platform + "/sim/records"))
    assert [r[0] for r in rows] == [verdict.event_id]
