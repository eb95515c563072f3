"""Paper register entries, as staff key them in after an outage: checked line by line.

During an outage the person on duty writes each visitor into the paper register (登记册):
time, door, identifier, the colour seen. Afterwards the entries are typed into the console
one at a time or uploaded as a CSV file. Each line is checked on its own: a bad line is
reported with its number and the rule it broke, and the good lines go on. Error messages
never repeat an identifier.

CSV: a header row naming the columns (English or Chinese), then one entry per line:

    time,door,document,number,nationality,colour
    2026-12-03 14:05,east-gate,id_number,41010519900101123X,,green
    时间,门,证件类型,号码,国籍,健康码

`time` is the site's local time (YYYY-MM-DD HH:MM, seconds optional, or ISO 8601 with an
offset); `document` is id_number / passport / phone (身份证 / 护照 / 手机); `nationality`
only with a passport; `colour` green / yellow / red / unknown (绿码 / 黄码 / 红码 / 未知,
empty = unknown). Files saved by Excel in GB18030 are read as well as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from firmware import manual_id

MAX_BYTES = 2_000_000
MAX_LINES = 10_000
FIELDS = ("time", "door", "document", "number", "nationality", "colour")
HEADER_WORDS = {
    "time": "time", "时间": "time", "日期时间": "time", "door": "door", "门": "door",
    "入口": "door", "document": "document", "证件类型": "document", "证件": "document",
    "number": "number", "号码": "number", "证件号码": "number", "nationality": "nationality",
    "国籍": "nationality", "colour": "colour", "color": "colour", "健康码": "colour",
    "颜色": "colour", "健康码颜色": "colour",
}
DOCUMENT_WORDS = {
    "id_number": manual_id.ID_NUMBER, "id": manual_id.ID_NUMBER, "身份证": manual_id.ID_NUMBER,
    "身份证号": manual_id.ID_NUMBER, "passport": manual_id.PASSPORT, "护照": manual_id.PASSPORT,
    "phone": manual_id.PHONE, "手机": manual_id.PHONE, "手机号": manual_id.PHONE,
    "电话": manual_id.PHONE,
}
COLOUR_WORDS = {
    "green": "green", "绿": "green", "绿码": "green", "yellow": "yellow", "黄": "yellow",
    "黄码": "yellow", "red": "red", "红": "red", "红码": "red", "unknown": "unknown",
    "未知": "unknown", "无": "unknown", "": "unknown",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One register line, checked: time to the minute (ms), door, manual credential."""

    line: int
    ts: int
    door: str
    credential: str
    colour: str


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str  # short code, translated by the console
    message: str


class EntryError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    """What a line is checked against: the site's clock and doors, and how old an entry
    may be (older ones would be purged at once by retention)."""

    tz: ZoneInfo
    now_ms: int
    oldest_ms: int
    doors: frozenset[str]


def parse_time(text: str, tz: ZoneInfo) -> int:
    """Local site time (or ISO 8601 with an offset) -> ms, truncated to the minute: a
    register is written to the minute, and the minute is part of an entry's identity."""
    value = " ".join(text.strip().replace("/", "-").replace("T", " ").split())
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise EntryError("time_format", "time must be YYYY-MM-DD HH:MM (site time)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return int(when.timestamp()) // 60 * 60_000


def check(fields: dict[str, str], line: int, limits: Limits) -> Entry:
    """One entry from its fields, or EntryError naming the first rule it breaks."""
    ts = parse_time(fields.get("time", ""), limits.tz)
    if ts > limits.now_ms:
        raise EntryError("time_future", "the time is in the future")
    if ts < limits.oldest_ms:
        raise EntryError("time_too_old", "the time is older than the retention period")
    door = fields.get("door", "").strip()
    if door not in limits.doors:
        raise EntryError("unknown_door", "no such door at this site")
    document = DOCUMENT_WORDS.get(fields.get("document", "").strip().lower())
    if document is None:
        raise EntryError("document", "document must be id_number, passport or phone")
    try:
        credential = manual_id.credential(document, fields.get("number", ""),
                                          fields.get("nationality", ""))
    except manual_id.ManualIdError as exc:
        raise EntryError(exc.reason, exc.message) from None
    colour = COLOUR_WORDS.get(fields.get("colour", "").strip().lower())
    if colour is None:
        raise EntryError("colour", "colour must be green, yellow, red or unknown")
    return Entry(line, ts, door, credential, colour)


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Excel saves on a Chinese desktop)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise EntryError("encoding", "the file is neither UTF-8 nor GB18030 text") from None


def _header(row: list[str]) -> list[str]:
    names = [HEADER_WORDS.get(cell.strip().lower(), "") for cell in row]
    missing = [f for f in FIELDS if f not in names and f != "nationality"]
    if missing:
        raise EntryError("header", "the first line must name the columns: " + ",".join(FIELDS)
                         + " (missing: " + ",".join(missing) + ")")
    return names


def read_csv(text: str, limits: Limits) -> tuple[list[Entry], list[BadLine]]:
    """Every line of a register file: the good entries and the bad lines, by line number
    (the header is line 1). Blank lines are skipped; a whole-file problem (no header, too
    many lines) raises EntryError."""
    reader = csv.reader(io.StringIO(text))
    try:
        names = _header(next(reader))
    except StopIteration:
        raise EntryError("empty", "the file is empty") from None
    except csv.Error:
        raise EntryError("header", "the first line is not CSV") from None
    return _lines(reader, names, limits)


def _lines(reader: Iterable[list[str]], names: list[str], limits: Limits
           ) -> tuple[list[Entry], list[BadLine]]:
    entries: list[Entry] = []
    bad: list[BadLine] = []
    line = 1
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error:
            line += 1
            bad.append(BadLine(line, "csv", "not a CSV line (an unclosed quote?)"))
            break
        line = getattr(reader, "line_num", line + 1)
        if line > MAX_LINES + 1:
            raise EntryError("too_many_lines", f"at most {MAX_LINES} entries per file")
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            bad.append(BadLine(line, "columns", f"{len(row)} columns, the header has "
                                                f"{len(names)}"))
            continue
        fields = {name: cell for name, cell in zip(names, row, strict=False) if name}
        try:
            entries.append(check(fields, line, limits))
        except EntryError as exc:
            bad.append(BadLine(line, exc.reason, exc.message))
    return entries, bad
