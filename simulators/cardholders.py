"""Fictional cardholders for the ID-card reader simulator, the same for every seed value.

Each cardholder renders the exact bytes a card gives a reader: the 256-byte UCS-2 text
block in the layout of its card type (resident, HK/Macao/Taiwan permit, 2017 and 2023
foreigner cards), a 1024-byte opaque "WLT" photo and optional fingerprints. Encoding here
is written independently of firmware/kiosk/idcard/record.py, so a test that reads a card
back checks the parser against a second implementation of the layout, not against itself.
All names and numbers are invented; ID numbers carry valid GB 11643 check characters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
KINDS = ("resident", "hmt", "foreigner2017", "foreigner2023")
# index % 8 -> kind: mostly residents, as at a real door
_KIND_CYCLE = (
    "resident",
    "resident",
    "hmt",
    "resident",
    "foreigner2017",
    "resident",
    "foreigner2023",
    "resident",
)

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
    "余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅玉珍凤琴云芝春燕德福生志成"
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
REGIONS = (
    ("410102", "河南省郑州市中原区", "郑州市公安局中原分局"),
    ("410105", "河南省郑州市金水区", "郑州市公安局金水分局"),
    ("410202", "河南省开封市龙亭区", "开封市公安局龙亭分局"),
    ("410302", "河南省洛阳市老城区", "洛阳市公安局老城分局"),
    ("410702", "河南省新乡市红旗区", "新乡市公安局红旗分局"),
    ("110105", "北京市朝阳区", "北京市公安局朝阳分局"),
    ("440305", "广东省深圳市南山区", "深圳市公安局南山分局"),
)
STREETS = ("花园路", "文化路", "建设路", "人民路", "解放路", "中山路", "黄河路", "农业路")
NATION_CODES = ("01",) * 8 + ("03", "02", "08", "11", "04", "05", "06", "97", "98")
# (alpha-3, numeric, English surname/given pool)
COUNTRIES = (
    ("USA", "840", ("SMITH", "JOHNSON", "MILLER"), ("JOHN", "MARY", "ROBERT")),
    ("GBR", "826", ("TAYLOR", "BROWN", "WILSON"), ("OLIVER", "EMMA", "GEORGE")),
    ("DEU", "276", ("MUELLER", "SCHMIDT", "FISCHER"), ("LUKAS", "ANNA", "FELIX")),
    ("KOR", "410", ("KIM", "LEE", "PARK"), ("MINJUN", "SEOYEON", "JIHO")),
    ("CAN", "124", ("MARTIN", "TREMBLAY", "ROY"), ("LIAM", "OLIVIA", "NOAH")),
)


def check_character(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True, slots=True)
class Cardholder:
    index: int
    kind: str  # resident | hmt | foreigner2017 | foreigner2023
    name: str  # Chinese name ('' if none)
    english_name: str
    sex_code: str
    nation_code: str
    birth: str  # YYYYMMDD
    address: str
    id_number: str
    authority: str
    valid_from: str
    valid_until: str  # YYYYMMDD or 长期
    permit_number: str = ""
    issue_count: str = ""
    nationality: str = ""
    card_version: str = ""
    authority_code: str = ""
    renewal_count: str = ""
    old_number: str = ""
    appended_address: str = ""
    fingerprint_len: int = 0  # 0, 512 or 1024

    def __repr__(self) -> str:  # personal data (fictional, but handled like the real thing)
        return f"Cardholder(index={self.index}, kind={self.kind!r})"

    @property
    def display_name(self) -> str:
        return self.name or self.english_name

    def text_block(self) -> bytes:
        return _text_block(self)

    def photo(self) -> bytes:
        return _opaque(
            self.index, b"WL" + (102).to_bytes(2, "little") + (126).to_bytes(2, "little"), 1024
        )

    def fingerprint(self) -> bytes:
        return _opaque(self.index + 100_000, b"", self.fingerprint_len)


def _opaque(seed: int, head: bytes, size: int) -> bytes:
    """Deterministic stand-in bytes for encrypted data that never contain a frame preamble."""
    if size == 0:
        return b""
    rng = random.Random(seed)
    data = bytearray(head + rng.randbytes(size - len(head)))
    while (pos := data.find(PREAMBLE)) != -1:
        data[pos + 4] ^= 0x01
    return bytes(data)


def _put(buf: bytearray, offset: int, size: int, text: str) -> None:
    raw = text.encode("utf-16-le")
    if len(raw) > size:
        raise ValueError(f"field at {offset} holds {size} bytes, text needs {len(raw)}")
    buf[offset : offset + size] = raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def _text_block(c: Cardholder) -> bytes:
    buf = bytearray(" ".encode("utf-16-le") * 128)
    if c.kind in ("resident", "hmt"):
        _put(buf, 0, 30, c.name)
        _put(buf, 30, 2, c.sex_code)
        _put(buf, 32, 4, c.nation_code if c.kind == "resident" else "")
        _put(buf, 36, 16, c.birth)
        _put(buf, 52, 70, c.address)
        _put(buf, 122, 36, c.id_number)
        _put(buf, 158, 30, c.authority)
        _put(buf, 188, 16, c.valid_from)
        _put(buf, 204, 16, c.valid_until)
        if c.kind == "hmt":
            _put(buf, 220, 18, c.permit_number)
            _put(buf, 238, 4, c.issue_count)
            _put(buf, 248, 2, "J")
    elif c.kind == "foreigner2017":
        _put(buf, 0, 120, c.english_name)
        _put(buf, 120, 2, c.sex_code)
        _put(buf, 122, 30, c.id_number)
        _put(buf, 152, 6, c.nationality)
        _put(buf, 158, 30, c.name)
        _put(buf, 188, 16, c.valid_from)
        _put(buf, 204, 16, c.valid_until)
        _put(buf, 220, 16, c.birth)
        _put(buf, 236, 4, c.card_version)
        _put(buf, 240, 8, c.authority_code)
        _put(buf, 248, 2, "I")
    else:  # foreigner2023
        english = c.english_name.ljust(35)
        _put(buf, 0, 30, c.name)
        _put(buf, 30, 2, c.sex_code)
        _put(buf, 32, 4, c.renewal_count)
        _put(buf, 36, 16, c.birth)
        _put(buf, 52, 70, english[:35])
        _put(buf, 122, 36, c.id_number)
        _put(buf, 188, 16, c.valid_from)
        _put(buf, 204, 16, c.valid_until)
        _put(buf, 220, 22, english[35:46].rstrip())
        _put(buf, 242, 6, c.nationality)
        _put(buf, 248, 2, "Y")
        _put(buf, 250, 6, c.old_number)
    return bytes(buf)


def _chinese_name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.05 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _validity(rng: random.Random, birth_year: int) -> tuple[str, str]:
    issued = rng.randint(max(birth_year + 16, 2010), 2025)
    start = f"{issued}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    age = issued - birth_year
    if age >= 46:
        return start, "长期"
    years = 20 if age >= 26 else 10
    return start, f"{issued + years}{start[4:]}"


def _cardholder(index: int, seed: int) -> Cardholder:
    rng = random.Random(seed * 1_000_003 + index)
    kind = _KIND_CYCLE[index % len(_KIND_CYCLE)]
    year = rng.randint(1935, 2005)
    birth = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    sex_code = rng.choice("12")
    seq = rng.randint(0, 99) * 10 + int(rng.choice("13579" if sex_code == "1" else "02468"))
    valid_from, valid_until = _validity(rng, year)
    common = {
        "index": index,
        "kind": kind,
        "sex_code": sex_code,
        "birth": birth,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    if kind in ("resident", "hmt"):
        region, place, authority = rng.choice(REGIONS)
        if kind == "hmt":
            region = rng.choice(("810000", "820000", "830000"))
            authority = {"81": "深圳市公安局", "82": "珠海市公安局", "83": "厦门市公安局"}[
                region[:2]
            ]
        first17 = f"{region}{birth}{seq:03d}"
        address = f"{place}{rng.choice(STREETS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}号楼"
        extra: dict = {}
        if kind == "hmt":
            prefix = {"81": "H", "82": "M", "83": ""}[region[:2]]
            extra = {
                "permit_number": prefix + f"{rng.randint(0, 10**8 - 1):08d}",
                "issue_count": f"{rng.randint(1, 5):02d}",
            }
        elif rng.random() < 0.25:
            extra = {"appended_address": f"{place}{rng.choice(STREETS)}{rng.randint(1, 300)}号"}
        return Cardholder(
            name=_chinese_name(rng),
            english_name="",
            nation_code=rng.choice(NATION_CODES) if kind == "resident" else "",
            address=address,
            id_number=first17 + check_character(first17),
            authority=authority,
            fingerprint_len=rng.choice((0, 0, 512, 1024)),
            **common,
            **extra,
        )
    alpha3, numeric, surnames, given = rng.choice(COUNTRIES)
    english = f"{rng.choice(surnames)}, {rng.choice(given)}"
    if index % 3 == 0:  # some names need the 2023 card's second name field (chars 36-46)
        english += " " + "ALEXANDER-MAXIMILIAN-CHRISTOPHER"[: rng.randint(24, 32)]
    province = rng.choice(("11", "31", "41", "44"))
    chinese = _chinese_name(rng) if rng.random() < 0.7 else ""
    if kind == "foreigner2017":
        number = f"{alpha3}{province}{birth[2:]}{rng.randint(0, 9999):04d}"
        return Cardholder(
            name=chinese,
            english_name=english[:60],
            nation_code="",
            address="",
            id_number=number,
            authority="",
            nationality=alpha3,
            card_version="17",
            authority_code=f"{province}00",
            **common,
        )
    first17 = f"9{province}{numeric}{birth}{seq:03d}"
    return Cardholder(
        name=chinese,
        english_name=english[:46],
        nation_code="",
        address="",
        id_number=first17 + check_character(first17),
        authority="",
        nationality=alpha3,
        renewal_count="00",
        old_number=f"{rng.randint(0, 999):03d}",
        **common,
    )


@lru_cache(maxsize=8)
def cardholders(seed: int = 2022, count: int = 64) -> tuple[Cardholder, ...]:
    """The first `count` fictional cardholders for `seed`; every kind appears in any 8."""
    return tuple(_cardholder(i, seed) for i in range(count))


def resident_card_for(id_number: str, name: str) -> Cardholder:
    """A resident card for someone the platform simulator knows (simulators/population.py),
    so a card laid on the simulated reader gets that person's real verdict."""
    rng = random.Random(id_number)
    region = next((r for r in REGIONS if r[0] == id_number[:6]), None)
    place, authority = (region[1], region[2]) if region else ("河南省郑州市", "郑州市公安局")
    valid_from, valid_until = _validity(rng, int(id_number[6:10]))
    return Cardholder(
        index=10_000 + int(id_number[14:17]),
        kind="resident",
        name=name,
        english_name="",
        sex_code="1" if int(id_number[16]) % 2 else "2",
        nation_code="01",
        birth=id_number[6:14],
        address=f"{place}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
        id_number=id_number,
        authority=authority,
        valid_from=valid_from,
        valid_until=valid_until,
    )
