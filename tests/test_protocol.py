"""The wire protocol module: what it accepts, what it refuses and why, and event ids."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import protocol

IDS = protocol.EventIds()


def good_scan(**changes) -> dict:
    msg = protocol.scan(IDS.new(), "k1", "door-1", 1, 1_700_000_000_000, "code", "tok")
    msg.update(changes)
    return msg


def test_scan_round_trips_through_the_wire():
    msg = good_scan(medium="screen")
    site, kiosk, kind, back = protocol.decode("placecode/s1/k1/scan", protocol.encode("scan", msg))
    assert (site, kiosk, kind, back) == ("s1", "k1", "scan", msg)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("placecode/s1/k1", "bad_topic"),
        ("other/s1/k1/scan", "bad_topic"),
        ("placecode/s1/k1/scan/extra", "bad_topic"),
        ("placecode/s1/k1/launch", "unknown_kind"),
        ("placecode/S1/k1/scan", "bad_name"),
        ("placecode/s1/+/scan", "bad_name"),
    ],
)
def test_bad_topics_are_refused(topic, reason):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.decode(topic, json.dumps(good_scan()).encode())
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"v": 2}, "unknown_version"),
        ({"v": True}, "missing_field"),
        ({"seq": 0}, "bad_value"),
        ({"seq": True}, "bad_type"),
        ({"ts": -1}, "bad_value"),
        ({"ts": 1.5}, "bad_type"),
        ({"method": "face"}, "bad_value"),
        ({"medium": "hologram"}, "bad_value"),
        ({"id": "0" * 36}, "bad_id"),
        ({"id": "01a20fe6-b584-4000-a724-350938a2f4c7"}, "bad_id"),  # a v4 uuid
        ({"credential": None}, "bad_type"),
        ({"door": "d" * 65}, "too_long"),
        ({"method": "manual", "credential": "tok"}, "bad_value"),
        ({"temp_dc": -1}, "bad_value"),
        ({"temp_dc": 601}, "bad_value"),
        ({"temp_dc": 36.5}, "bad_type"),
        ({"method": "manual", "credential": "id_number:410105199001011230"}, "bad_value"),
        ({"method": "manual", "credential": "passport:US:E1234567"}, "bad_value"),
    ],
)
def test_bad_scans_are_refused_with_their_reason(changes, reason):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.decode("placecode/s1/k1/scan", json.dumps(good_scan(**changes)).encode())
    assert err.value.reason == reason


def test_a_manual_scan_carries_a_checked_identifier():
    for credential in ("id_number:410105199001011233", "passport:USA:E12345678",
                       "phone:13812345678"):
        msg = good_scan(method="manual", medium="keyed", credential=credential)
        assert protocol.decode("placecode/s1/k1/scan", protocol.encode("scan", msg))[3] == msg


@pytest.mark.parametrize("name", ["console", "register", "gateway", "trust"])
def test_names_the_gateway_keeps_for_itself_are_no_kiosk_names(name):
    with pytest.raises(protocol.ProtocolError):
        protocol.check_kiosk_name(name)


def test_missing_required_field_is_named():
    msg = good_scan()
    del msg["door"]
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.validate("scan", msg)
    assert (err.value.reason, err.value.detail) == ("missing_field", "door")


def test_unknown_extra_fields_are_ignored_for_forward_compatibility():
    msg = good_scan(temperature=36.6)
    assert protocol.validate("scan", msg) is msg


def test_a_kiosk_cannot_speak_for_another():
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.decode("placecode/s1/k2/scan", json.dumps(good_scan()).encode())
    assert err.value.reason == "topic_mismatch"


def test_event_ids_sort_by_time_and_stay_increasing_when_the_clock_steps_back():
    ids = protocol.EventIds()
    times = [1000, 1000, 1000, 999, 500, 2000, 2000, 1500]
    made = [ids.new(t) for t in times]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert protocol.event_id_ms(made[0]) == 1000
    assert protocol.event_id_ms(made[-1]) == 2000, "never below the last time issued"
    for event_id in made:
        protocol.check_event_id(event_id)


def test_event_ids_counter_overflow_moves_to_the_next_millisecond():
    ids = protocol.EventIds()
    made = [ids.new(5000) for _ in range(5000)]
    assert made == sorted(made) and len(set(made)) == 5000
    assert protocol.event_id_ms(made[-1]) == 5001


def test_event_ids_from_different_kiosks_do_not_collide():
    same_ms = [protocol.EventIds().new(42) for _ in range(2000)]
    assert len(set(same_ms)) == 2000


@settings(max_examples=400, deadline=None)
@given(
    topic=st.one_of(
        st.text(max_size=60), st.sampled_from(["placecode/s/k/scan", "placecode/s/k/status"])
    ),
    payload=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda children: st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=6),
            max_leaves=20,
        ).map(lambda obj: json.dumps(obj).encode()),
    ),
)
def test_decode_raises_only_protocol_errors_on_arbitrary_input(topic, payload):
    try:
        protocol.decode(topic, payload)
    except protocol.ProtocolError as exc:
        assert exc.reason


def test_a_kiosk_decision_travels_whole_with_its_prompt():
    base = protocol.scan("0192f0c2-7b1a-7c3d-8e4f-0123456789ab", "kiosk-1", "door-1", 1, 0,
                         "signed_code", "HC1:x", decided=("unknown", "hold", "read_failed",
                                                         "kiosk"))
    assert protocol.validate(protocol.SCAN, dict(base))["prompt"] == "read_failed"
    for missing in ("colour", "action", "source"):
        with pytest.raises(protocol.ProtocolError) as caught:
            protocol.validate(protocol.SCAN, {k: v for k, v in base.items() if k != missing})
        assert caught.value.reason == "partial_decision"
    older = {k: v for k, v in base.items() if k != "prompt"}  # a release before `prompt`
    assert protocol.validate(protocol.SCAN, older) == older
    alone = {k: v for k, v in base.items() if k not in ("colour", "action", "source")}
    with pytest.raises(protocol.ProtocolError):
        protocol.validate(protocol.SCAN, alone)
