"""A synthetic district register, for the import benchmark, the tests and the demo.

Real registers hold personal data and cannot live in the repository; this one has the
same shape as Erqi district's (malls with shops inside, markets with stalls, buses by
plate) and valid check characters, so the import does its full work on every row.
"""

from __future__ import annotations

import csv
import io
import random

from provisioning.csv_io import COLUMNS
from provisioning.validators import CREDIT_ALPHABET, credit_check_char

DIVISION = "410103"  # Erqi district, Zhengzhou
_SMALL = (
    "small_shop",
    "restaurant",
    "hostel",
    "karaoke",
    "bath_house",
    "chess_room",
    "internet_cafe",
)
_STREETS = ("大学路", "航海路", "嵩山路", "兴华街", "长江路", "京广路")


def credit_code(rng: random.Random) -> str:
    body = "91" + DIVISION + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return body + credit_check_char(body)


def venue_code(serial: int) -> str:
    return f"{DIVISION}{serial:08d}"


def rows(n: int, seed: int = 1) -> list[list[str]]:
    """n venue rows; every 50th venue is a mall whose next 10 rows are shops inside it."""
    rng = random.Random(seed)
    out: list[list[str]] = []
    mall = ""
    for i in range(n):
        code = venue_code(i + 1)
        street = rng.choice(_STREETS)
        phone = f"13{rng.randrange(10**9):09d}"
        if i % 50 == 0:
            mall = code
            fields = [
                code,
                "",
                f"{street}购物中心{i}",
                "supermarket",
                credit_code(rng),
                "",
                f"郑州市二七区{street}{i}号",
                "",
                "王经理",
                phone,
                "",
                "",
                "E1:东门;W1:西门;N1:北门;S1:南门;P1:停车场入口",
            ]
        elif i % 50 <= 10:
            fields = [
                code,
                mall,
                f"{street}商铺{i}",
                rng.choice(_SMALL),
                "",
                "",
                f"郑州市二七区{street}购物中心",
                f"{i % 50}F-{i:05d}",
                "李店长",
                phone,
                "",
                "",
                "01:店门",
            ]
        elif i % 97 == 0:
            fields = [
                code,
                "",
                f"{i}路公交车",
                "bus",
                "",
                f"豫A{rng.randrange(10**5):05d}",
                "郑州市公交总公司",
                "",
                "赵队长",
                phone,
                "",
                "",
                "01:前门;02:后门",
            ]
        else:
            fields = [
                code,
                "",
                f"{street}小店{i}",
                rng.choice(_SMALL),
                credit_code(rng),
                "",
                f"郑州市二七区{street}{i}号",
                "",
                "张老板",
                phone,
                "",
                "",
                "",
            ]
        out.append(fields + [""])  # fmt: skip  # no issued code
    return out


BAD_ROWS = {
    # line offset in the data (0-based) -> (field index, bad value, what is wrong)
    7: (4, "9141010361234567X0", "credit code check character"),
    123: (9, "12345", "phone number"),
    4567: (3, "spaceship", "category"),
    45678: (12, "01:东门;01:西门", "duplicate door"),
    77777: (1, "41010399999999", "parent not registered"),
}


def csv_text(
    n: int, seed: int = 1, bad: bool = True, fixes: dict[int, list[str]] | None = None
) -> tuple[str, dict[int, str]]:
    """CSV text and {file line: what is wrong} for the planted bad rows (line 1 = header).
    `fixes`, if given, receives {file line: the row as it should have been}."""
    data = rows(n, seed)
    planted: dict[int, str] = {}
    if bad:
        for offset, (index, value, what) in BAD_ROWS.items():
            if offset < n and not (offset % 50 == 0 and index == 1):
                if fixes is not None:
                    fixes[offset + 2] = list(data[offset])
                data[offset][index] = value
                planted[offset + 2] = what
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(data)
    return buf.getvalue(), planted
