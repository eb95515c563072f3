"""Identifiers staff key in for a visitor with neither phone nor ID card: a resident ID
number (GB 11643 check character), a passport number with its nationality, or a phone
number. Shared by the kiosk's screen, the gateway's console and the platform client.

A manual scan's `credential` (docs/protocol.md) is one string naming its kind:

    id_number:41010519900101123X
    passport:USA:E12345678
    phone:13812345678

`parse` checks and normalises what a person typed (spaces, dashes, a lower-case x, a
+86 prefix) and raises ManualIdError with a short reason code and a message that never
repeats the identifier. It runs unchanged on MicroPython (no typing, no re, no datetime),
like firmware/protocol.py, so a board-side form could use it too.
"""

ID_NUMBER = "id_number"
PASSPORT = "passport"
PHONE = "phone"
DOCUMENTS = (ID_NUMBER, PASSPORT, PHONE)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# ICAO 9303 document numbers are up to 9 characters; some states issue longer ones.
PASSPORT_LEN = (5, 17)


class ManualIdError(ValueError):
    """What a person typed is not a usable identifier; `reason` is a short code the
    console translates, `message` says which rule was broken (never the value)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_character(first17):
    """The GB 11643 check character for the first 17 digits of an ID number."""
    total = 0
    for i in range(17):
        total += (ord(first17[i]) - 48) * WEIGHTS[i]
    return CHECK_CHARS[total % 11]


def _compact(text):
    out = []
    for ch in text:
        if ch not in " -\t":
            out.append(ch)
    return "".join(out)


def _all_in(text, alphabet):
    return all(ch in alphabet for ch in text)


def id_number(text):
    """An 18-character resident ID number: 17 digits, a real birth date, and the check
    character GB 11643 gives (X in upper case)."""
    number = _compact(text).upper()
    if len(number) != 18:
        raise ManualIdError("id_length", "an ID number has 18 characters, got %d" % len(number))
    body = number[:17]
    if not _all_in(body, _DIGITS) or number[17] not in "0123456789X":
        raise ManualIdError("id_characters", "an ID number is 17 digits and a digit or X")
    year, month, day = int(body[6:10]), int(body[10:12]), int(body[12:14])
    if year < 1880 or not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1]:
        raise ManualIdError("id_birth_date", "the birth date in the ID number is not a real date")
    if check_character(body) != number[17]:
        raise ManualIdError("id_check_digit",
                            "the check character does not match (GB 11643): a digit is wrong")
    return number


def nationality(text):
    """ISO 3166-1 alpha-3 / ICAO nationality code, as printed in the passport (USA, KOR)."""
    code = _compact(text).upper()
    if len(code) != 3 or not _all_in(code, _UPPER):
        raise ManualIdError("nationality", "nationality is the 3-letter code in the passport "
                                           "(e.g. USA, KOR, RUS)")
    return code


def passport(text):
    number = _compact(text).upper()
    low, high = PASSPORT_LEN
    if not low <= len(number) <= high or not _all_in(number, _DIGITS + _UPPER):
        raise ManualIdError("passport_number", "a passport number is %d-%d letters and digits"
                            % (low, high))
    return number


def phone(text):
    """A mainland mobile number: 11 digits starting 13-19 (a +86 or 0086 prefix is dropped)."""
    number = _compact(text)
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix):]
    if len(number) != 11 or not _all_in(number, _DIGITS) or number[0] != "1" \
            or number[1] not in "3456789":
        raise ManualIdError("phone", "a mobile number has 11 digits and starts with 13-19")
    return number


def credential(document, number, nationality_code=""):
    """The manual scan's credential for what staff typed, checked and normalised."""
    if document == ID_NUMBER:
        return ID_NUMBER + ":" + id_number(number)
    if document == PASSPORT:
        return PASSPORT + ":" + nationality(nationality_code) + ":" + passport(number)
    if document == PHONE:
        return PHONE + ":" + phone(number)
    raise ManualIdError("document", "the document is an ID number, a passport or a phone")


def parse(value):
    """(document, number, nationality or "") of a manual credential, checked again: a
    credential arriving over the wire is not trusted to be well-formed."""
    if not isinstance(value, str):
        raise ManualIdError("document", "not a manual credential")
    document, _, rest = value.partition(":")
    if document == PASSPORT:
        code, _, number = rest.partition(":")
        return PASSPORT, passport(number), nationality(code)
    if document == ID_NUMBER:
        return ID_NUMBER, id_number(rest), ""
    if document == PHONE:
        return PHONE, phone(rest), ""
    raise ManualIdError("document", "not a manual credential")


def is_credential(value):
    try:
        parse(value)
    except ManualIdError:
        return False
    return True
