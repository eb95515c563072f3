"""GB 11643-1999 citizen ID numbers: check character, birth date, region, sex digit.

A reader that returns a number failing these checks has misread the card (or the card is
forged); the kiosk must not send such a number to the platform as someone's identity.
The same 18-character scheme serves HK/Macao/Taiwan permits (first digit 8) and the 2023
foreigner card (first digit 9).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from firmware import manual_id
from firmware.kiosk.idcard.codes import PROVINCE
from firmware.kiosk.idcard.errors import RecordError


class InvalidIdNumber(RecordError):
    """The ID number's structure, date, region or check character is wrong."""


def check_character(first17: str) -> str:
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdNumber("need 17 digits to compute a check character")
    return manual_id.check_character(first17)  # the one GB 11643 implementation


def parse_date(text: str) -> dt.date:
    """YYYYMMDD -> date, raising RecordError (not ValueError) on anything else."""
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise RecordError(f"date must be 8 digits YYYYMMDD, got {len(text)} characters")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise RecordError(f"impossible date: {exc}") from None


@dataclass(frozen=True, slots=True)
class IdNumberInfo:
    region_code: str  # 6 digits
    province: str
    birth: dt.date
    sex_code: str  # "1" male, "2" female, from the parity of digit 17


def validate(number: str, today: dt.date | None = None) -> IdNumberInfo:
    """Check an 18-character ID number; the error message never contains the number."""
    if len(number) != 18:
        raise InvalidIdNumber(f"ID number must have 18 characters, got {len(number)}")
    body, check = number[:17], number[17]
    if not body.isascii() or not body.isdigit() or check not in "0123456789X":
        raise InvalidIdNumber("ID number must be 17 digits and a digit or X")
    if check_character(body) != check:
        raise InvalidIdNumber("ID number check character does not match (misread or forged)")
    province = PROVINCE.get(body[:2])
    if province is None:
        raise InvalidIdNumber("ID number region code is not a province-level division")
    try:
        birth = parse_date(body[6:14])
    except RecordError:
        raise InvalidIdNumber("ID number birth date is not a real date") from None
    if birth.year < 1880 or birth > (today or dt.date.today()):
        raise InvalidIdNumber("ID number birth date is out of range")
    return IdNumberInfo(body[:6], province, birth, "1" if int(body[16]) % 2 else "2")


def validate_permanent_residence_2023(number: str, today: dt.date | None = None) -> IdNumberInfo:
    """2023 foreigner card numbers: '9' + province(2) + nationality(3) + YYYYMMDD + seq + check,
    with the GB 11643 check character (reference §4.5 is single-source: treat as best
    knowledge)."""
    if len(number) != 18 or number[0] != "9":
        raise InvalidIdNumber(
            "2023 permanent-residence number must be 18 characters starting with 9"
        )
    body, check = number[:17], number[17]
    if not body.isascii() or not body.isdigit() or check not in "0123456789X":
        raise InvalidIdNumber("permanent-residence number must be 17 digits and a digit or X")
    if check_character(body) != check:
        raise InvalidIdNumber("permanent-residence number check character does not match")
    try:
        birth = parse_date(body[6:14])
    except RecordError:
        raise InvalidIdNumber("permanent-residence number birth date is not a real date") from None
    if birth.year < 1880 or birth > (today or dt.date.today()):
        raise InvalidIdNumber("permanent-residence number birth date is out of range")
    return IdNumberInfo(
        body[1:3], PROVINCE.get(body[1:3], ""), birth, "1" if int(body[16]) % 2 else "2"
    )


def validate_permanent_residence_2017(number: str) -> None:
    """2017 foreigner card numbers: 3 letters (nationality) + 12 digits. The check scheme
    is not in our reference, so only the structure is checked."""
    if len(number) != 15 or not number[:3].isalpha() or not number[:3].isupper():
        raise InvalidIdNumber(
            "2017 permanent-residence number must be 3 capital letters + 12 digits"
        )
    if not number[3:].isascii() or not number[3:].isdigit():
        raise InvalidIdNumber(
            "2017 permanent-residence number must be 3 capital letters + 12 digits"
        )
