"""The reader as the kiosk sees it: a card laid down gives exactly one Reading, a card
left lying gives no more, the next card is read at once, faults show up in health and
pass, and no log line at any level carries a name or an ID number."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from firmware.kiosk.health import Health
from firmware.kiosk.idcard import read_card
from firmware.kiosk.idcard.driver import Timeouts
from firmware.kiosk.idcard.source import IdCardSource, SourceSettings
from firmware.kiosk.reading import Reading
from simulators.cardholders import KINDS
from simulators.idcard_reader import ReaderSimulator

FAST = SourceSettings(
    poll_interval=0.005,
    reopen_interval=0.05,
    repeat_quiet=0.0,
    timeouts=Timeouts(status=0.5, find=0.5, select=0.5, read=0.5, read_address=0.5),
)


class Kiosk:
    """The consuming side: collects Readings and failure notices from one source."""

    def __init__(self, source: IdCardSource) -> None:
        self.source = source
        self.readings: asyncio.Queue[Reading] = asyncio.Queue()
        self.failures: list[str] = []
        source.on_read_failed = self.failures.append
        self.task: asyncio.Task[None] | None = None

    async def _consume(self) -> None:
        async for reading in self.source:
            self.readings.put_nowait(reading)

    async def next(self, timeout: float = 3.0) -> Reading:
        return await asyncio.wait_for(self.readings.get(), timeout)

    async def nothing_for(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return self.readings.empty()


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def sim(tmp_path: Path) -> ReaderSimulator:
    simulator = ReaderSimulator(tmp_path / "idcard", rf_scale=0).start()
    yield simulator
    simulator.stop()


@pytest.fixture
async def health() -> Health:
    return Health()


@pytest.fixture
async def kiosk(sim: ReaderSimulator, health: Health) -> AsyncIterator[Kiosk]:
    k = Kiosk(IdCardSource(sim.path, health, FAST))
    k.task = asyncio.create_task(k._consume())
    await until(lambda: health.snapshot().get("reader") == "ok")
    yield k
    k.task.cancel()
    await asyncio.gather(k.task, return_exceptions=True)


async def swap(sim: ReaderSimulator, index: int, kiosk: Kiosk) -> None:
    """Take the card away and lay another one down, as a hand does: the next card lands
    after the reader has noticed the first one gone (a hand needs ~0.3 s; a loaded CI box
    may need longer than a fixed sleep to poll twice)."""
    sim.remove()
    await until(lambda: not kiosk.source.card_present)
    sim.place(index)


@pytest.mark.parametrize("kind", KINDS)
async def test_each_card_type_becomes_one_reading(
    sim: ReaderSimulator, kiosk: Kiosk, kind: str
) -> None:
    holder = next(c for c in sim.cards if c.kind == kind)
    sim.place(holder)
    reading = await kiosk.next()
    assert (reading.method, reading.medium) == ("id_card", "card")
    assert reading.credential == holder.id_number
    assert reading.name == holder.display_name


@pytest.mark.parametrize("refind", ["always", "once"])
async def test_card_left_lying_is_not_reread_and_next_card_is_read_at_once(
    tmp_path: Path, refind: str
) -> None:
    with ReaderSimulator(tmp_path / "r", rf_scale=0, refind=refind) as sim:
        kiosk = Kiosk(IdCardSource(sim.path, Health(), FAST))
        task = asyncio.create_task(kiosk._consume())
        try:
            sim.place(0)
            assert (await kiosk.next()).credential == sim.cards[0].id_number
            assert await kiosk.nothing_for(0.5)
            assert sim.stats.answers["read"] == 1  # not even read again on the wire
            await swap(sim, 1, kiosk)
            assert (await kiosk.next()).credential == sim.cards[1].id_number
            await swap(sim, 0, kiosk)  # the first person again, after someone else
            assert (await kiosk.next()).credential == sim.cards[0].id_number
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_same_card_within_the_quiet_time_is_ignored(tmp_path: Path) -> None:
    with ReaderSimulator(tmp_path / "r", rf_scale=0) as sim:
        kiosk = Kiosk(
            IdCardSource(
                sim.path,
                Health(),
                SourceSettings(poll_interval=0.005, repeat_quiet=1.0, timeouts=FAST.timeouts),
            )
        )
        task = asyncio.create_task(kiosk._consume())
        try:
            sim.place(0)
            await kiosk.next()
            await swap(sim, 0, kiosk)  # lifted and laid down again at once: one check-in
            assert await kiosk.nothing_for(0.4)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_card_pulled_away_mid_read_is_reported_and_read_when_laid_again(
    sim: ReaderSimulator, kiosk: Kiosk
) -> None:
    sim.inject("remove_mid_read", "read")
    sim.place(2)
    await until(lambda: kiosk.failures == ["retry_card"])
    assert kiosk.readings.empty()
    sim.place(2)
    assert (await kiosk.next()).credential == sim.cards[2].id_number
    assert kiosk.failures == ["retry_card"]


@pytest.mark.parametrize("fault", ["noise", "bad_checksum", "truncate", "silence"])
async def test_line_faults_during_a_read_are_retried(
    sim: ReaderSimulator, kiosk: Kiosk, fault: str
) -> None:
    sim.inject(fault, "read")
    sim.place(4)
    assert (await kiosk.next()).credential == sim.cards[4].id_number
    assert kiosk.failures == []


async def test_transient_read_failure_is_retried_silently(
    sim: ReaderSimulator, kiosk: Kiosk
) -> None:
    sim.force_status("read", 0x41)
    sim.place(3)
    assert (await kiosk.next()).credential == sim.cards[3].id_number
    assert kiosk.failures == []


async def test_rejected_card_is_given_up_after_three_tries(
    sim: ReaderSimulator, kiosk: Kiosk
) -> None:
    sim.force_status("read", 0x33, count=100)  # information verification failed: forged?
    sim.place(5)
    await until(lambda: kiosk.failures == ["card_rejected"])
    assert await kiosk.nothing_for(0.3)
    assert sim.stats.answers["read"] == FAST.max_attempts  # not hammered while it lies there


async def test_unplug_and_replug_show_in_health(
    sim: ReaderSimulator, kiosk: Kiosk, health: Health
) -> None:
    sim.place(0)
    await kiosk.next()
    sim.unplug()
    await until(lambda: health.snapshot()["reader"].startswith("fault"))
    assert "unplugged" in health.snapshot()["reader"]
    assert not health.ok
    sim.plug()
    await until(lambda: health.snapshot()["reader"] == "ok")
    assert await kiosk.nothing_for(0.3)  # the card that lay there all along: no new visit
    await swap(sim, 6, kiosk)
    assert (await kiosk.next()).credential == sim.cards[6].id_number


async def test_card_swapped_while_unplugged_is_read_after_replug(
    sim: ReaderSimulator, kiosk: Kiosk, health: Health
) -> None:
    sim.place(0)
    await kiosk.next()
    sim.unplug()
    await until(lambda: health.snapshot()["reader"].startswith("fault"))
    sim.place(1)
    sim.plug()
    assert (await kiosk.next()).credential == sim.cards[1].id_number


async def test_sam_fault_shows_in_health_and_recovers(
    sim: ReaderSimulator, kiosk: Kiosk, health: Health
) -> None:
    sim.set_sam("selftest_failed")
    await until(lambda: "sam_selftest_failed" in health.snapshot()["reader"])
    sim.set_sam("ok")
    await until(lambda: health.snapshot()["reader"] == "ok")
    sim.place(1)
    assert (await kiosk.next()).credential == sim.cards[1].id_number


async def test_reader_missing_at_start_is_a_fault_until_it_appears(tmp_path: Path) -> None:
    health = Health()
    sim = ReaderSimulator(tmp_path / "late", rf_scale=0)
    kiosk = Kiosk(IdCardSource(str(tmp_path / "late"), health, FAST))
    task = asyncio.create_task(kiosk._consume())
    try:
        await until(lambda: health.snapshot().get("reader", "").startswith("fault"))
        sim.start()
        await until(lambda: health.snapshot()["reader"] == "ok")
        sim.place(7)
        assert (await kiosk.next()).credential == sim.cards[7].id_number
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sim.stop()


async def test_no_name_or_id_number_in_any_log_line(
    sim: ReaderSimulator,
    kiosk: Kiosk,
    health: Health,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    used = []
    for index in range(12):  # every card type, with faults and an unplug on the way
        if index == 3:
            sim.inject("noise", "read")
        if index == 5:
            sim.inject("remove_mid_read", "read")
            await swap(sim, index, kiosk)
            await until(lambda: "retry_card" in kiosk.failures)
        if index == 8:
            sim.unplug()
            await until(lambda: health.snapshot()["reader"] != "ok")
            sim.plug()
        await swap(sim, index, kiosk)
        reading = await kiosk.next()
        logging.getLogger("test").info("got %r", reading)  # how a careless caller would log it
        used.append(sim.cards[index])
    sim.remove()
    # the installer's CLI, default (masked) output, in the same captured run; the kiosk's
    # source holds the port exclusively, so it goes first
    assert kiosk.task is not None
    kiosk.task.cancel()
    await asyncio.gather(kiosk.task, return_exceptions=True)
    sim.remove()
    sim.place(9)
    assert await asyncio.to_thread(read_card.main, [sim.path, "--wait", "2"]) == 0
    printed = capsys.readouterr().out
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert len(caplog.records) > 20 and any(r.levelno == logging.DEBUG for r in caplog.records)
    for holder in used:
        secrets = [
            holder.id_number,
            holder.id_number[:14],
            holder.name,
            holder.english_name,
            holder.address,
        ]
        secrets += [s.encode("utf-16-le").hex() for s in (holder.id_number, holder.name) if s]
        for secret in filter(None, secrets):
            assert secret not in text, f"{holder!r}: personal data in the log"
    holder = sim.cards[9]
    assert holder.id_number not in printed and holder.display_name not in printed
