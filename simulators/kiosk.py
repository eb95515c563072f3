"""A kiosk with simulated devices: the same process as an installed kiosk
(firmware/kiosk/process.py), with the simulators plugged into its ports.

    python -m simulators.kiosk --config kiosk.toml

Simulated kinds (refused by `python -m firmware.kiosk`):
- input.kind = "simulated": made-up visitors the platform simulator knows;
- input.kind = "scripted": one reading per line of standard input, as JSON
  ({"method": "code", "credential": "...", "medium": "screen"}), for benchmarks;
- input.kind = "camera_files": a folder of images played as camera frames;
- signal.kind = "lights": lights that log what the door shows; with scripted input each
  verdict is also written to standard output as one JSON line.
Real kinds in the same config (a camera, the board on a pty) are built as on a site.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

from firmware.kiosk import devices as hardware
from firmware.kiosk.config import KioskConfig
from firmware.kiosk.health import Health
from firmware.kiosk.keyed import KeyedEntries
from firmware.kiosk.ports import DoorCounter, DoorSignal, Thermometer
from firmware.kiosk.process import main as kiosk_main
from firmware.kiosk.reading import Reading, ReadingSource
from simulators.lights import SimulatedLights
from simulators.visitors import SimulatedVisitors


class StdinReadings:
    """Readings as JSON lines on standard input; bad lines are skipped with a warning.
    With `report`, each reading taken is stamped there ({"received_ns": …}, the system's
    monotonic clock), so a benchmark times the kiosk from the reading's arrival on."""

    def __init__(self, report: TextIO | None = None) -> None:
        self.report = report

    async def __aiter__(self) -> AsyncIterator[Reading]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            received = time.perf_counter_ns()
            try:
                fields = json.loads(line)
                reading = Reading(fields["method"], fields["credential"],
                                  fields.get("medium", "unknown"), fields.get("name"))
            except (ValueError, KeyError, TypeError):
                print("scripted input: not a reading, skipped", file=sys.stderr)
                continue
            if self.report is not None:
                self.report.write(json.dumps({"received_ns": received}) + "\n")
            yield reading


def build(cfg: KioskConfig, health: Health) -> hardware.Devices:
    prompts = hardware.Prompts()
    signal: DoorSignal
    counter: DoorCounter | None = None
    thermometer: Thermometer | None = None
    keyed: KeyedEntries | None = None
    if cfg.signal.kind == "lights":
        signal = SimulatedLights(report=sys.stdout if cfg.input.kind == "scripted" else None)
    else:
        keyed = KeyedEntries() if cfg.signal.screen_port else None
        signal, board = hardware.board_signal(cfg, health, keyed)
        counter, thermometer = board, board if cfg.thermometer else None
    source: ReadingSource
    if cfg.input.kind == "simulated":
        source = SimulatedVisitors(cfg.input.platform_seed, cfg.input.seed, cfg.input.rate_hz)
    elif cfg.input.kind == "scripted":
        source = StdinReadings(report=sys.stdout)
    elif cfg.input.kind == "camera_files":
        from firmware.kiosk.camera.simulated import SimulatedSource
        from firmware.kiosk.camera_input import CameraInput

        if cfg.input.files is None:
            raise ValueError("input.files: a folder of images is needed for camera_files")
        frames = SimulatedSource.from_folder(cfg.input.files, loop=True)
        source = CameraInput(frames, health, on_prompt=prompts.ask)
    else:
        source = hardware.camera(cfg, health, prompts)
    sources = [source]
    if cfg.reader is not None:
        sources.append(hardware.id_card_reader(cfg, health, prompts))
    if keyed is not None:
        sources.append(keyed)
    return hardware.Devices(hardware.MergedReadings(sources), signal, health, counter,
                            thermometer, keyed, [lambda: prompts.run(signal)])


def main(argv: list[str] | None = None) -> int:
    return kiosk_main(argv, build_devices=build, simulators=True,
                      prog="python -m simulators.kiosk")


if __name__ == "__main__":
    sys.exit(main())
