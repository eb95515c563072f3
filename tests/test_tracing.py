"""Tracing answers exactly what a brute-force scan of every row answers, on random data.

The store's own schema (gateway/store.py) in a real SQLite file; hypothesis draws the
people, doors, times, the traced person, the range and the window. The reference reads
every row in Python and applies the definition in tracing.py's docstring directly.
"""

from __future__ import annotations

import sqlite3
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import tracing
from gateway.personal import Pseudonymiser, mask
from gateway.store import SCHEMA

KEY = "trace-test-key-0123456789"
MINUTE = 60_000
T0 = 1_795_000_000_000
pseudonyms = Pseudonymiser(KEY)
ID_NUMBERS = [f"41010219800101{n:03d}X" for n in range(12)]

# Few people, three doors and 90 minutes: the traced person has visits, and scans fall
# exactly on the window's edges often enough for an off-by-one to be found.
event = st.tuples(st.integers(0, 3), st.sampled_from(["d1", "d2", "d3"]),
                  st.integers(0, 90))  # person, door, minute: dense, so boundaries are hit


def build(conn: sqlite3.Connection, events: list[tuple[int, str, int]]) -> None:
    conn.execute("DELETE FROM events")
    rows = []
    for n, (person, door, minute) in enumerate(events):
        number = ID_NUMBERS[person]
        rows.append((str(uuid.UUID(int=n)), "k-" + door, door, n, T0 + minute * MINUTE,
                     T0 + minute * MINUTE, "id_card", "card",
                     pseudonyms.subject("id_card", number), mask("id_card", number), None,
                     "green", "open", "pass", "platform", None))
    conn.executemany(f"INSERT INTO events VALUES ({','.join('?' * 16)})", rows)


def reference(conn, subject: str, t1: int, t2: int, window: int):
    everything = [tracing.Scan(*r) for r in conn.execute(f"SELECT {tracing.COLUMNS} FROM events")]
    visits = [s for s in everything if s.subject == subject and t1 <= s.ts <= t2]
    contacts = {(v.id, s.id) for v in visits for s in everything
                if s.door == v.door and abs(s.ts - v.ts) <= window and s.subject != subject}
    return {v.id for v in visits}, contacts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event, min_size=1, max_size=150), person=st.integers(0, 4),
       start=st.integers(0, 90), length=st.integers(0, 90), window=st.integers(0, 30))
def test_trace_matches_brute_force(tmp_path_factory, events, person, start, length, window):
    path = tmp_path_factory.getbasetemp() / "trace.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA)
    build(conn, events)
    subject = tracing.subjects_for(pseudonyms, "id_card", ID_NUMBERS[person])
    t1, t2 = T0 + start * MINUTE, T0 + (start + length) * MINUTE
    got = tracing.trace_person(conn, subject, t1, t2, window * MINUTE)
    want_visits, want_contacts = reference(conn, subject[0], t1, t2, window * MINUTE)
    assert {v["id"] for v in got["visits"]} == want_visits
    pairs = [(c["visit_id"], c["id"]) for c in got["contacts"]]
    assert len(pairs) == len(set(pairs)), "each (visit, contact) once"
    assert set(pairs) == want_contacts
    assert got["people"] == len({c["subject"] for c in got["contacts"]})
    # ... and the door question against the same brute force.
    door_rows = tracing.at_door(conn, "d1", t1, t2)
    assert {s.id for s in door_rows} == {
        r[0] for r in conn.execute("SELECT id, door, ts FROM events")
        if r[1] == "d1" and t1 <= r[2] <= t2}
    conn.close()


def test_a_code_token_finds_scans_stored_under_the_whole_code_url():
    prefix = "https://hc.henan.example/yk/v1?t="
    stored = pseudonyms.subject("code", prefix + "Ab3dEf")
    assert stored in tracing.subjects_for(pseudonyms, "code", "Ab3dEf", (prefix,))
    assert stored in tracing.subjects_for(pseudonyms, "code", prefix + "Ab3dEf", (prefix,))
    lower = tracing.subjects_for(pseudonyms, "id_card", "41010219800101001x")
    assert lower == tracing.subjects_for(pseudonyms, "id_card", "41010219800101001X")


def test_tracing_uses_the_indexes_not_a_table_scan(tmp_path):
    conn = sqlite3.connect(tmp_path / "plan.sqlite")
    conn.executescript(SCHEMA)
    for sql, args in (
        ((f"SELECT {tracing.COLUMNS} FROM events INDEXED BY events_subject_ts "
          "WHERE subject IN (?) AND ts BETWEEN ? AND ?"), ("s", 0, 1)),
        ((f"SELECT {tracing.COLUMNS} FROM events INDEXED BY events_door_ts "
          "WHERE door = ? AND ts BETWEEN ? AND ?"), ("d", 0, 1)),
    ):
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
        assert "SEARCH" in plan and "SCAN events" not in plan, plan
