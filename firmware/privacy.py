"""Masks for personal data: what may appear in logs, on a console or in an installer's
terminal instead of a name, an ID number, an address or a code token.

Pure string functions with no imports, so the same file runs on the Pi (CPython), on the
gateway console and on MicroPython boards. A mask keeps just enough to tell two people
apart at a glance ('张*明', '410***********1234') and never enough to identify one.
"""


def _stars(count):
    return "*" * count if count > 0 else ""


def mask_middle(text: str, keep_start: int, keep_end: int) -> str:
    """Keep `keep_start` leading and `keep_end` trailing characters, star the rest.
    A text too short to hide anything is starred completely."""
    if text is None:
        return ""
    length = len(text)
    if length <= keep_start + keep_end:
        return _stars(length)
    return text[:keep_start] + _stars(length - keep_start - keep_end) + text[length - keep_end :]


def _is_latin(text):
    return all(ord(ch) <= 0x2FF for ch in text)


def mask_name(name: str) -> str:
    """'张三明' -> '张*明', '张三' -> '张*', '欧阳小明' -> '欧**明',
    'ZHANG, SAN' -> 'Z****, S**'."""
    if not name:
        return ""
    name = name.strip()
    if _is_latin(name):
        out = []
        start = True
        for ch in name:
            if ch in " ,-.'":
                out.append(ch)
                start = True
            elif start:
                out.append(ch)
                start = False
            else:
                out.append("*")
        return "".join(out)
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return mask_middle(name, 1, 1)


def mask_id_number(number: str) -> str:
    """'410105199001011234' -> '410***********1234'; 15-character numbers keep 3 + 4 too."""
    if not number:
        return ""
    if len(number) < 8:
        return _stars(len(number))
    return mask_middle(number, 3, 4)


def mask_document_number(number: str) -> str:
    """Travel-permit and similar short numbers: only the last 2 characters stay."""
    if not number:
        return ""
    return mask_middle(number, 0, 2) if len(number) > 4 else _stars(len(number))


def mask_address(address: str) -> str:
    """Keep the first 6 characters (province and city), star the rest."""
    if not address:
        return ""
    return (
        mask_middle(address, 6, 0) if len(address) > 6 else address[:2] + _stars(len(address) - 2)
    )


def mask_phone(phone: str) -> str:
    """'13812345678' -> '138****5678'."""
    if not phone:
        return ""
    return mask_middle(phone, 3, 4)


def mask_token(token: str) -> str:
    """Code tokens: the first 4 characters and the length, never the rest."""
    if not token:
        return ""
    if len(token) <= 8:
        return _stars(len(token))
    return token[:4] + "***(" + str(len(token)) + ")"


def mask_date(iso_date: str) -> str:
    """'1990-01-01' -> '1990-**-**': the year alone is not identifying."""
    if not iso_date:
        return ""
    return iso_date[:4] + "".join("*" if c.isdigit() else c for c in iso_date[4:])
