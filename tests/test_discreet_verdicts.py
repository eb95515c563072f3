"""A red code at a real kiosk (gateway, platform simulator, board simulator on a pty, the
voice's player, the status screen): the screen facing the visitor shows the colour, the
queue hears only a neutral prompt, the board shows red and the gate stays shut."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import wave
from pathlib import Path

from firmware.kiosk import config as kiosk_config
from firmware.kiosk.board import BoardLink, DoorEventStore
from firmware.kiosk.board_signal import BoardSignal
from firmware.kiosk.kiosk import Kiosk
from firmware.kiosk.reading import Reading
from firmware.kiosk.screen.state import ScreenState
from firmware.kiosk.voice import VOICED, Voice
from firmware.verdict import COLOUR_WORDS, PROMPT_TEXT
from simulators import processes
from simulators.board import BoardSimulator
from simulators.population import first_of_colour
from simulators.visitors import QueuedReadings
from tests.conftest import SITE, poll

# a real player process that reads the WAV it is given, as aplay would
PLAYER = (sys.executable, "-c", "import sys, wave; wave.open(sys.argv[1]).readframes(10)")


def recordings(folder: Path) -> Path:
    for key in VOICED:
        with wave.open(str(folder / f"{key}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x01" * 800)
    return folder


async def test_red_scan_shows_red_to_the_visitor_and_says_no_colour(
        tmp_path: Path, broker, gateway) -> None:
    red = first_of_colour(7, "red")
    audio = tmp_path / "audio"
    audio.mkdir()
    with BoardSimulator() as sim:
        board = BoardLink(sim.path, DoorEventStore(tmp_path / "board.sqlite"))
        voice, screen = Voice(recordings(audio), PLAYER), ScreenState("east-gate")
        signal = BoardSignal(board, voice, screen, show_ms=1500, gate_ms=1000)
        cfg = kiosk_config.KioskConfig.model_validate(
            processes.kiosk_config(tmp_path, SITE, "kiosk-1", "east-gate", broker.port))
        readings = QueuedReadings()
        kiosk = Kiosk(cfg, readings, signal)
        task = asyncio.create_task(kiosk.run())
        try:
            await asyncio.wait_for(kiosk.session.connected.wait(), 10)
            await poll(lambda: board.beat, timeout=10)
            started = int(time.monotonic() * 1000)
            readings.present(Reading("code", red.code_url, medium="screen"))
            seen = await poll(lambda: screen.snapshot() if screen.snapshot()["state"] == "red"
                              else None, timeout=10)
            # The screen facing the visitor names the colour...
            assert seen["zh"].startswith("红码") and "Red code" in seen["en"]
            # ...the voice says one neutral sentence, the same for every colour.
            assert voice.played == ["staff_coming"]
            said = " ".join(PROMPT_TEXT["staff_coming"]).lower()
            assert said.startswith("请稍候，工作人员马上为您服务")
            assert not [word for word in COLOUR_WORDS if word in said]
            assert await voice.wait() == 0  # the player really played that recording
            await asyncio.sleep(0.3)
            assert "red" in [v for _, v in sim.changes("light", started)]
            assert sim.changes("relay", started) == [], "the gate stays shut"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await board.close()
