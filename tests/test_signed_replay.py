"""Replay and misuse signals: a code passed around is flagged, a person scanning twice
is not, and the guard never keeps the code text itself."""

from __future__ import annotations

from gateway.misuse import ReplayGuard

CODE = "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL"


def test_one_time_code_at_a_second_door_is_flagged():
    guard = ReplayGuard(secret=b"k" * 32)
    assert guard.observe(CODE, "north", at=1000.0) is None
    misuse = guard.observe(CODE, "south", at=1030.0)
    assert misuse is not None and misuse.kind == "second_door"
    assert (misuse.first_door, misuse.first_at, misuse.door) == ("north", 1000.0, "south")
    assert CODE not in str(misuse.to_json()) and len(misuse.fingerprint) == 32


def test_a_retry_at_the_same_door_is_not_a_replay_but_a_later_reuse_is():
    guard = ReplayGuard(retry_grace_s=10)
    assert guard.observe(CODE, "north", at=0.0) is None
    assert guard.observe(CODE, "north", at=4.0) is None  # scanned twice, same person
    misuse = guard.observe(CODE, "north", at=600.0)
    assert misuse is not None and misuse.kind == "reused"


def test_shown_again_after_its_validity_is_flagged():
    guard = ReplayGuard()
    assert guard.observe(CODE, "north", at=100.0, not_after=200.0) is None
    misuse = guard.observe(CODE, "north", at=250.0, not_after=200.0)
    assert misuse is not None and misuse.kind == "after_validity"


def test_a_reusable_certificate_is_only_flagged_when_shared_across_doors_quickly():
    guard = ReplayGuard(two_door_window_s=300)
    assert guard.observe(CODE, "north", at=0.0, one_time=False) is None
    assert guard.observe(CODE, "north", at=3600.0, one_time=False) is None  # daily use
    assert guard.observe(CODE, "south", at=9000.0, one_time=False) is None  # hours later
    misuse = guard.observe(CODE, "north", at=9060.0, one_time=False)  # a minute apart
    assert misuse is not None and misuse.kind == "second_door"


def test_gateway_and_kiosk_with_the_same_secret_agree_on_fingerprints():
    kiosk, gateway = ReplayGuard(secret=b"site"), ReplayGuard(secret=b"site")
    assert kiosk.fingerprint(CODE) == gateway.fingerprint(CODE)
    assert ReplayGuard().fingerprint(CODE) != kiosk.fingerprint(CODE)
    assert kiosk.fingerprint(b"\x01sig") != kiosk.fingerprint(CODE)


def test_memory_is_bounded_and_old_entries_expire():
    guard = ReplayGuard(max_entries=100, keep_s=60)
    for i in range(500):
        guard.observe(f"code-{i}", "north", at=float(i) / 100)
    assert len(guard) == 100
    assert guard.observe("code-499", "south", at=5.0) is not None  # recent: remembered
    assert guard.observe("code-0", "south", at=5.0) is None  # evicted: forgotten
    guard.observe("fresh", "north", at=1000.0)
    assert len(guard) == 1  # everything older than keep_s is gone
