"""The daily report per unit, end to end against the real parts: the gateway's store (its
SQLite file and group-commit writer), the forwarder uploading every scan record, the
platform simulator as a process over HTTP checking each report against those records, and
a mall of 3 shops and 4 doors from a real provisioning register. The reporter's clock is
the test's (`tick(now)`), so day boundaries, deadlines and outages are crossed at will.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiosqlite
import httpx
import pytest

from firmware import schema
from firmware.verdict import Verdict
from gateway import reporter, standard2
from gateway.forwarder import Forwarder
from gateway.periods import Periods
from gateway.platform import HttpPlatform
from gateway.read_model import ReadModel
from gateway.reporter import Reporter
from gateway.store import Store
from gateway.venues import Units
from simulators import processes
from tests.conftest import poll
from tests.mall import MALL, SHOPS, door, mall_doors, register_mall, shop_doors

MINUTE = 60_000
SITE = "test-site"


class Site:
    """Store, forwarder, reporter and the platform simulator, wired as the gateway does."""

    def __init__(self, store, reads, queue, console_db, platform, forwarder, reporter, url):
        self.store, self.reads, self.queue, self.db = store, reads, queue, console_db
        self.platform, self.forwarder, self.reporter, self.url = (platform, forwarder,
                                                                  reporter, url)
        self.seq: dict[str, itertools.count] = {}
        self.scans: list[tuple[str, int]] = []  # (door, ts) of every scan stored

    async def scan(self, door_id: str, ts: int) -> None:
        kiosk = "k-" + door_id.replace("/", "-").lower()
        seq = next(self.seq.setdefault(kiosk, itertools.count(1)))
        msg = {"id": str(uuid.uuid4()), "kiosk": kiosk, "door": door_id, "seq": seq, "ts": ts,
               "method": "code", "medium": "screen", "credential": f"token-{seq}"}
        verdict = Verdict(msg["id"], "green", "open", "pass", "platform")
        assert await self.store.add_scan(msg, ts + 40, f"subject-{seq}", "…0001", None,
                                         standard2.scan_record(SITE, msg), verdict, ts + 90)
        self.forwarder.wake.set()
        self.reporter.note_scan(ts)  # what the console's event handler does on ScanStored
        self.scans.append((door_id, ts))

    async def uploaded(self) -> None:
        """Every record is at the platform (the forwarder has drained the queue)."""
        async def drained() -> bool:
            return await self.reads.upload_backlog() == 0
        await poll(drained, timeout=20)

    def at_platform(self) -> dict[tuple[str, str], dict]:
        reports = httpx.get(self.url + "/sim/daily-reports").json()
        return {(r["unit_code"], r["period"]["label"]): r for r in reports}

    def faults(self, **faults: bool) -> None:
        httpx.put(self.url + "/sim/faults", json=faults).raise_for_status()


@pytest.fixture
async def site(tmp_path, request):
    tz = ZoneInfo(getattr(request, "param", "Asia/Shanghai"))
    proc, url = processes.start_platform(tmp_path)
    path = tmp_path / "gateway.sqlite"
    store = await Store.open(path)
    reads, queue = await ReadModel.open(path), await ReadModel.open(path)
    console_db = await aiosqlite.connect(path, isolation_level=None)
    await schema.migrate_async(console_db, path, reporter.COMPONENT)
    platform = HttpPlatform(url, 0.8)
    forwarder = Forwarder(store, queue, platform, hold_s=600)
    task = asyncio.create_task(forwarder.run())
    units = Units(SITE, register_mall(tmp_path / "register.db"))
    rep = Reporter(console_db, reads.db, platform, units, Periods(tz, "16:00", 30), SITE,
                   retry_s=1)
    try:
        yield Site(store, reads, queue, console_db, platform, forwarder, rep, url)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await platform.close()
        await console_db.close()
        await queue.close()
        await reads.close()
        await store.close()
        proc.stop()


def local(tz: ZoneInfo, day: date, hh: int, mm: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz).timestamp() * 1000)


# Days on which Berlin and New York leave summer time: the local day is 25 hours long.
ZONES = [("Asia/Shanghai", date(2026, 11, 24)), ("Europe/Berlin", date(2026, 10, 25)),
         ("America/New_York", date(2026, 11, 1))]


@pytest.mark.parametrize(("site", "day"), ZONES, indirect=["site"])
async def test_scans_before_during_and_after_a_send_are_each_reported_once(site, day):
    r = site.reporter
    periods = r.periods
    tz = periods.tz
    p = periods.period(day)
    await r.tick(p.start_ms + 60 * MINUTE)  # the gateway runs while period `day` is open

    # Before the cut-off: at the mall's doors and in the shops, up to the last millisecond.
    for d, ts in [(door(MALL, "E1"), p.start_ms), (door(MALL, "W1"), p.start_ms + 3 * MINUTE),
                  (door(SHOPS[0]), local(tz, day, 2, 30)), (door(SHOPS[1]), p.end_ms - 1),
                  (door(MALL, "E1"), p.end_ms - 1)]:
        await site.scan(d, ts)
    await site.uploaded()
    sent_at = p.end_ms + MINUTE

    # During the send: a visitor scans at the mall's north door as the reports go out.
    # (A round that finds the forwarder behind waits for it; the next round sends.)
    await asyncio.gather(r.tick(sent_at), site.scan(door(MALL, "N1"), sent_at))
    await site.uploaded()
    await r.tick(sent_at + 1000)
    first = site.at_platform()
    assert first[(MALL, day.isoformat())]["total"] == 5
    assert first[(MALL, day.isoformat())]["status"] == "confirmed"
    assert first[(MALL, day.isoformat())]["late"] is False

    # After the send: a kiosk that was offline replays a scan from before the cut-off (a
    # correction), and the next day's visitors come, the first exactly at the cut-off.
    await site.scan(door(SHOPS[2]), p.end_ms - 5 * MINUTE)
    for d, ts in [(door(MALL, "S1"), p.end_ms), (door(SHOPS[2]), p.end_ms + 2 * MINUTE),
                  (door(MALL, "E1"), local(tz, day + timedelta(days=1), 9))]:
        await site.scan(d, ts)
    await site.uploaded()
    await r.tick(sent_at + 5 * MINUTE)
    nxt = periods.period(day + timedelta(days=1))
    await r.tick(nxt.end_ms + MINUTE)

    reports = site.at_platform()
    mall_reports = [reports[(MALL, d.isoformat())] for d in (day, nxt.day)]
    # the periods tile: the next one starts where this one ends, both stated in the report
    assert mall_reports[0]["period"]["to_ms"] == mall_reports[1]["period"]["from_ms"] == p.end_ms
    assert mall_reports[0]["period"]["to"].startswith(
        datetime.fromtimestamp(p.end_ms / 1000, tz).isoformat()[:16])
    # every scan in exactly one period's report, counted once
    for rep in mall_reports:
        start, end = rep["period"]["from_ms"], rep["period"]["to_ms"]
        assert rep["total"] == sum(1 for _d, ts in site.scans if start <= ts < end)
    assert sum(rep["total"] for rep in mall_reports) == len(site.scans) == 10
    assert all(rep["status"] == "confirmed" for rep in reports.values())
    # the replayed scan corrected the period: the third shop's and the mall's reports were
    # replaced (revision 2), not added; the other shops were not sent again
    assert (reports[(MALL, day.isoformat())]["revision"],
            reports[(MALL, day.isoformat())]["deliveries"]) == (2, 2)
    assert reports[(SHOPS[2], day.isoformat())]["revision"] == 2
    assert reports[(SHOPS[0], day.isoformat())]["deliveries"] == 1
    assert len([k for k in reports if k[1] == day.isoformat()]) == 4  # one per unit


@pytest.mark.parametrize("site", ["Asia/Shanghai"], indirect=True)
async def test_a_mall_of_three_shops_and_four_doors_rolls_up(site):
    r = site.reporter
    day = date(2026, 11, 24)
    p = r.periods.period(day)
    await r.tick(p.start_ms)
    for n, d in enumerate(mall_doors() + shop_doors()):
        for k in range(n + 1):  # 1, 2, 3, 4 at the mall's doors; 5, 6, 7 in the shops
            await site.scan(d, p.start_ms + (n * 10 + k) * MINUTE)
    await site.uploaded()
    await r.tick(p.end_ms + MINUTE)

    reports = site.at_platform()
    mall = reports[(MALL, day.isoformat())]
    assert mall["total"] == 1 + 2 + 3 + 4 + 5 + 6 + 7
    assert {d["door"]: d["scans"] for d in mall["doors"]} == {
        d: n + 1 for n, d in enumerate(mall_doors() + shop_doors())}
    assert {d["door"]: d["unit_code"] for d in mall["doors"]}[door(SHOPS[1])] == SHOPS[1]
    assert [(u["unit_code"], u["scans"]) for u in mall["units"]] == list(
        zip(SHOPS, (5, 6, 7), strict=True))
    shop = reports[(SHOPS[2], day.isoformat())]
    assert (shop["total"], shop["parent_code"], shop["identifier_type"]) == (
        7, MALL, f"parent:{MALL}")
    assert all(rep["status"] == "confirmed" for rep in reports.values())

    view = await r.view(day, p.end_ms + 2 * MINUTE)
    rows = {u["unit"]: u for u in view["units"]}
    assert rows[MALL]["scans"] == 28 and rows[MALL]["own_scans"] == 10
    assert view["states"] == {"confirmed": 4}

    # Kept as long as the scans are (retention: 28 days), then forgotten with them.
    await r.tick(p.end_ms + 30 * 86_400_000)
    assert day.isoformat() not in {a["day"] for a in await r.attempts(1000)}
    assert (day + timedelta(days=29)).isoformat() in {a["day"] for a in await r.attempts(1000)}


@pytest.mark.parametrize("site", ["Asia/Shanghai"], indirect=True)
async def test_a_day_missed_while_the_platform_was_down_goes_out_late(site):
    r = site.reporter
    periods = r.periods
    day = date(2026, 11, 24)
    p = periods.period(day)
    await r.tick(p.start_ms)
    await site.scan(door(MALL, "E1"), p.start_ms + 10 * MINUTE)
    await site.scan(door(SHOPS[0]), p.start_ms + 20 * MINUTE)
    await site.uploaded()
    site.faults(fail_uploads=True)

    await r.tick(p.end_ms + MINUTE)
    await r.tick(p.deadline_ms - MINUTE)
    view = await r.view(day, p.deadline_ms - MINUTE)
    assert view["states"] == {"pending": 4}
    assert {u["last_error"] for u in view["units"]} == {"HTTP 503"}
    assert site.at_platform() == {}

    # The platform comes back the next morning: the day goes out late and says so.
    site.faults(fail_uploads=False)
    back = local(periods.tz, day + timedelta(days=1), 9)
    await r.tick(back)
    reports = site.at_platform()
    mall = reports[(MALL, day.isoformat())]
    assert (mall["late"], mall["total"], mall["status"]) == (True, 2, "confirmed")
    view = await r.view(day, back)
    assert view["states"] == {"late": 4}

    # A gateway off for a whole day reports that day too, late, when it is back.
    later = periods.period(day + timedelta(days=2))
    await site.scan(door(SHOPS[1]), later.start_ms + MINUTE)
    await site.uploaded()
    await r.tick(later.deadline_ms + 60 * MINUTE)
    reports = site.at_platform()
    assert reports[(MALL, (day + timedelta(days=1)).isoformat())]["late"] is True
    assert reports[(MALL, later.day.isoformat())]["total"] == 1
    assert reports[(MALL, later.day.isoformat())]["late"] is True
    attempts = await r.attempts()
    assert [(a["day"], a["ok"]) for a in reversed(attempts)] == [
        (day.isoformat(), False), (day.isoformat(), False), (day.isoformat(), True),
        ((day + timedelta(days=1)).isoformat(), True), (later.day.isoformat(), True)]


@pytest.mark.parametrize("site", ["Asia/Shanghai"], indirect=True)
async def test_the_platform_names_a_report_that_does_not_match_its_records(site):
    r = site.reporter
    day = date(2026, 11, 24)
    p = r.periods.period(day)
    await r.tick(p.start_ms)
    await site.scan(door(MALL, "E1"), p.start_ms + MINUTE)
    await site.uploaded()
    # A record the platform received from elsewhere for this mall's west door: the
    # gateway's report says 0 there, the platform counts 1.
    record = {"key": "elsewhere-1", "site": "x", "kiosk": "other", "door": door(MALL, "W1"),
              "seq": 1, "ts": p.start_ms + 2 * MINUTE, "method": "code", "credential": "t"}
    httpx.post(site.url + "/api/v1/records", json={"records": [record]}).raise_for_status()
    await r.tick(p.end_ms + MINUTE)

    mall = site.at_platform()[(MALL, day.isoformat())]
    assert mall["status"] == "mismatched"
    assert mall["difference"]["doors"] == {door(MALL, "W1"): {"reported": 0, "platform": 1}}
    view = await r.view(day, p.end_ms + MINUTE)
    rows = {u["unit"]: u for u in view["units"]}
    assert rows[MALL]["state"] == "mismatched"
    assert rows[MALL]["difference"]["total"] == {"reported": 1, "platform": 2}
    assert rows[SHOPS[0]]["state"] == "confirmed"


@pytest.mark.parametrize("site", ["Asia/Shanghai"], indirect=True)
async def test_a_mismatch_from_records_still_on_their_way_is_checked_again(site):
    r = site.reporter
    day = date(2026, 11, 24)
    p = r.periods.period(day)
    await r.tick(p.start_ms)
    site.faults(fail_records=True)  # the platform takes reports but not scan records
    await site.scan(door(MALL, "E1"), p.start_ms + MINUTE)
    await r.tick(p.end_ms + MINUTE)  # waits for the forwarder ...
    assert site.at_platform() == {}
    await r.tick(p.deadline_ms - 5 * MINUTE)  # ... but not up to the deadline
    assert site.at_platform()[(MALL, day.isoformat())]["status"] == "mismatched"
    await r.tick(p.deadline_ms - 4 * MINUTE)  # the record is still not there: no resend
    assert site.at_platform()[(MALL, day.isoformat())]["deliveries"] == 1

    site.faults(fail_records=False)
    await site.uploaded()
    await r.tick(p.deadline_ms - 3 * MINUTE)
    mall = site.at_platform()[(MALL, day.isoformat())]
    assert (mall["status"], mall["deliveries"], mall["revision"]) == ("confirmed", 2, 1)
    view = await r.view(day, p.deadline_ms - 3 * MINUTE)
    assert view["states"] == {"confirmed": 4}
    assert (await r.attempts())[0]["trigger"] == "recheck"
