"""The simulated reader, byte for byte: its answers are the frames captured from real
readers (reference §8), at the line's real speed, and its faults do what they say."""

from __future__ import annotations

import os
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from simulators.idcard_reader import ReaderSimulator

REQUEST = {
    "status": "AA AA AA 96 69 00 03 11 FF ED",
    "find": "AA AA AA 96 69 00 03 20 01 22",
    "select": "AA AA AA 96 69 00 03 20 02 21",
    "read": "AA AA AA 96 69 00 03 30 01 32",
}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ReaderSimulator]:
    with ReaderSimulator(tmp_path / "idcard", rf_scale=0) as simulator:
        yield simulator


@pytest.fixture
def line(sim: ReaderSimulator) -> Iterator[serial.Serial]:
    with serial.Serial(sim.path, 115200, timeout=5.0) as port:
        yield port


def exchange(line: serial.Serial, request: str, size: int) -> bytes:
    line.reset_input_buffer()
    line.write(bytes.fromhex(request))
    return line.read(size)


def test_answers_are_the_captured_frames(sim: ReaderSimulator, line: serial.Serial) -> None:
    assert (
        exchange(line, REQUEST["status"], 11).hex(" ").upper()
        == "AA AA AA 96 69 00 04 00 00 90 94"
    )
    assert (
        exchange(line, REQUEST["find"], 11).hex(" ").upper() == "AA AA AA 96 69 00 04 00 00 80 84"
    )
    assert (
        exchange(line, REQUEST["select"], 11).hex(" ").upper()
        == "AA AA AA 96 69 00 04 00 00 81 85"
    )
    assert (
        exchange(line, REQUEST["read"], 11).hex(" ").upper() == "AA AA AA 96 69 00 04 00 00 41 45"
    )
    sim.place(0)
    found = exchange(line, REQUEST["find"], 15)
    assert found.hex(" ").upper() == "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"
    selected = exchange(line, REQUEST["select"], 19)
    assert selected.hex(" ").upper() == "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"
    answer = exchange(line, REQUEST["read"], 1295)
    assert len(answer) == 1295
    assert answer[:14].hex(" ").upper() == "AA AA AA 96 69 05 08 00 00 90 01 00 04 00"
    assert answer[14:270] == sim.cards[0].text_block()
    sim.set_sam("selftest_failed")
    assert (
        exchange(line, REQUEST["status"], 11).hex(" ").upper()
        == "AA AA AA 96 69 00 04 00 00 60 64"
    )


@pytest.mark.parametrize(
    ("refind", "answers"), [("always", [0x9F, 0x9F, 0x9F]), ("once", [0x9F, 0x80, 0x80])]
)
def test_find_while_the_card_stays(tmp_path: Path, refind: str, answers: list[int]) -> None:
    with (
        ReaderSimulator(tmp_path / "r", rf_scale=0, refind=refind) as sim,
        serial.Serial(sim.path, timeout=5) as line,
    ):
        sim.place(0)
        assert [
            exchange(line, REQUEST["find"], 15 if a == 0x9F else 11)[9] for a in answers
        ] == answers


def test_answers_leave_at_the_line_speed(tmp_path: Path) -> None:
    with (
        ReaderSimulator(tmp_path / "slow", baudrate=19200, rf_scale=0) as sim,
        serial.Serial(sim.path, timeout=10) as line,
    ):
        sim.place(0)
        exchange(line, REQUEST["find"], 15)
        exchange(line, REQUEST["select"], 19)
        started = time.monotonic()
        assert len(exchange(line, REQUEST["read"], 1295)) == 1295
        assert time.monotonic() - started >= (10 + 1295) * 10 / 19200  # never faster


def test_rf_delay_is_added_unless_scaled_to_zero(tmp_path: Path) -> None:
    with (
        ReaderSimulator(tmp_path / "rf", rf_scale=1.0) as sim,
        serial.Serial(sim.path, timeout=10) as line,
    ):
        sim.place(0)
        started = time.monotonic()
        exchange(line, REQUEST["find"], 15)
        assert time.monotonic() - started >= 0.06  # the modelled RF time of a find


def test_faults_on_the_wire(sim: ReaderSimulator, line: serial.Serial) -> None:
    line.timeout = 0.5  # the cut-short answer never completes
    sim.inject("truncate")
    assert exchange(line, REQUEST["status"], 11) == bytes.fromhex(
        "AA AA AA 96 69 00 04"
    )  # cut short
    line.timeout = 5.0
    sim.inject("bad_checksum")
    assert exchange(line, REQUEST["status"], 11)[-1] != 0x94
    sim.inject("noise")
    line.timeout = 0.5  # noise is of random length: read what comes
    noisy = exchange(line, REQUEST["status"], 60)
    assert noisy.endswith(bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94")) and len(noisy) > 11
    sim.inject("silence")
    line.timeout = 0.3
    assert exchange(line, REQUEST["status"], 11) == b""
    sim.force_status("status", 0x24)
    assert exchange(line, REQUEST["status"], 11)[9] == 0x24
    assert exchange(line, REQUEST["status"], 11)[9] == 0x90  # one-shot


def test_unplug_removes_the_path_and_plug_brings_it_back(
    sim: ReaderSimulator, line: serial.Serial
) -> None:
    link = Path(sim.path)
    sim.unplug()
    assert not link.exists()
    with pytest.raises((serial.SerialException, termios.error)):  # what the driver catches
        exchange(line, REQUEST["status"], 11)
    sim.plug()
    assert link.is_symlink() and os.path.exists(os.readlink(link))
    with serial.Serial(sim.path, timeout=5) as again:
        assert exchange(again, REQUEST["status"], 11)[9] == 0x90


def test_unknown_fault_and_sam_state_are_refused(sim: ReaderSimulator) -> None:
    with pytest.raises(ValueError):
        sim.inject("gremlins")
    with pytest.raises(ValueError):
        sim.set_sam("sleepy")
