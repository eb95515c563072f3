"""The card's 256-byte text block (UCS-2 little-endian, space-padded fixed fields) turned
into a typed, validated record for each of the three card types the readers accept.

Layouts are in reference §4.2–4.6: resident ID card (no flag), HK/Macao/Taiwan residence
permit ("J"), foreigner's permanent residence card 2017 ("I") and 2023 ("Y", single
source). Records print masked; only `credential` and `display_name` give the real values,
for the Reading that goes to the platform.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from firmware import privacy
from firmware.kiosk.idcard import codes, idnumber
from firmware.kiosk.idcard.errors import RecordError

TEXT_LEN = 256
LONG_TERM = "长期"


def _field(chars: str, byte_offset: int, byte_len: int) -> str:
    return chars[byte_offset // 2 : (byte_offset + byte_len) // 2].strip(" \x00\u3000")


def _date_or_long_term(text: str, what: str) -> dt.date | None:
    if text == LONG_TERM:
        return None
    try:
        return idnumber.parse_date(text)
    except RecordError:
        raise RecordError(f"{what} is not a YYYYMMDD date or 长期") from None


class _Card:
    __slots__ = ()
    kind: ClassVar[str]
    _MASKED: ClassVar[dict[str, Any]] = {}

    @property
    def credential(self) -> str:
        return self.id_number  # type: ignore[attr-defined]

    @property
    def display_name(self) -> str:
        return self.name  # type: ignore[attr-defined]

    def to_dict(self, masked: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for field in fields(self):  # type: ignore[arg-type]
            name = field.name
            value = getattr(self, name)
            if value is None and name == "valid_until":
                value = LONG_TERM
            elif isinstance(value, dt.date):
                value = value.isoformat()
            if masked and name in self._MASKED and value:
                value = self._MASKED[name](value)
            out[name] = value
        if hasattr(self, "sex_code"):
            out["sex"] = codes.sex_name(self.sex_code)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict(masked=True)})"

    __str__ = __repr__


_PERSONAL = {
    "name": privacy.mask_name,
    "english_name": privacy.mask_name,
    "chinese_name": privacy.mask_name,
    "id_number": privacy.mask_id_number,
    "old_number": privacy.mask_document_number,
    "permit_number": privacy.mask_document_number,
    "address": privacy.mask_address,
    "birth": privacy.mask_date,
}


@dataclass(frozen=True, slots=True, repr=False)
class ResidentCard(_Card):
    name: str
    sex_code: str
    nation_code: str
    nation: str
    birth: dt.date
    address: str
    id_number: str
    authority: str
    valid_from: dt.date | None
    valid_until: dt.date | None  # None = 长期 (long-term)
    kind: ClassVar[str] = "resident"
    _MASKED: ClassVar[dict[str, Any]] = _PERSONAL


@dataclass(frozen=True, slots=True, repr=False)
class HmtPermit(_Card):
    name: str
    sex_code: str
    birth: dt.date
    address: str
    id_number: str
    authority: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    permit_number: str  # 港澳台居民来往内地通行证号码
    issue_count: str
    kind: ClassVar[str] = "hmt"
    _MASKED: ClassVar[dict[str, Any]] = _PERSONAL


@dataclass(frozen=True, slots=True, repr=False)
class ForeignerCard(_Card):
    edition: int  # 2017 ("I") or 2023 ("Y")
    english_name: str
    chinese_name: str
    sex_code: str
    id_number: str  # permanent-residence card number
    nationality: str  # ISO 3166-1 alpha-3
    birth: dt.date
    valid_from: dt.date | None
    valid_until: dt.date | None
    card_version: str
    authority_code: str
    renewal_count: str
    old_number: str  # 2023 cards: link to the 2017-format number
    kind: ClassVar[str] = "foreigner"
    _MASKED: ClassVar[dict[str, Any]] = _PERSONAL

    @property
    def display_name(self) -> str:
        return self.chinese_name or self.english_name


Card = ResidentCard | HmtPermit | ForeignerCard


def card_type_flag(text: bytes) -> str:
    return text[248:250].decode("utf-16-le", errors="replace")


def _common(chars: str) -> dict[str, Any]:
    return {
        "name": _field(chars, 0, 30),
        "sex_code": _field(chars, 30, 2),
        "address": _field(chars, 52, 70),
        "id_number": _field(chars, 122, 36),
        "authority": _field(chars, 158, 30),
        "valid_from": _date_or_long_term(_field(chars, 188, 16), "validity start"),
        "valid_until": _date_or_long_term(_field(chars, 204, 16), "validity end"),
    }


def _check_birth_and_sex(fields: dict[str, Any], info: idnumber.IdNumberInfo) -> None:
    if fields["birth"] != info.birth:
        raise RecordError("birth date on the card differs from the one in the ID number")
    if fields["sex_code"] in ("1", "2") and fields["sex_code"] != info.sex_code:
        raise RecordError("sex on the card differs from the ID number's sex digit")


def _resident(chars: str, today: dt.date | None) -> ResidentCard:
    fields = _common(chars)
    fields["birth"] = idnumber.parse_date(_field(chars, 36, 16))
    info = idnumber.validate(fields["id_number"], today)
    if info.region_code[:2] in codes.HMT_REGIONS:
        raise RecordError("a resident card cannot carry an HK/Macao/Taiwan number")
    _check_birth_and_sex(fields, info)
    code = _field(chars, 32, 4)
    return ResidentCard(nation_code=code, nation=codes.nation_name(code) or "未知", **fields)


def _hmt(chars: str, today: dt.date | None) -> HmtPermit:
    fields = _common(chars)
    fields["birth"] = idnumber.parse_date(_field(chars, 36, 16))
    info = idnumber.validate(fields["id_number"], today)
    if info.region_code[:2] not in codes.HMT_REGIONS:
        raise RecordError("an HK/Macao/Taiwan permit number must start with 81, 82 or 83")
    _check_birth_and_sex(fields, info)
    return HmtPermit(
        permit_number=_field(chars, 220, 18), issue_count=_field(chars, 238, 4), **fields
    )


def _foreigner_2017(chars: str) -> ForeignerCard:
    number = _field(chars, 122, 30)
    idnumber.validate_permanent_residence_2017(number)
    return ForeignerCard(
        edition=2017,
        english_name=_field(chars, 0, 120),
        chinese_name=_field(chars, 158, 30),
        sex_code=_field(chars, 120, 2),
        id_number=number,
        nationality=_field(chars, 152, 6),
        birth=idnumber.parse_date(_field(chars, 220, 16)),
        valid_from=_date_or_long_term(_field(chars, 188, 16), "validity start"),
        valid_until=_date_or_long_term(_field(chars, 204, 16), "validity end"),
        card_version=_field(chars, 236, 4),
        authority_code=_field(chars, 240, 8),
        renewal_count="",
        old_number="",
    )


def _foreigner_2023(chars: str, today: dt.date | None) -> ForeignerCard:
    number = _field(chars, 122, 36)
    info = idnumber.validate_permanent_residence_2023(number, today)
    birth = idnumber.parse_date(_field(chars, 36, 16))
    sex_code = _field(chars, 30, 2)
    _check_birth_and_sex({"birth": birth, "sex_code": sex_code}, info)
    # chars 1-35 and 36-46 of one name: join the raw fields, then trim the padding
    english = (chars[52 // 2 : 122 // 2] + chars[220 // 2 : 242 // 2]).strip(" \x00\u3000")
    return ForeignerCard(
        edition=2023,
        english_name=english,
        chinese_name=_field(chars, 0, 30),
        sex_code=sex_code,
        id_number=number,
        nationality=_field(chars, 242, 6),
        birth=birth,
        valid_from=_date_or_long_term(_field(chars, 188, 16), "validity start"),
        valid_until=_date_or_long_term(_field(chars, 204, 16), "validity end"),
        card_version="",
        authority_code="",
        renewal_count=_field(chars, 32, 4),
        old_number=_field(chars, 250, 6),
    )


def parse_text(text: bytes, today: dt.date | None = None) -> Card:
    """Parse and validate a 256-byte text block; RecordError says what is wrong."""
    if len(text) != TEXT_LEN:
        raise RecordError(f"text block must be {TEXT_LEN} bytes, got {len(text)}")
    chars = text.decode("utf-16-le", errors="replace")
    flag = card_type_flag(text)
    if flag == "I":
        return _foreigner_2017(chars)
    if flag == "Y":
        return _foreigner_2023(chars, today)
    if flag == "J":
        return _hmt(chars, today)
    return _resident(chars, today)
