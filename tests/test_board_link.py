"""The kiosk's board driver against the real firmware logic on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from firmware import board_link as link
from firmware.kiosk.board import BoardError, BoardLink, DoorCount, DoorEventStore
from firmware.kiosk.health import Health
from simulators.board import BoardSimulator

TIMEOUT_MS = 1000


def now_ms() -> int:
    return int(time.monotonic() * 1000)


def seen(sim: BoardSimulator, name: str, value: object, since_ms: int) -> bool:
    """The output took `value` at some point since `since_ms` (not just right now)."""
    return value in [v for _, v in sim.changes(name, since_ms)]


async def until(predicate, timeout: float = 3.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def sim() -> Iterator[BoardSimulator]:
    with BoardSimulator({"heartbeat_timeout_ms": TIMEOUT_MS}) as board:
        yield board


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "board-events.sqlite"


@pytest.fixture
async def kiosk(sim: BoardSimulator, store_path: Path) -> AsyncIterator[BoardLink]:
    board = BoardLink(sim.path, DoorEventStore(store_path), Health())
    await board.start()
    yield board
    await board.close()
    board.store.close()


async def test_verdict_reaches_the_door_over_the_serial_port(sim, kiosk) -> None:
    start = now_ms()
    await kiosk.show("green", "steady", "pass", 800)
    await kiosk.open_gate(600)
    await until(lambda: seen(sim, "relay", True, start) and seen(sim, "light", "green", start),
                what="green+gate")
    await asyncio.sleep(1.0)
    relay = sim.changes("relay", start)
    assert [v for _, v in relay] == [True, False]
    assert 550 <= relay[1][0] - relay[0][0] <= 700
    assert sim.state()["light"] == "off"
    assert 2400 in [v for _, v in sim.changes("buzzer", start)]
    assert kiosk.health.snapshot()["board"] == "ok"


async def test_board_restart_mid_command_is_detected_and_command_resent(sim, kiosk) -> None:
    start = now_ms()
    await kiosk.show("green", "steady", "pass", 2500)
    await kiosk.open_gate(2000)
    await asyncio.sleep(0.5)
    old_boot = sim.state()["boot"]
    restarted_at = now_ms()
    sim.restart("watchdog")
    assert sim.state()["relay"] is False  # a reset drops the relay
    await until(lambda: kiosk.counters["resent_after_restart"] == 2, what="re-send")
    await until(lambda: sim.state()["relay"] and sim.state()["light"] == "green", what="re-shown")
    assert sim.state()["boot"] != old_boot
    assert kiosk.counters["board_restarts"] == 1
    back = [t for t, v in sim.changes("relay", restarted_at) if v]
    assert back and back[0] - restarted_at < 1000
    # the re-sent gate keeps the original deadline: never energised past 2000 ms from start
    await asyncio.sleep(2.0)
    relay_off = [t for t, v in sim.changes("relay", start) if not v]
    assert relay_off[-1] - start <= 2000 + 100
    assert sim.state()["relay"] is False and sim.state()["light"] == "off"


async def test_board_reset_that_takes_the_usb_port_with_it(tmp_path, store_path) -> None:
    link_path = tmp_path / "ttyACM-board"
    with BoardSimulator({"heartbeat_timeout_ms": TIMEOUT_MS}, str(link_path)) as sim:
        board = BoardLink(str(link_path), DoorEventStore(store_path))
        await board.start()
        start = now_ms()
        await board.show("green", "steady", "pass", 3000)
        await board.open_gate(2500)
        await asyncio.sleep(0.3)
        sim.restart("watchdog", replug=True)  # port gone for 100 ms, new pty behind the link
        await until(lambda: board.counters["resent_after_restart"] == 2, what="re-send")
        await until(lambda: sim.state()["relay"] and sim.state()["light"] == "green",
                    what="re-shown after replug")
        assert board.counters["board_restarts"] == 1
        assert board.health.snapshot()["board"] == "ok"
        await asyncio.sleep(2.6)
        relay_off = [t for t, v in sim.changes("relay", start) if not v]
        assert relay_off[-1] - start <= 2500 + 100
        await board.close()
        board.store.close()


async def test_board_restart_with_its_hello_lost_is_still_detected(sim, kiosk) -> None:
    await kiosk.show("red", "blink", "deny", 3000)
    await asyncio.sleep(0.2)
    restarted_at = now_ms()
    sim.restart("watchdog", lose_hello=True)
    # the next heartbeat meets a board without a session; it introduces itself
    await until(lambda: kiosk.counters["board_restarts"] == 1, what="restart seen")
    await until(lambda: sim.state()["light"] == "red", what="look re-sent")
    assert now_ms() - restarted_at < 1500
    assert not sim.state()["failsafe"]


async def test_lost_heartbeat_gives_safe_state_then_recovers(sim, store_path) -> None:
    board = BoardLink(sim.path, DoorEventStore(store_path))
    await board.start()
    await board.open_gate(5000)
    await until(lambda: sim.state()["relay"], what="gate open")
    await board.close()  # the Pi hangs
    silent_from = now_ms()
    await until(lambda: sim.state()["failsafe"], timeout=TIMEOUT_MS / 1000 + 1, what="fail-safe")
    amber_at = next(t for t, v in sim.changes("light", silent_from) if v == "amber")
    assert amber_at - silent_from <= TIMEOUT_MS + 150
    assert sim.state()["relay"] is False  # locked, though the gate command had time left
    await asyncio.sleep(1.2)
    lights = [v for _, v in sim.changes("light", silent_from)]
    assert lights[:2] == ["amber", "off"]
    again = BoardLink(sim.path, DoorEventStore(store_path))
    await again.start()
    await until(lambda: not sim.state()["failsafe"], what="recovery")
    assert sim.state()["light"] == "off"
    await again.close()


async def test_garbled_and_replayed_frames_rejected_and_counted(sim, kiosk) -> None:
    # kiosk -> board: a flipped bit and a replay of an accepted gate command
    _, data = kiosk.session.frame(link.GATE, 300)
    garbled = bytearray(data)
    garbled[-3] ^= 0x01
    before = dict(sim.state()["counters"])
    start = now_ms()
    kiosk._write(bytes(garbled))
    kiosk._write(data)
    await until(lambda: seen(sim, "relay", True, start), what="good gate")
    await asyncio.sleep(0.5)
    opened = len(sim.changes("relay"))
    kiosk._write(data)  # replayed later
    await asyncio.sleep(0.3)
    after = sim.state()["counters"]
    assert after["garbled"] == before["garbled"] + 1
    assert after["replay"] == before["replay"] + 1
    assert len(sim.changes("relay")) == opened
    # board -> kiosk: noise on the line and a replayed door event
    sim.walk("in")
    await until(lambda: kiosk.store.counts()["in"] == 1, what="count")
    event = link.encode(link.PASSED, sim.state()["boot"], 1, link.pack(link.PASSED, 2, 1, 5))
    os.write(sim.pins.master, b"\xa5\x5a\x07noise" + event)
    await asyncio.sleep(0.3)
    assert kiosk.counters["garbled"] >= 1
    assert kiosk.counters["replay"] >= 1
    assert kiosk.store.counts()["in"] == 1


class AckLosingLink(BoardLink):
    """A kiosk whose acknowledgements never reach the board (stored, then crashed)."""

    def _send_ack(self, seq: int) -> None:
        pass


async def test_counts_survive_kiosk_restart_without_double_counting(sim, store_path) -> None:
    first = AckLosingLink(sim.path, DoorEventStore(store_path))
    await first.start()
    seen: list[DoorCount] = []

    async def consume(board: BoardLink) -> None:
        async for count in board.door_counts():
            seen.append(count)

    consumer = asyncio.create_task(consume(first))
    sim.walk("in")
    sim.walk("in")
    sim.walk("out")
    await until(lambda: len(seen) == 3, what="three counts")
    await asyncio.sleep(0.5)  # the board keeps re-sending: no ack came back
    assert sim.board.pending_events >= 3
    assert first.store.counts() == {"in": 2, "out": 1}
    consumer.cancel()
    await first.close()
    first.store.close()

    second = BoardLink(sim.path, DoorEventStore(store_path))
    await second.start()
    consumer = asyncio.create_task(consume(second))
    await until(lambda: sim.board.pending_events == 0, what="board drained")
    sim.walk("out")
    await until(lambda: len(seen) == 4, what="fourth count")
    await asyncio.sleep(0.3)
    assert second.store.counts() == {"in": 2, "out": 2}
    assert [c.direction for c in seen] == ["in", "in", "out", "out"]
    assert len({c.key for c in seen}) == 4
    assert sim.state()["counts"] == {"in": 2, "out": 2}
    consumer.cancel()
    await second.close()
    second.store.close()


async def test_tamper_reaches_health(sim, kiosk) -> None:
    sim.set_tamper(True)
    await until(lambda: kiosk.health.snapshot().get("board_lid", "").startswith("fault"))
    sim.set_tamper(False)
    await until(lambda: kiosk.health.snapshot().get("board_lid") == "ok")


async def test_no_board_gives_a_clear_error(tmp_path) -> None:
    master, slave = os.openpty()
    try:
        board = BoardLink(os.ttyname(slave), DoorEventStore(tmp_path / "x.sqlite"))
        with pytest.raises(Exception, match="did not answer"):
            await board.start(timeout=0.5)
        assert board.health.snapshot()["board"].startswith("fault")
    finally:
        os.close(master)
        os.close(slave)


async def test_simulator_command_line_serves_a_kiosk(tmp_path: Path) -> None:
    port = tmp_path / "board"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.board", "--link", str(port),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert proc.stdout and proc.stdin
        banner = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert f"board on {port}".encode() in banner
        board = BoardLink(str(port), DoorEventStore(tmp_path / "ev.sqlite"))
        await board.start()
        counts = board.door_counts()
        proc.stdin.write(b"in\n")
        await proc.stdin.drain()
        count = await asyncio.wait_for(anext(counts), 5)
        assert count.direction == "in"
        assert abs(count.ts - time.time() * 1000) < 5000  # ms since the epoch
        await board.close()
        proc.stdin.write(b"quit\n")
        await proc.stdin.drain()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_board_of_another_major_version_is_refused_with_a_clear_error(tmp_path) -> None:
    master, slave = os.openpty()
    try:
        board = BoardLink(os.ttyname(slave), DoorEventStore(tmp_path / "x.sqlite"))
        future = asyncio.create_task(board.start(timeout=1.0))
        await asyncio.sleep(0.2)
        os.write(master, link.encode(link.HELLO, 0xB00, 1,
                                     link.pack(link.HELLO, link.MAJOR + 1, 0, link.ROLE_BOARD, 0)))
        with pytest.raises(Exception, match=f"speaks protocol {link.MAJOR + 1}.0"):
            await future
        assert board.health.snapshot()["board"] == "fault: protocol version mismatch"
    finally:
        os.close(master)
        os.close(slave)


async def test_unplugged_board_fails_commands_quickly_then_comes_back(
    tmp_path, store_path
) -> None:
    link_path = tmp_path / "ttyACM-board"
    with BoardSimulator(None, str(link_path)) as sim:
        board = BoardLink(str(link_path), DoorEventStore(store_path))
        await board.start()
        sim.unplug()
        await until(lambda: board.health.snapshot()["board"] != "ok", what="port lost")
        t0 = time.monotonic()
        with pytest.raises(BoardError):
            await board.show("green", "steady", "pass", 3000)
        assert time.monotonic() - t0 < 2.5  # the verdict path is never stuck on a dead board
        sim.plug()
        await until(lambda: board.health.snapshot()["board"] == "ok", what="back")
        await board.show("red", "steady", "deny", 500)
        assert sim.state()["light"] == "red"
        await board.close()
        board.store.close()
