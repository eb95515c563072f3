"""The card's text block, ID-number rules and the masks: what the kiosk learns from a card
and what it may show of it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import privacy
from firmware.kiosk.idcard import codes, idnumber
from firmware.kiosk.idcard.errors import IdCardError, RecordError
from firmware.kiosk.idcard.record import ForeignerCard, HmtPermit, ResidentCard, parse_text
from simulators.cardholders import KINDS, Cardholder, cardholders, check_character

CARDS = cardholders(2022, 64)


def one_of(kind: str) -> Cardholder:
    return next(c for c in CARDS if c.kind == kind)


def test_reference_self_check_numbers_pass() -> None:
    assert idnumber.validate("11010519491231002X").birth == dt.date(1949, 12, 31)
    info = idnumber.validate("440524188001010014")
    assert (info.province, info.sex_code) == ("广东", "1")


@pytest.mark.parametrize(
    "bad",
    [
        "110105194912310021",  # wrong check character
        "11010519491331002X"[:17] + check_character("11010519491331002X"[:17]),  # month 13
        "990105194912310020"[:17] + check_character("99010519491231002"),  # no province 99
        "11010519491231002",  # 17 characters
        "1101051949123100２X",  # full-width digit
    ],
)
def test_invalid_id_numbers_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(idnumber.InvalidIdNumber) as err:
        idnumber.validate(bad)
    assert bad[:14] not in str(err.value)


def test_future_birth_date_is_refused() -> None:
    first17 = "41010520990101001"
    with pytest.raises(idnumber.InvalidIdNumber):
        idnumber.validate(first17 + check_character(first17), today=dt.date(2026, 1, 1))


def test_every_generated_card_kind_is_present() -> None:
    assert {c.kind for c in CARDS[:8]} == set(KINDS)


@pytest.mark.parametrize("card", CARDS, ids=lambda c: f"{c.index}-{c.kind}")
def test_every_cardholder_parses_back(card: Cardholder) -> None:
    record = parse_text(card.text_block())
    assert record.credential == card.id_number
    assert record.display_name == (card.name or card.english_name)
    assert record.birth.strftime("%Y%m%d") == card.birth
    assert record.sex_code == card.sex_code
    if card.valid_until == "长期":
        assert record.valid_until is None and record.to_dict()["valid_until"] == "长期"
    else:
        assert record.valid_until.strftime("%Y%m%d") == card.valid_until


def test_resident_card_fields() -> None:
    card = one_of("resident")
    record = parse_text(card.text_block())
    assert isinstance(record, ResidentCard)
    assert (record.address, record.authority) == (card.address, card.authority)
    assert record.nation == codes.NATION[card.nation_code]
    assert record.to_dict(masked=False)["sex"] == {"1": "男", "2": "女"}[card.sex_code]


def test_hmt_permit_fields() -> None:
    card = one_of("hmt")
    record = parse_text(card.text_block())
    assert isinstance(record, HmtPermit)
    assert record.id_number[:2] in ("81", "82", "83")
    assert (record.permit_number, record.issue_count) == (card.permit_number, card.issue_count)


def test_foreigner_cards_both_editions() -> None:
    old, new = (
        parse_text(one_of("foreigner2017").text_block()),
        parse_text(one_of("foreigner2023").text_block()),
    )
    assert isinstance(old, ForeignerCard) and old.edition == 2017 and len(old.id_number) == 15
    assert isinstance(new, ForeignerCard) and new.edition == 2023 and new.id_number[0] == "9"
    long_name = next(c for c in CARDS if c.kind == "foreigner2023" and len(c.english_name) > 35)
    assert parse_text(long_name.text_block()).english_name == long_name.english_name


def test_nation_table_uses_current_codes() -> None:
    assert len(codes.NATION) == 58
    assert (codes.NATION["01"], codes.NATION["36"], codes.NATION["46"]) == ("汉", "毛南", "德昂")
    assert codes.NATION["97"] == "其他" and codes.NATION["98"].startswith("外国血统")
    assert codes.SEX["9"][0] == "未说明的性别"
    assert codes.nation_name("57") == "其他" and codes.nation_name("58") == codes.NATION["98"]
    assert codes.nation_name("00") == ""


def _corrupt(card: Cardholder, byte_offset: int, text: str) -> bytes:
    raw = bytearray(card.text_block())
    enc = text.encode("utf-16-le")
    raw[byte_offset : byte_offset + len(enc)] = enc
    return bytes(raw)


def test_misread_check_character_is_refused() -> None:
    card = one_of("resident")
    wrong = "1" if card.id_number[17] != "1" else "2"
    with pytest.raises(idnumber.InvalidIdNumber):
        parse_text(_corrupt(card, 122 + 2 * 17, wrong))


@pytest.mark.parametrize(("offset", "text"), [(36, "1899"), (188, "2020AB01"), (204, "20AB")])
def test_inconsistent_dates_are_refused(offset: int, text: str) -> None:
    with pytest.raises(RecordError):
        parse_text(_corrupt(one_of("resident"), offset, text))


def test_hmt_number_on_a_resident_layout_is_refused() -> None:
    hmt = one_of("hmt")
    raw = bytearray(hmt.text_block())
    raw[248:250] = " ".encode("utf-16-le")  # flag removed: claims to be a resident card
    with pytest.raises(RecordError):
        parse_text(bytes(raw))


def test_unknown_sex_code_is_shown_as_unknown_not_refused() -> None:
    assert parse_text(_corrupt(one_of("resident"), 30, "X")).to_dict()["sex"] == "未知"


def test_short_text_block_is_a_clear_error() -> None:
    with pytest.raises(IdCardError):
        parse_text(b"\x20\x00" * 100)


def test_records_print_masked() -> None:
    card = one_of("resident")
    record = parse_text(card.text_block())
    for shown in (repr(record), str(record), str(record.to_dict())):
        assert card.id_number not in shown and card.name not in shown
        assert card.address not in shown
    assert record.to_dict(masked=False)["id_number"] == card.id_number


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("欧阳小明", "欧**明"),
        ("王", "*"),
        ("ZHANG, SAN", "Z****, S**"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert privacy.mask_name(name) == masked


def test_mask_numbers_and_others() -> None:
    assert privacy.mask_id_number("410105199001011234") == "410***********1234"
    assert privacy.mask_id_number("KOR410502125665") == "KOR********5665"
    assert privacy.mask_id_number("12345") == "*****"
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_address("河南省郑州市金水区花园路1号") == "河南省郑州市********"
    assert privacy.mask_date("1990-01-02") == "1990-**-**"
    assert privacy.mask_token("abcdefghijklmnop") == "abcd***(16)"
    assert privacy.mask_document_number("H12345678") == "*******78"


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(min_size=256, max_size=256))
def test_arbitrary_text_blocks_give_a_record_or_our_error(raw: bytes) -> None:
    try:
        parse_text(raw)
    except RecordError:
        pass


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, 63), pos=st.integers(0, 255), value=st.integers(0, 255))
def test_one_flipped_byte_in_a_real_block_gives_a_record_or_our_error(
    index: int, pos: int, value: int
) -> None:
    raw = bytearray(CARDS[index].text_block())
    raw[pos] = value
    try:
        record = parse_text(bytes(raw))
    except RecordError:
        return
    assert record.to_dict(masked=True)["type"] in ("resident", "hmt", "foreigner")
