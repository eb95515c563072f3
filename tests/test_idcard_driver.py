"""The driver against the simulated reader on a real pseudo-terminal: every card type,
every SW3 status code, every fault — each ends in a result or one of our errors, within
the command's timeout, and the next command works again."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.kiosk.idcard.driver import SamReader, Timeouts, card_data
from firmware.kiosk.idcard.errors import (
    ChecksumError,
    IdCardError,
    ReaderDisconnected,
    ReaderTimeout,
    TruncatedFrame,
)
from firmware.kiosk.idcard.frame import build_frame, build_request
from firmware.kiosk.idcard.record import ForeignerCard, HmtPermit, ResidentCard
from firmware.kiosk.idcard.status import STATUSES, Outcome, StatusError
from simulators.cardholders import KINDS
from simulators.idcard_reader import ReaderSimulator

# short enough to keep fault tests quick, long enough for a loaded 2-core CI box
FAST = Timeouts(status=0.8, find=0.8, select=0.8, read=0.8, read_address=0.8)
HANG_MARGIN = 1.0  # generous: a loaded CI box is slow, a hang is forever


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ReaderSimulator]:
    with ReaderSimulator(tmp_path / "idcard", rf_scale=0) as simulator:
        yield simulator


@pytest.fixture
def reader(sim: ReaderSimulator) -> Iterator[SamReader]:
    with SamReader(sim.path, timeouts=FAST) as sam:
        yield sam


def first(sim: ReaderSimulator, kind: str) -> int:
    return next(c.index for c in sim.cards if c.kind == kind)


def test_sam_status_and_id(reader: SamReader) -> None:
    reader.sam_status()
    reader.reset()
    reader.set_max_rf_bytes(0x50)
    assert reader.sam_id() == "05.01-20220101-123456789-987654321"


@pytest.mark.parametrize("kind", KINDS)
def test_every_card_type_reads(sim: ReaderSimulator, reader: SamReader, kind: str) -> None:
    holder = sim.place(first(sim, kind))
    data = reader.read_card()
    assert data is not None and len(data.text) == 256 and data.photo[:2] == b"WL"
    record = data.record()
    expected = {"resident": ResidentCard, "hmt": HmtPermit}.get(kind, ForeignerCard)
    assert isinstance(record, expected)
    assert record.credential == holder.id_number
    assert record.display_name == holder.display_name


def test_read_with_fingerprint(sim: ReaderSimulator, reader: SamReader) -> None:
    holder = next(c for c in sim.cards if c.fingerprint_len == 1024)
    sim.place(holder)
    data = reader.read_card(fingerprint=True)
    assert data is not None and len(data.fingerprint) == 1024
    assert data.record().credential == holder.id_number


def test_appended_address_present_and_absent(sim: ReaderSimulator, reader: SamReader) -> None:
    moved = next(c for c in sim.cards if c.appended_address)
    sim.place(moved)
    reader.read_card()
    assert reader.read_appended_address() == moved.appended_address
    sim.place(next(c for c in sim.cards if not c.appended_address and c.kind == "resident"))
    reader.read_card()
    assert reader.read_appended_address() is None  # SW3 0x91


def test_no_card(reader: SamReader) -> None:
    assert reader.find_card() is False
    assert reader.read_card() is None
    with pytest.raises(StatusError) as err:
        reader.select_card()
    assert (err.value.code, err.value.outcome) == (0x81, Outcome.NO_CARD)
    with pytest.raises(StatusError) as err:
        reader.read_base()
    assert (err.value.code, err.value.outcome) == (0x41, Outcome.RETRY_CARD)


# What each wire status means for the kiosk: the specification of status.py.
EXPECTED_OUTCOME = {
    0x91: Outcome.NO_ITEM,
    0x10: Outcome.COMMAND_REJECTED,
    0x11: Outcome.COMMAND_REJECTED,
    0x21: Outcome.COMMAND_REJECTED,
    0x23: Outcome.COMMAND_REJECTED,
    0x24: Outcome.RETRY_CARD,
    0x31: Outcome.CARD_REJECTED,
    0x32: Outcome.CARD_REJECTED,
    0x33: Outcome.CARD_REJECTED,
    0x37: Outcome.CARD_REJECTED,
    0x3F: Outcome.RETRY_CARD,
    0x40: Outcome.CARD_REJECTED,
    0x41: Outcome.RETRY_CARD,
    0x47: Outcome.RETRY_CARD,
    0x60: Outcome.SAM_FAULT,
    0x66: Outcome.SAM_FAULT,
    0x80: Outcome.NO_CARD,
    0x81: Outcome.NO_CARD,
}


def test_status_table_covers_every_published_code() -> None:
    assert set(STATUSES) == set(EXPECTED_OUTCOME) | {0x90, 0x9F}
    for status in STATUSES.values():
        assert status.zh and status.en


ANSWERS = {0x80, 0x91}  # statuses the driver turns into a plain answer: False / None


@pytest.mark.parametrize(
    "code", sorted(set(EXPECTED_OUTCOME) - ANSWERS), ids=lambda c: f"0x{c:02X}"
)
def test_every_error_status_becomes_a_clear_outcome(
    sim: ReaderSimulator, reader: SamReader, code: int
) -> None:
    sim.place(0)
    command = {0x81: "select", 0x37: "read_fp"}.get(code, "read")
    sim.force_status(command, code)
    assert reader.find_card() is True
    with pytest.raises(StatusError) as err:
        reader.select_card()
        reader.read_base(fingerprint=command == "read_fp")
    assert err.value.code == code
    assert err.value.outcome is EXPECTED_OUTCOME[code]
    assert f"0x{code:02X}" in str(err.value)
    assert reader.read_card() is not None  # one bad answer does not poison the reader


def test_statuses_that_are_answers(sim: ReaderSimulator, reader: SamReader) -> None:
    sim.place(0)
    sim.force_status("find", 0x80)
    assert reader.find_card() is False  # 0x80: no card, even though one lies there
    sim.force_status("read_address", 0x91)
    assert reader.read_card() is not None
    assert reader.read_appended_address() is None


def test_unknown_status_code_is_reported_as_unknown(
    sim: ReaderSimulator, reader: SamReader
) -> None:
    sim.place(0)
    sim.force_status("select", 0x55)
    reader.find_card()
    with pytest.raises(StatusError) as err:
        reader.select_card()
    assert err.value.outcome is Outcome.UNKNOWN


def test_reader_rejects_our_bad_frames_on_the_wire(reader: SamReader) -> None:
    good = build_request(0x20, 0x01)
    bad_sum = good[:-1] + bytes([good[-1] ^ 1])
    assert reader.transact_raw(bad_sum, 0.5).sw3 == 0x10  # checksum error
    bad_len = good[:5] + b"\x00\x02" + good[7:]
    assert reader.transact_raw(bad_len, 0.5).sw3 == 0x11  # length error
    assert reader.transact_raw(build_request(0x20, 0x01, b"\x00"), 0.5).sw3 == 0x11
    assert reader.transact_raw(build_request(0x01, 0xFF), 0.5).sw3 == 0x21  # BearPi's reset
    assert reader.find_card() is False


@pytest.mark.parametrize(("state", "code"), [("selftest_failed", 0x60), ("unauthorised", 0x66)])
def test_broken_sam(sim: ReaderSimulator, reader: SamReader, state: str, code: int) -> None:
    sim.set_sam(state)
    for call in (reader.sam_status, reader.find_card):
        with pytest.raises(StatusError) as err:
            call()
        assert (err.value.code, err.value.outcome) == (code, Outcome.SAM_FAULT)
    sim.set_sam("ok")
    reader.sam_status()


def test_line_noise_is_skipped(sim: ReaderSimulator, reader: SamReader) -> None:
    holder = sim.place(3)
    sim.inject("noise", count=3)  # before the find, select and read answers
    data = reader.read_card()
    assert data is not None and data.record().credential == holder.id_number
    assert reader._frames.garbage > 0


def bounded(call, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    try:
        call()
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < timeout + HANG_MARGIN, f"took {elapsed:.2f} s, timeout {timeout:.2f} s"
    return elapsed


def test_bad_checksum_is_an_error_and_the_next_command_works(
    sim: ReaderSimulator, reader: SamReader
) -> None:
    sim.place(1)
    reader.find_card()
    reader.select_card()
    sim.inject("bad_checksum", "read")
    with pytest.raises(ChecksumError):
        bounded(reader.read_base, FAST.read)
    assert reader.read_card() is not None


def test_truncated_answer_ends_at_the_timeout(sim: ReaderSimulator, reader: SamReader) -> None:
    sim.place(1)
    reader.find_card()
    reader.select_card()
    sim.inject("truncate", "read")
    with pytest.raises(TruncatedFrame):
        bounded(reader.read_base, FAST.read)
    assert reader.read_card() is not None


def test_silent_reader_ends_at_the_timeout(sim: ReaderSimulator, reader: SamReader) -> None:
    sim.inject("silence", "find")
    with pytest.raises(ReaderTimeout):
        bounded(reader.find_card, FAST.find)
    assert reader.find_card() is False


def test_card_removed_mid_read(sim: ReaderSimulator, reader: SamReader) -> None:
    sim.place(2)
    reader.find_card()
    reader.select_card()
    sim.inject("remove_mid_read", "read")
    with pytest.raises(StatusError) as err:
        reader.read_base()
    assert (err.value.code, err.value.outcome) == (0x41, Outcome.RETRY_CARD)
    assert reader.find_card() is False


def test_unplug_and_replug_by_the_same_path(sim: ReaderSimulator, reader: SamReader) -> None:
    sim.place(0)
    assert reader.read_card() is not None
    sim.unplug()
    with pytest.raises(ReaderDisconnected):
        bounded(reader.find_card, FAST.find)
    assert not reader.is_open
    with pytest.raises(ReaderDisconnected):
        reader.open()  # nothing at the path while unplugged
    sim.plug()
    reader.open()
    sim.place(5)
    data = reader.read_card()
    assert data is not None and data.record().credential == sim.cards[5].id_number


def test_unplug_during_an_answer(sim: ReaderSimulator, reader: SamReader) -> None:
    sim.place(0)
    reader.find_card()
    reader.select_card()
    threading.Timer(0.05, sim.unplug).start()
    with pytest.raises((ReaderDisconnected, TruncatedFrame)):
        bounded(reader.read_base, FAST.read)


def test_answers_take_real_wire_time_at_low_baud(tmp_path: Path) -> None:
    with (
        ReaderSimulator(tmp_path / "slow", baudrate=9600, rf_scale=0) as sim,
        SamReader(sim.path, baudrate=9600) as reader,
    ):
        sim.place(0)
        started = time.monotonic()
        assert reader.read_card() is not None  # default timeouts include the wire time
        wire = (10 + 15 + 10 + 19 + 10 + 1295) * 10 / 9600
        assert time.monotonic() - started >= wire  # never faster than the line allows


@pytest.fixture(scope="module")
def raw_line() -> Iterator[tuple[int, SamReader]]:
    """A bare pty: the test plays a reader that answers anything at all."""
    master, slave = os.openpty()
    tty.setraw(slave)
    with SamReader(os.ttyname(slave), timeouts=FAST) as sam:
        yield master, sam
    os.close(master)
    os.close(slave)


def _answer_once(master: int, line: bytes) -> None:
    os.read(master, 64)  # wait for the driver's request, then say anything
    os.write(master, line)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda noise, data: noise + build_frame(bytes([0, 0, 0x90]) + data),
            st.binary(max_size=40),
            st.binary(max_size=1400),
        ),
        st.builds(  # a well-formed read answer around an arbitrary text block
            lambda text: build_frame(bytes.fromhex("000090 01000400") + text + bytes(1024)),
            st.binary(min_size=256, max_size=256),
        ),
    )
)
def test_whatever_the_line_says_the_driver_answers_or_raises_its_own_error(
    raw_line: tuple[int, SamReader], line: bytes
) -> None:
    master, reader = raw_line
    responder = threading.Thread(target=_answer_once, args=(master, line))
    responder.start()
    started = time.monotonic()
    try:
        response = reader.transact("read", timeout=0.03)
        if response.sw3 == 0x90:
            card_data(response.data).record()
    except IdCardError:
        pass
    assert time.monotonic() - started < 0.03 + HANG_MARGIN
    responder.join(2)


def test_a_late_answer_to_an_earlier_command_is_not_taken_for_this_one(
    raw_line: tuple[int, SamReader],
) -> None:
    master, reader = raw_line
    late_read = build_frame(bytes([0, 0, 0x90]) + bytes.fromhex("01000400") + bytes(1280))
    found = build_frame(bytes([0, 0, 0x9F]) + bytes(4))
    responder = threading.Thread(target=_answer_once, args=(master, late_read + found))
    responder.start()
    assert reader.find_card() is True
    responder.join(2)
    # select: a late read answer is not a select answer either
    selected = build_frame(bytes([0, 0, 0x90]) + bytes(8))
    responder = threading.Thread(target=_answer_once, args=(master, late_read + selected))
    responder.start()
    reader.select_card()
    assert reader._frames.pending == 0
    responder.join(2)
