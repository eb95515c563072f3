"""Base45 (RFC 9285): the published examples, strict refusal of bad text, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.signed import base45


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_rfc_9285_examples(raw, text):
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # triplet 65536 overflows 16 bits
        "::",  # final pair 2024 overflows 8 bits
        "A",  # a single dangling character
        "QED8WEX0a",  # lower case is outside the alphabet
        "QED8W#X0",
    ],
)
def test_bad_text_is_refused_not_repaired(text):
    with pytest.raises(base45.Base45Error):
        base45.decode(text)


@given(st.binary(max_size=600))
def test_round_trip(data):
    assert base45.decode(base45.encode(data)) == data
