"""The kiosk's hardware, assembled from its config: camera, ID-card reader, door board.

Only real devices are built here; the simulators build theirs (simulators/kiosk.py) and
plug them into the same ports (firmware/kiosk/ports.py). Hardware libraries are imported
only for the device the config names (picamera2 inside the camera source, pyserial inside
the reader and board drivers). One Health object is shared by every device, so the status
message carries all their faults.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from firmware.kiosk.config import KioskConfig
from firmware.kiosk.health import Health
from firmware.kiosk.keyed import KeyedEntries
from firmware.kiosk.ports import DoorCounter, DoorSignal, Thermometer
from firmware.kiosk.reading import Reading, ReadingSource

if TYPE_CHECKING:  # pyserial is imported only where a board is configured
    from firmware.kiosk.board import BoardLink as Board


class MergedReadings:
    """Readings from several inputs (camera and ID reader), in the order they happen."""

    def __init__(self, sources: list[ReadingSource]) -> None:
        self.sources = sources

    async def __aiter__(self) -> AsyncIterator[Reading]:
        if len(self.sources) == 1:
            async for reading in self.sources[0]:
                yield reading
            return
        queue: asyncio.Queue[Reading | Exception] = asyncio.Queue()

        async def pump(source: ReadingSource) -> None:
            try:
                async for reading in source:
                    await queue.put(reading)
            except Exception as exc:  # a dead input ends the kiosk's scan loop with it
                await queue.put(exc)

        tasks = [asyncio.create_task(pump(source)) for source in self.sources]
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            for task in tasks:
                task.cancel()


class Prompts:
    """Prompts that are not verdicts ("not a health code", "read failed"), asked for by
    inputs from wherever they run and shown one after another on the door signal."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=8)

    def ask(self, key: str) -> None:
        if not self._queue.full():  # a burst of prompts: the door shows the first few
            self._queue.put_nowait(key)

    async def run(self, signal: DoorSignal) -> None:
        while True:
            await signal.prompt(await self._queue.get())


@dataclass
class Devices:
    source: ReadingSource
    signal: DoorSignal
    health: Health
    counter: DoorCounter | None = None
    thermometer: Thermometer | None = None  # on the board, where [thermometer] says so
    keyed: KeyedEntries | None = None  # visitors registered on the kiosk's screen
    # background work of the devices beside the kiosk's own, supervised with it
    tasks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def build(cfg: KioskConfig, health: Health | None = None) -> Devices:
    """The devices a real kiosk has; a simulated kind is refused (simulators/kiosk.py
    builds those)."""
    health = health or Health()
    prompts = Prompts()
    keyed = KeyedEntries() if cfg.signal.screen_port else None
    signal, board = board_signal(cfg, health, keyed)
    sources = [camera(cfg, health, prompts)]
    if cfg.reader is not None:
        sources.append(id_card_reader(cfg, health, prompts))
    if keyed is not None:
        sources.append(keyed)
    return Devices(MergedReadings(sources), signal, health, board,
                   board if cfg.thermometer else None, keyed, [lambda: prompts.run(signal)])


def camera(cfg: KioskConfig, health: Health, prompts: Prompts) -> ReadingSource:
    if cfg.input.kind != "camera":
        raise ValueError(f"input.kind = {cfg.input.kind!r} is not a device of a real kiosk")
    from firmware.kiosk.camera.picamera2_source import Picamera2Source
    from firmware.kiosk.camera_input import CameraInput

    return CameraInput(Picamera2Source(), health, on_prompt=prompts.ask)


def id_card_reader(cfg: KioskConfig, health: Health, prompts: Prompts) -> ReadingSource:
    from firmware.kiosk.idcard.source import IdCardSource, SourceSettings

    assert cfg.reader is not None
    return IdCardSource(cfg.reader.port, health, SourceSettings(baudrate=cfg.reader.baud),
                        on_read_failed=lambda _reason: prompts.ask("read_failed"))


def board_signal(cfg: KioskConfig, health: Health,
                 keyed: KeyedEntries | None = None) -> tuple[DoorSignal, Board]:
    """The door board (lights, buzzer, gate, people counter, thermometer), the voice and
    the screen (with its registration form, when `keyed` is given)."""
    if cfg.signal.kind != "board":
        raise ValueError(f"signal.kind = {cfg.signal.kind!r} is not a device of a real kiosk")
    from firmware.kiosk.board import BoardLink, DoorEventStore
    from firmware.kiosk.board_signal import BoardSignal
    from firmware.kiosk.screen.state import ScreenState
    from firmware.kiosk.voice import Voice

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    board = BoardLink(cfg.signal.port, DoorEventStore(cfg.data_dir / "board-events.sqlite"),
                      health)
    screen = ScreenState(cfg.door)
    voice = Voice(cfg.signal.audio_dir, health=health) if cfg.signal.audio_dir else None
    serve_screen = None
    if cfg.signal.screen_port:
        from firmware.kiosk.screen.app import serve

        port = cfg.signal.screen_port

        def serve_screen() -> Coroutine[Any, Any, None]:
            return serve(screen, port=port, keyed=keyed)

    return BoardSignal(board, voice, screen, serve_screen=serve_screen), board
