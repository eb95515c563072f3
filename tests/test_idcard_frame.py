"""Frames on the wire: the exact bytes public readers exchange, and a reassembler that
survives anything the line can do to them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.kiosk.idcard.errors import IdCardError, MalformedFrame
from firmware.kiosk.idcard.frame import (
    PREAMBLE,
    FrameReader,
    build_frame,
    build_request,
    checksum,
    parse_response,
)

# reference §8: every captured frame, re-verified there
REQUESTS = {
    (0x11, 0xFF): "AA AA AA 96 69 00 03 11 FF ED",
    (0x10, 0xFF): "AA AA AA 96 69 00 03 10 FF EC",
    (0x12, 0xFF): "AA AA AA 96 69 00 03 12 FF EE",
    (0x20, 0x01): "AA AA AA 96 69 00 03 20 01 22",
    (0x20, 0x02): "AA AA AA 96 69 00 03 20 02 21",
    (0x30, 0x01): "AA AA AA 96 69 00 03 30 01 32",
    (0x30, 0x10): "AA AA AA 96 69 00 03 30 10 23",
}
RESPONSES = [
    "AA AA AA 96 69 00 04 00 00 90 94",
    "AA AA AA 96 69 00 04 00 00 60 64",
    "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97",
    "AA AA AA 96 69 00 04 00 00 80 84",
    "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C",
    "AA AA AA 96 69 00 04 00 00 81 85",
    "AA AA AA 96 69 00 04 00 00 41 45",
]


@pytest.mark.parametrize(("command", "expected"), REQUESTS.items())
def test_requests_match_captured_frames(command: tuple[int, int], expected: str) -> None:
    assert build_request(*command) == bytes.fromhex(expected)


def test_set_rf_bytes_request_with_data() -> None:
    assert build_request(0x61, 0xFF, b"\x50") == bytes.fromhex("AA AA AA 96 69 00 04 61 FF 50 CA")


@pytest.mark.parametrize("frame", RESPONSES)
def test_captured_responses_reassemble(frame: str) -> None:
    raw = bytes.fromhex(frame)
    reader = FrameReader()
    reader.feed(raw)
    body = reader.next_body()
    assert body is not None and build_frame(body) == raw
    response = parse_response(body)
    assert (response.sw1, response.sw2, response.sw3) == (0, 0, raw[9])


def test_read_response_head_and_length() -> None:
    body = bytes([0, 0, 0x90]) + bytes.fromhex("01000400") + bytes(256 + 1024)
    frame = build_frame(body)
    assert len(frame) == 1295
    assert frame[:14] == bytes.fromhex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    assert frame[-1] == checksum(frame[5:-1])


def test_byte_by_byte_delivery() -> None:
    frame = bytes.fromhex(RESPONSES[2])
    reader = FrameReader()
    for i, byte in enumerate(frame):
        assert reader.next_body() is None, f"frame reported after only {i} bytes"
        reader.feed(bytes([byte]))
    assert reader.next_body() == frame[7:-1]


def test_garbage_and_false_preambles_before_a_frame_are_skipped() -> None:
    frame = bytes.fromhex(RESPONSES[0])
    reader = FrameReader()
    reader.feed(b"\x00\xff\xaa\xaa\x96" + PREAMBLE[:4] + b"\x13" + frame + b"\xaa\xaa")
    assert reader.next_body() == frame[7:-1]
    assert reader.garbage >= 10
    assert reader.next_body() is None
    reader.feed(PREAMBLE[2:] + frame[5:])  # the trailing AA AA began the next frame
    assert reader.next_body() == frame[7:-1]


def test_bad_checksum_is_counted_and_the_next_frame_still_read() -> None:
    good = bytes.fromhex(RESPONSES[3])
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    reader = FrameReader()
    reader.feed(bad + good)
    assert reader.next_body() == good[7:-1]
    assert reader.bad_checksums == 1


def test_truncated_frame_is_abandoned_for_the_complete_one_behind_it() -> None:
    read_ok = build_frame(bytes([0, 0, 0x90]) + bytes(1284))
    short = bytes.fromhex(RESPONSES[6])
    reader = FrameReader()
    reader.feed(read_ok[:600] + short)
    assert reader.next_body() == short[7:-1]
    assert reader.truncated == 1


def test_impossible_length_is_resynchronised() -> None:
    good = bytes.fromhex(RESPONSES[0])
    reader = FrameReader()
    reader.feed(PREAMBLE + b"\xff\xff" + PREAMBLE + b"\x00\x01" + good)
    assert reader.next_body() == good[7:-1]


def test_response_without_status_bytes_is_a_driver_error() -> None:
    with pytest.raises(MalformedFrame):
        parse_response(b"\x20\x01")


def test_oversized_body_cannot_be_framed() -> None:
    with pytest.raises(MalformedFrame):
        build_frame(bytes(0x0A00))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_arbitrary_bytes_never_raise_anything_but_our_errors(chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in chunks:
        reader.feed(chunk)
        try:
            while (body := reader.next_body()) is not None:
                parse_response(body)
        except IdCardError:
            pass
        assert reader.wanted() >= 1
        assert reader.pending <= sum(map(len, chunks))


@settings(max_examples=300, deadline=None)
@given(
    noise=st.binary(max_size=200).filter(lambda b: PREAMBLE[:1] not in b),
    data=st.binary(max_size=64),
    sw3=st.integers(0, 255),
    split=st.integers(1, 64),
)
def test_a_frame_after_any_noise_is_recovered(
    noise: bytes, data: bytes, sw3: int, split: int
) -> None:
    frame = build_frame(bytes([0, 0, sw3]) + data)
    reader = FrameReader()
    stream = noise + frame
    bodies = []
    for i in range(0, len(stream), split):
        reader.feed(stream[i : i + split])
        while (body := reader.next_body()) is not None:
            bodies.append(body)
    assert bodies == [frame[7:-1]]
    assert parse_response(bodies[0]).sw3 == sw3


@settings(max_examples=400, deadline=None)
@given(prefix=st.binary(max_size=400), data=st.binary(max_size=64))
def test_a_frame_after_arbitrary_bytes_is_delivered_or_still_awaited(
    prefix: bytes, data: bytes
) -> None:
    """Never lost silently: after any bytes, a valid frame is delivered, or the reader is
    still waiting for a longer frame that began earlier (the driver's deadline ends that)."""
    frame = build_frame(bytes([0, 0, 0x90]) + data)
    reader = FrameReader()
    reader.feed(prefix + frame)
    bodies = []
    while (body := reader.next_body()) is not None:
        bodies.append(body)
    assert (bodies and bodies[-1] == frame[7:-1]) or reader.has_candidate
