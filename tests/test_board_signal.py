"""Verdict -> board commands (from LOOKS), voice prompt and screen state, end to end over
the simulated board's pseudo-terminal."""

from __future__ import annotations

import asyncio
import sys
import time
import wave
from pathlib import Path

import pytest

from firmware.kiosk.board import BoardLink, DoorEventStore
from firmware.kiosk.board_signal import BoardSignal, check_looks
from firmware.kiosk.screen.state import ScreenState
from firmware.kiosk.voice import Voice
from firmware.verdict import LOOKS, Look, Verdict, spoken
from simulators.board import BoardSimulator

# a real player process that reads the WAV it is given, as aplay would
PLAYER = (sys.executable, "-c", "import sys, wave; wave.open(sys.argv[1]).readframes(10)")

VERDICTS = {
    "open": Verdict("e-1", "green", "open", "pass", "platform"),
    "hold": Verdict("e-2", "yellow", "hold", "wait_staff", "platform"),
    "refuse": Verdict("e-3", "red", "refuse", "no_entry", "platform"),
}
EXPECTED = {  # light seen first, buzzer frequency, gate relay, screen state
    "open": ("green", 2400, True, "green"),
    "hold": ("amber", 1200, False, "yellow"),
    "refuse": ("red", 400, False, "red"),
}


def now_ms() -> int:
    return int(time.monotonic() * 1000)


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    for key in ("go_ahead", "staff_coming", "manual_check"):
        with wave.open(str(tmp_path / f"{key}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x01" * 800)
    return tmp_path


@pytest.mark.parametrize("action", ["open", "hold", "refuse"])
async def test_each_verdict_drives_board_voice_and_screen(action: str, audio: Path,
                                                          tmp_path: Path) -> None:
    light, freq, gate, screen_state = EXPECTED[action]
    with BoardSimulator() as sim:
        board = BoardLink(sim.path, DoorEventStore(tmp_path / "ev.sqlite"))
        await board.start()
        voice = Voice(audio, PLAYER)
        screen = ScreenState("east-door")
        signal = BoardSignal(board, voice, screen, show_ms=1500, gate_ms=1000)
        start = now_ms()
        await signal.show(VERDICTS[action])
        assert screen.snapshot()["state"] == screen_state
        assert voice.played == [spoken(VERDICTS[action].prompt)]
        assert await voice.wait() == 0
        await asyncio.sleep(1.8)
        lights = [v for _, v in sim.changes("light", start)]
        assert lights[0] == light and lights[-1] == "off"
        assert freq in [v for _, v in sim.changes("buzzer", start)]
        relay = sim.changes("relay", start)
        assert [v for _, v in relay] == ([True, False] if gate else [])
        await board.close()


async def test_unacknowledged_board_turns_screen_to_manual_check(audio: Path,
                                                                 tmp_path: Path) -> None:
    with BoardSimulator() as sim:
        board = BoardLink(sim.path, DoorEventStore(tmp_path / "ev.sqlite"), ack_timeout_s=0.05,
                          attempts=2)
        await board.start()
        screen = ScreenState()
        voice = Voice(audio, PLAYER)
        signal = BoardSignal(board, voice, screen)
        sim.hang()  # nothing answers
        await signal.show(VERDICTS["open"])
        sim.wake()
        assert screen.snapshot()["state"] == "manual"
        assert voice.played == ["go_ahead", "manual_check"]
        assert board.health.snapshot()["board"].startswith("fault")
        await board.close()


def test_every_look_is_showable_and_a_bad_one_is_named() -> None:
    check_looks()
    with pytest.raises(ValueError, match="purple"):
        check_looks({"open": Look("purple", "steady", "pass", True)})
    assert set(LOOKS) == {"open", "hold", "refuse", "stale", "open_unchecked", "by_staff"}
    assert LOOKS["by_staff"].light != "green" and LOOKS["by_staff"].gate


async def test_screen_mirrors_a_lost_board_as_manual_check(tmp_path: Path) -> None:
    link_path = tmp_path / "ttyACM-board"
    with BoardSimulator(None, str(link_path)) as sim:
        board = BoardLink(str(link_path), DoorEventStore(tmp_path / "ev.sqlite"))
        await board.start()
        screen = ScreenState()
        signal = BoardSignal(board, None, screen)
        watcher = asyncio.create_task(signal.watch(every_s=0.05))
        await asyncio.sleep(0.2)
        assert screen.snapshot()["state"] == "idle"
        sim.unplug()
        await asyncio.sleep(0.5)
        assert screen.snapshot()["state"] == "manual"
        sim.plug()
        for _ in range(60):
            await asyncio.sleep(0.05)
            if screen.snapshot()["state"] == "idle":
                break
        assert screen.snapshot()["state"] == "idle"
        watcher.cancel()
        await board.close()
