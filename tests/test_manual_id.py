"""Identifiers staff type in for a visitor with neither phone nor card
(firmware/manual_id.py), and paper register lines (gateway/paper_register.py): what is
accepted, how it is normalised, and what each refusal says."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from firmware import manual_id
from firmware.kiosk.idcard import idnumber
from gateway import paper_register
from gateway.paper_register import EntryError, Limits
from gateway.personal import Pseudonymiser, mask
from simulators.population import population

TZ = ZoneInfo("Asia/Shanghai")


def test_id_numbers_of_the_population_pass_and_normalise():
    for person in population(7)[:200]:
        typed = " ".join([person.id_number[:6], person.id_number[6:14], person.id_number[14:]])
        assert manual_id.credential("id_number", typed.lower()) == "id_number:" + person.id_number
        assert manual_id.check_character(person.id_number[:17]) == \
            idnumber.check_character(person.id_number[:17])


@pytest.mark.parametrize(("document", "number", "nationality", "reason"), [
    ("id_number", "410105199001011234", "", "id_check_digit"),
    ("id_number", "41010519900101123", "", "id_length"),
    ("id_number", "41010519901301123X", "", "id_birth_date"),
    ("id_number", "4101051990010112AX", "", "id_characters"),
    ("passport", "E1234", "US", "nationality"),
    ("passport", "E12*4567", "USA", "passport_number"),
    ("phone", "12812345678", "", "phone"),
    ("phone", "1381234567", "", "phone"),
    ("fax", "12345", "", "document"),
])
def test_what_is_refused_says_why_and_never_repeats_the_number(document, number, nationality,
                                                                reason):
    with pytest.raises(manual_id.ManualIdError) as err:
        manual_id.credential(document, number, nationality)
    assert err.value.reason == reason
    assert number not in err.value.message


def test_a_keyed_id_number_is_the_same_person_as_the_card_and_is_masked_alike():
    pseudonyms = Pseudonymiser("k" * 32)
    number = population(7)[3].id_number
    keyed = manual_id.credential("id_number", number)
    assert pseudonyms.subject("manual", keyed) == pseudonyms.subject("id_card", number)
    assert mask("manual", keyed) == mask("id_card", number)
    assert mask("manual", "passport:USA:E12345678") == "USA *******78"
    assert mask("manual", "phone:13812345678") == "138****5678"


def limits(now: datetime) -> Limits:
    ms = int(now.timestamp() * 1000)
    return Limits(TZ, ms, ms - 28 * 86_400_000, frozenset({"east-gate"}))


def test_register_lines_are_checked_one_by_one_with_their_line_numbers():
    now = datetime(2026, 12, 3, 18, 0, tzinfo=TZ)
    number = population(7)[0].id_number
    wrong = number[:-1] + ("1" if number[-1] != "1" else "2")
    text = "\n".join([
        "time,door,document,number,nationality,colour",
        f"2026-12-03 09:05,east-gate,id_number,{number},,绿码",
        "",  # a blank line is skipped, not bad
        f"2026-12-03 09:06:59,east-gate,身份证,{wrong},,green",
        f"2026-12-04 09:07,east-gate,id_number,{number},,green",
        f"2026-10-01 09:07,east-gate,id_number,{number},,green",
        f"2026-12-03 09:08,north-gate,id_number,{number},,green",
        "2026-12-03 09:09,east-gate,passport,E12345678,USA,blue",
        "yesterday,east-gate,phone,13812345678,,green",
        "2026-12-03 09:10,east-gate,phone,13812345678,,green,extra",
        "2026-12-03T09:11+08:00,east-gate,护照,e 1234 5678,usa,",
    ])
    entries, bad = paper_register.read_csv(text, limits(now))
    assert [(e.line, e.credential, e.colour) for e in entries] == [
        (2, "id_number:" + number, "green"), (11, "passport:USA:E12345678", "unknown")]
    assert entries[0].ts == int(datetime(2026, 12, 3, 9, 5, tzinfo=TZ).timestamp() * 1000)
    assert [(b.line, b.reason) for b in bad] == [
        (4, "id_check_digit"), (5, "time_future"), (6, "time_too_old"), (7, "unknown_door"),
        (8, "colour"), (9, "time_format"), (10, "columns")]
    assert number not in str(bad)


def test_a_file_without_its_header_is_refused_whole():
    with pytest.raises(EntryError) as err:
        paper_register.read_csv("2026-12-03 09:05,east-gate,id_number,x,,green\n",
                                limits(datetime(2026, 12, 3, 18, 0, tzinfo=TZ)))
    assert err.value.reason == "header"
