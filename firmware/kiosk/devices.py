"""Which devices this kiosk has, from its config: inputs, signal, screen, door counts.

Hardware libraries are imported here only for the device the config names (picamera2
inside the camera source, pyserial inside the reader and board drivers), so the same
kiosk runs on a Pi with real parts and on a laptop with simulators. One Health object is
shared by every device, so the status message carries all their faults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from firmware.kiosk.config import KioskConfig
from firmware.kiosk.health import Health
from firmware.kiosk.reading import Reading, ReadingSource


class MergedReadings:
    """Readings from several inputs (camera and ID reader), in the order they happen."""

    def __init__(self, sources: list[ReadingSource]) -> None:
        self.sources = sources

    async def __aiter__(self) -> AsyncIterator[Reading]:
        if len(self.sources) == 1:
            async for reading in self.sources[0]:
                yield reading
            return
        queue: asyncio.Queue[Reading] = asyncio.Queue()

        async def pump(source: ReadingSource) -> None:
            async for reading in source:
                await queue.put(reading)

        tasks = [asyncio.create_task(pump(s)) for s in self.sources]
        try:
            while True:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()


@dataclass
class Devices:
    source: ReadingSource
    signal: object
    health: Health
    background: list[Callable[[], object]] = field(default_factory=list)  # coroutines to run
    board: object | None = None


def _prompt_later(signal: object) -> Callable[[str], None]:
    """Prompts that are not verdicts ("not a health code", "read failed")."""

    def prompt(key: str) -> None:
        show = getattr(signal, "prompt", None)
        if show is not None:
            asyncio.get_running_loop().create_task(show(key))

    return prompt


def build(cfg: KioskConfig) -> Devices:
    health = Health()
    signal, background, board = _signal(cfg, health)
    prompt = _prompt_later(signal)
    sources: list[ReadingSource] = [_input(cfg, health, prompt)]
    if cfg.reader is not None:
        from firmware.kiosk.idcard.source import IdCardSource, SourceSettings

        sources.append(IdCardSource(
            cfg.reader.port, health, SourceSettings(baudrate=cfg.reader.baud),
            on_read_failed=lambda _reason: prompt("read_failed"),
        ))
    return Devices(MergedReadings(sources), signal, health, background, board)


def _input(cfg: KioskConfig, health: Health, prompt: Callable[[str], None]) -> ReadingSource:
    if cfg.input.kind == "simulated":
        from simulators.visitors import SimulatedVisitors

        return SimulatedVisitors(cfg.input.platform_seed, cfg.input.seed, cfg.input.rate_hz)
    from firmware.kiosk.camera_input import CameraInput

    if cfg.input.kind == "camera_files":
        from firmware.kiosk.camera.simulated import SimulatedSource

        frames = SimulatedSource.from_folder(cfg.input.files, loop=True)
    else:
        from firmware.kiosk.camera.picamera2_source import Picamera2Source

        frames = Picamera2Source()
    return CameraInput(frames, health, on_prompt=prompt)


def _signal(cfg: KioskConfig, health: Health):
    if cfg.signal.kind == "lights":
        from simulators.lights import SimulatedLights

        return SimulatedLights(), [], None
    from firmware.kiosk.board import BoardError, BoardLink, DoorEventStore
    from firmware.kiosk.board_signal import BoardSignal
    from firmware.kiosk.screen.state import ScreenState
    from firmware.kiosk.voice import Voice

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    board = BoardLink(cfg.signal.port, DoorEventStore(cfg.data_dir / "board-events.sqlite"), health)
    screen = ScreenState(cfg.door)
    voice = Voice(cfg.signal.audio_dir, health=health) if cfg.signal.audio_dir else None
    signal = BoardSignal(board, voice, screen)

    async def keep_board() -> None:
        while True:  # the board may be absent at start or unplugged later; keep trying
            try:
                await board.start(timeout=2.0)
                await board.set_idle("ready")
                return
            except (BoardError, OSError):
                health.report("board", False, "absent")
                await asyncio.sleep(1.0)

    background = [keep_board]
    if hasattr(signal, "watch"):
        background.append(signal.watch)
    if cfg.signal.screen_port:
        from firmware.kiosk.screen.app import serve

        background.append(lambda: serve(screen, port=cfg.signal.screen_port))
    return signal, background, board


async def run_background(devices: Devices) -> None:
    async with asyncio.TaskGroup() as tasks:
        for start in devices.background:
            tasks.create_task(start())


@contextlib.asynccontextmanager
async def running(devices: Devices):
    task = asyncio.create_task(run_background(devices))
    try:
        yield devices
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
