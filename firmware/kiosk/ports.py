"""The kiosk's ports: what the kiosk asks of each device, one typed Protocol per device.

Real hardware and the simulators implement the same Protocol, so the kiosk pipeline
(kiosk.py) cannot tell them apart and needs no probing of what a device can do:
- a reading source (camera decoder, ID-card reader): firmware/kiosk/reading.py
  `ReadingSource`; the camera underneath it: firmware/kiosk/camera/source.py `FrameSource`;
- the door signal (lights, buzzer, gate, voice, screen): `DoorSignal` below;
- people counted through the door: `DoorCounter` below;
- the door's infrared thermometer, where one is fitted: `Thermometer` below.
Every device has a `run()` that does its background work for as long as the kiosk runs
(a device with none waits forever); the kiosk supervises it like its own tasks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from firmware.kiosk.board_counts import DoorCount
from firmware.verdict import Verdict


class DoorSignal(Protocol):
    """What the person at the door sees, hears and passes."""

    async def show(self, verdict: Verdict) -> None:
        """Show a verdict: lights, tone, screen, voice and, for an open action, the gate."""
        ...

    async def prompt(self, key: str) -> None:
        """A prompt that is not a verdict (a key of firmware.verdict.PROMPT_TEXT)."""
        ...

    async def open_gate(self, ms: int) -> bool:
        """Open the gate once for `ms`, for the person on duty (a staff look, never green);
        False if the gate did not take the command."""
        ...

    async def run(self) -> None:
        """Background work (connect the board, mirror its fail-safe, serve the screen)."""
        ...


class DoorCounter(Protocol):
    """People passing the door, counted by the board's beams (coverage = scans ÷ people)."""

    def door_counts(self) -> AsyncIterator[DoorCount]: ...


@dataclass(frozen=True, slots=True)
class Measurement:
    """One thermometer reading: `centi_c` in hundredths of a degree Celsius, or None with
    the reason in `status` (firmware/board_link.py TEMP_STATUS, or `no_reply`: the board
    did not answer in time)."""

    centi_c: int | None
    status: str

    @property
    def deci_c(self) -> int | None:
        """Tenths of a degree, as a scan carries it (`temp_dc`, docs/protocol.md)."""
        return None if self.centi_c is None else (self.centi_c + 5) // 10


class Thermometer(Protocol):
    """The door's infrared thermometer (on the board: firmware/kiosk/board.py)."""

    async def measure(self) -> Measurement:
        """The reading now; never raises: a sensor that fails gives a Measurement without
        a temperature, and the kiosk's health says so."""
        ...
