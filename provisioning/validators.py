"""Field checks for venue registration, each returning the normalised value or raising.

A district's register is typed by hand in many offices; the same phone number arrives
as "0371-6688 1234" and "037166881234". Normalising here means duplicates are found and
the province receives one spelling. Every error message says which rule was broken so
a clerk can fix the row without reading code.
"""

from __future__ import annotations

import re

# GB 32100-2015: 18 characters from this 31-character alphabet (no I, O, Z, S, V).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {ch: i for i, ch in enumerate(CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Province character, issuing-office letter, then 5 (ordinary) or 6 (new-energy) characters;
# I and O are never used on plates.
_PLATE = re.compile(
    rf"^[{_PROVINCES}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警]([A-HJ-NP-Z0-9])?$"
)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area codes 010 and 02x have three digits, all others four; local numbers 7-8 digits.
_LANDLINE = re.compile(r"^(010|02\d|0[3-9]\d{2})([2-9]\d{6,7})$")
_PHONE_JUNK = re.compile(r"[\s\-()（）]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FieldError(ValueError):
    """One field broke one rule; `field` names it for the row report."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(_CREDIT_VALUE[ch] * w for ch, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code(value: str, field: str = "credit_code") -> str:
    code = value.strip().upper()
    if len(code) != 18:
        raise FieldError(
            field, f"unified social credit code must be 18 characters, got {len(code)}"
        )
    bad = [ch for ch in code if ch not in _CREDIT_VALUE]
    if bad:
        raise FieldError(field, f"character {bad[0]!r} is not allowed in a credit code (GB 32100)")
    if not code[2:8].isdigit():
        raise FieldError(field, "characters 3-8 must be the administrative division code (digits)")
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        raise FieldError(field, f"check character is {code[17]!r}, GB 32100 gives {expected!r}")
    return code


def plate(value: str, field: str = "plate") -> str:
    text = (
        value.strip().upper().replace("·", "").replace("•", "").replace(" ", "").replace("-", "")
    )
    if not _PLATE.match(text):
        raise FieldError(
            field, f"{value.strip()!r} is not a Chinese vehicle plate (e.g. 豫A12345, 豫AD12345)"
        )
    return text


def phone(value: str, field: str = "manager_phone") -> str:
    """A mainland mobile number (11 digits) or a landline with area code, as 0371-66881234."""
    text = _PHONE_JUNK.sub("", value.strip())
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if _MOBILE.match(text):
        return text
    land = _LANDLINE.match(text)
    if land:
        area, number = land.groups()
        return f"{area}-{number}"
    raise FieldError(
        field, f"{mask(value.strip())!r} is neither a mobile number nor a landline with area code"
    )


def mask(value: str) -> str:
    """A personal value as reports may show it: enough to find the row, not to call it."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def text(value: str, field: str, max_len: int, required: bool = True) -> str:
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise FieldError(field, "is required")
    if len(cleaned) > max_len:
        raise FieldError(field, f"is {len(cleaned)} characters, at most {max_len}")
    if _CONTROL.search(cleaned):
        raise FieldError(field, "contains control characters")
    return cleaned
