"""一码一守 at the gateway, part by part: the roster, the alerts table's upgrade, escalation
through the notifier simulator (a real HTTP server) with retries, the SMS gateway, and
the kiosk's side of a gate command."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import aiosqlite
import httpx
import pytest

from firmware import protocol, schema
from firmware.kiosk.reading import Reading
from firmware.kiosk.staff_desk import StaffCards, StaffDesk
from gateway import alerts, audit, duty
from gateway.alerts import Alerts
from gateway.config import NotifierConfig
from gateway.escalation import Escalation
from gateway.notify import Notice, NotifyError, SmsNotifier, WebhookNotifier
from simulators import processes
from simulators.lights import SimulatedLights
from tests import schema_v1
from tests.conftest import poll

SECRET = "manager-webhook-secret-0123"


@pytest.fixture
def notifier(tmp_path: Path):
    proc, url = processes.start_notifier(tmp_path, SECRET)
    yield url
    proc.stop()


async def console_db(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    await schema.migrate_async(db, path, alerts.COMPONENT, audit.COMPONENT, duty.COMPONENT)
    return db


async def received(url: str) -> list[dict]:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(url + "/received")).json()


def test_open_alerts_of_the_previous_release_survive_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(schema_v1.CONSOLE_ALERTS)
    conn.execute("INSERT INTO console_alerts (key, kind, door, ts, colour, action, raised_ms) "
                 "VALUES ('e-1', 'entry', 'east-gate', 1, 'red', 'refuse', 2)")
    conn.commit()
    conn.close()
    schema.migrate_file(path, alerts.COMPONENT)
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT key, colour, acked_ms, assignee, escalated_ms, gate "
                       "FROM console_alerts").fetchone()
    version = conn.execute("SELECT version, compat FROM schema_versions "
                           "WHERE component='console_alerts'").fetchone()
    conn.close()
    assert row == ("e-1", "red", None, None, None, None)
    assert version == (2, 1), "additive: the previous release still runs on the file"


async def test_roster_one_door_at_a_time_and_unattended_stretches(tmp_path: Path) -> None:
    db = await console_db(tmp_path / "gateway.sqlite")
    roster = duty.Roster(db)
    try:
        assert await roster.unattended_since("east-gate") == 0
        first, left = await roster.sign_on("wang", "east-gate", "console")
        assert left is None and await roster.unattended_since("east-gate") is None
        again, left = await roster.sign_on("wang", "east-gate", "console")
        assert again["n"] == first["n"] and left is None, "signing on twice changes nothing"
        moved, left = await roster.sign_on("wang", "west-gate", "card:kiosk-2")
        assert left is not None and left["door"] == "east-gate"
        assert left["off_via"] == "card:kiosk-2"
        since = await roster.unattended_since("east-gate")
        assert since == left["off_ms"], "a new unattended stretch, keyed by when it began"
        assert [r["user"] for r in await roster.on_duty("west-gate")] == ["wang"]
        assert (await roster.sign_off("wang", "console"))["door"] == "west-gate"
        assert await roster.sign_off("wang", "console") is None
    finally:
        await db.close()


async def test_escalation_retries_until_the_webhook_takes_it(tmp_path: Path, notifier) -> None:
    db = await console_db(tmp_path / "gateway.sqlite")
    published: list[tuple[str, dict]] = []
    log = audit.AuditLog(db)

    async def on_duty(_door: str) -> list[str]:
        return ["wang"]

    box = Alerts(db, lambda kind, data: published.append((kind, data)), on_duty)
    hook = WebhookNotifier(NotifierConfig(url=notifier + "/hook", secret=SECRET))
    try:
        await box.on_entry({"id": protocol.EventIds().new(), "kiosk": "kiosk-1",
                            "door": "east-gate", "ts": 1, "colour": "red", "action": "refuse",
                            "masked": "410***********1234"})
        await box.on_entry({"id": protocol.EventIds().new(), "kiosk": "kiosk-1",
                            "door": "east-gate", "ts": 2, "colour": "yellow", "action": "hold"})
        first, second = sorted(a["n"] for a in await box.list(open_only=True))
        assert (await box.get(first))["assignee"] == "wang"
        await box.acknowledge(second, "wang", "turned_away", "")  # handled: never escalated
        async with httpx.AsyncClient() as http:
            await http.post(notifier + "/sim/fail", params={"n": 2})
        escalation = Escalation("site-1", box, hook, 0, log.record)
        await escalation.round()
        assert (await box.get(first))["escalation_error"] == "HTTP 503"
        assert (await box.get(first))["escalated_ms"] is None

        async def delivered() -> bool:
            await escalation.round()
            return (await box.get(first))["escalated_ms"] is not None

        await poll(delivered, timeout=15, interval=0.2)
        await escalation.round()  # once delivered, never again
        notices = await received(notifier)
        assert [n["body"]["alert"] for n in notices] == [first]
        body = notices[0]["body"]
        assert (body["door"], body["colour"], body["on_duty"]) == ("east-gate", "red", "wang")
        assert "410" not in str(body), "no visitor identity, not even masked"
        assert "红码" in body["text"] and "red code" in body["text"]
        escalated = [r for r in await log.latest() if r["action"] == "escalate_alert"]
        assert [(r["user"], r["detail"]["alert"]) for r in escalated] == [("system", first)]
        assert ("escalated", {"n": first, "escalated_ms": (await box.get(first))["escalated_ms"],
                              "escalated_to": "webhook"}) in published
    finally:
        await hook.close()
        await db.close()


async def test_sms_gateway_and_a_wrong_webhook_secret(notifier) -> None:
    notice = Notice("site-1:alert:7", "site-1", 7, "door_unattended", "east-gate", None,
                    int(time.time() * 1000), 130, None, "【场所码 site-1】east-gate：入口无人值守")
    sms = SmsNotifier(NotifierConfig(kind="sms", url=notifier + "/sms", to=("13800000000",)))
    wrong = WebhookNotifier(NotifierConfig(url=notifier + "/hook", secret="not-the-secret-12345"))
    try:
        await sms.send(notice)
        await sms.send(notice)  # a retry of the same notice is not kept twice
        with pytest.raises(NotifyError, match="HTTP 401"):
            await wrong.send(notice)
    finally:
        await sms.close()
        await wrong.close()
    (got,) = await received(notifier)
    assert got["channel"] == "sms" and got["body"]["to"] == ["13800000000"]
    assert got["body"]["text"].startswith("【场所码 site-1】")
    with pytest.raises(ValueError, match="to"):
        NotifierConfig(kind="sms", url=notifier + "/sms")


async def test_kiosk_obeys_a_gate_command_once_for_its_door_while_fresh(tmp_path: Path) -> None:
    lights = SimulatedLights()
    sent: list[tuple[str, dict]] = []
    now = [1_000_000]

    async def publish(kind: str, msg: dict) -> None:
        protocol.validate(kind, msg)
        sent.append((kind, msg))

    desk = StaffDesk("kiosk-1", "east-gate", StaffCards(tmp_path / "staff.json"), lights,
                     publish, lambda: now[0])
    ids = protocol.EventIds()
    command = protocol.gate(ids.new(), "kiosk-1", "east-gate", 1500, "manual_check_passed",
                            now[0])
    assert await desk.gate(command) is None
    assert await desk.gate(command) == "repeated"
    other = protocol.gate(ids.new(), "kiosk-1", "west-gate", 1500, "emergency", now[0])
    assert await desk.gate(other) == "wrong_door"
    old = protocol.gate(ids.new(), "kiosk-1", "east-gate", 1500, "emergency",
                        now[0] - protocol.GATE_FRESH_MS - 1)
    assert await desk.gate(old) == "stale"
    assert lights.gate_openings == [1500], "one opening, for the one good command"
    assert [(m["ok"], m.get("refused")) for _, m in sent] == [
        (True, None), (False, "repeated"), (False, "wrong_door"), (False, "stale")]
    with pytest.raises(protocol.ProtocolError):
        protocol.validate(protocol.GATE, dict(command, ms=60_000))  # past the board's ceiling


def test_staff_cards_recognise_a_card_only_by_its_hash(tmp_path: Path) -> None:
    salt = duty.card_salt("demo-key-change-me-0123456789")
    number = "11010519491231002X"
    cards = StaffCards(tmp_path / "staff.json")
    assert cards.card_of(Reading("id_card", number)) is None, "no list yet"
    payload = protocol.staff_list(salt, [duty.card_hash(salt, number)], 1)
    assert cards.offer(json.dumps(payload).encode())
    assert cards.card_of(Reading("id_card", number.lower())) == duty.card_hash(salt, number)
    assert cards.card_of(Reading("id_card", "110105194912310021")) is None
    assert cards.card_of(Reading("code", number)) is None, "only an ID card is a staff card"
    assert not cards.offer(b'{"v": 1, "salt": "short", "cards": []}')
    again = StaffCards(tmp_path / "staff.json")  # a restarted kiosk knows the list
    assert again.card_of(Reading("id_card", number)) is not None
    assert number not in (tmp_path / "staff.json").read_text()


async def test_a_staff_tap_without_the_gateway_says_so_and_records_nothing(tmp_path: Path):
    lights = SimulatedLights()
    sent: list[tuple[str, dict]] = []

    async def publish(kind: str, msg: dict) -> None:
        sent.append((kind, protocol.validate(kind, msg)))  # out, but no answer comes back

    desk = StaffDesk("kiosk-1", "east-gate", StaffCards(tmp_path / "staff.json"), lights,
                     publish, lambda: 1_000_000, answer_s=0.2)
    assert await desk.tap("ab" * 16) is None
    assert lights.prompts == ["duty_no_answer"] and lights.shown == []
    assert [kind for kind, _ in sent] == [protocol.STAFF]
    assert sent[0][1]["card"] == "ab" * 16 and "credential" not in sent[0][1]
