"""Load a district's existing venue register from CSV, and write the register back out.

Registers arrive as spreadsheets exported by many offices: with or without a BOM, in
UTF-8 or GB18030, with Chinese or English headers, and with some rows wrong. A clerk
needs every good row loaded and a list of the bad ones with line and reason to fix and
re-import (re-importing is safe: venues are keyed by code). The good rows are written
in one transaction, so an interrupted import leaves the register as it was.

Venues that already hold a code from the health-code operator come with gaps (seed 002:
they add the missing fields later, and the code stays valid). A row whose required
fields are empty loads as incomplete, with the list of what it lacks, instead of being
refused; a value that is there but wrong still refuses the row. `issued_code` carries the
payload of a code already issued for a door, kept and printed exactly as issued.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.registry import (
    VENUE_FIELDS,
    InvalidVenue,
    Registry,
    Venue,
    build_venue,
    format_doors,
    format_issued,
)

COLUMNS = VENUE_FIELDS + ("doors", "issued_code")
REQUIRED = ("code", "name", "category", "address", "manager_name", "manager_phone")
# Headers as Chinese registers write them.
ALIASES = {
    "场所编码": "code", "上级场所编码": "parent", "场所名称": "name", "场所类别": "category",
    "统一社会信用代码": "credit_code", "车牌号": "plate", "详细地址": "address",
    "功能区/商铺号": "zone", "负责人": "manager_name", "负责人电话": "manager_phone",
    "申请人": "applicant_name", "申请人电话": "applicant_phone", "出入口": "doors",
    "已申领场所码": "issued_code",
}  # fmt: skip


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); nothing was loaded."""


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class IncompleteRow:
    line: int
    code: str
    missing: tuple[str, ...]

    @property
    def reason(self) -> str:
        return f"incomplete (loaded): missing {', '.join(self.missing)}"


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    loaded: int = 0
    bad: list[BadRow] = field(default_factory=list)
    incomplete: list[IncompleteRow] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.rows} rows: {self.loaded} loaded, {len(self.bad)} refused"
        if self.incomplete:
            text += f"; {len(self.incomplete)} loaded incomplete (fields missing)"
        return text


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvFileError("file is neither UTF-8 nor GB18030 text")


def header(names: list[str]) -> list[str]:
    mapped = [ALIASES.get(n.strip(), n.strip().lower()) for n in names]
    unknown = [n for n in mapped if n not in COLUMNS]
    if unknown:
        raise CsvFileError(
            f"line 1: unknown column {unknown[0]!r}; columns are {', '.join(COLUMNS)}"
        )
    missing = [c for c in REQUIRED if c not in mapped]
    if missing:
        raise CsvFileError(f"line 1: missing column {missing[0]!r}")
    if len(set(mapped)) != len(mapped):
        raise CsvFileError("line 1: a column appears twice")
    return mapped


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str] | None, str]]:
    """(line, fields, problem) per record; `line` is where the record starts."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = header(next(reader))
    except StopIteration:
        raise CsvFileError("file is empty") from None
    width = len(names)
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, f"not valid CSV: {exc}"
            line = reader.line_num + 1
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            line = reader.line_num + 1
            continue
        if len(record) != width:
            yield line, None, f"has {len(record)} fields, the header has {width}"
        else:
            yield line, dict(zip(names, record, strict=True)), ""
        line = reader.line_num + 1


def import_csv(registry: Registry, path: Path) -> ImportReport:
    """Load every good row of `path` into the register in one transaction; report the rest."""
    text = decode(Path(path).read_bytes())
    return import_text(registry, text)


def import_text(registry: Registry, text: str) -> ImportReport:
    report = ImportReport()
    good: dict[str, tuple[int, Venue]] = {}
    for line, fields, problem in read_rows(text):
        report.rows += 1
        if fields is None:
            report.bad.append(BadRow(line, "", problem))
            continue
        code = fields.get("code", "").strip().upper()
        try:
            venue = build_venue(fields, incomplete_ok=True)
        except InvalidVenue as exc:
            report.bad.append(BadRow(line, code, str(exc)))
            continue
        if venue.code in good:
            report.bad.append(BadRow(line, code, f"venue code also on line {good[venue.code][0]}"))
            continue
        good[venue.code] = (line, venue)
    # Rows that are fine alone may still clash with the register or with each other
    # (missing parent, loops). Dropping one can orphan its children: repeat until stable.
    while True:
        problems = registry.conflicts([v for _, v in good.values()])
        if not problems:
            break
        for code, why in problems.items():
            line, _ = good.pop(code)
            report.bad.append(BadRow(line, code, why))
    registry.put_many([v for _, v in good.values()])
    report.loaded = len(good)
    report.bad.sort(key=lambda b: b.line)
    # what the register now lacks for these venues (an earlier import may have filled it)
    still = registry.incomplete()
    report.incomplete = sorted(
        (IncompleteRow(line, code, still[code]) for code, (line, _) in good.items()
         if code in still), key=lambda r: r.line)
    return report


def write_report(report: ImportReport, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "code", "reason"])
        rows = [(b.line, b.code, b.reason) for b in report.bad]
        rows += [(r.line, r.code, r.reason) for r in report.incomplete]
        for row in sorted(rows):
            writer.writerow(row)


def venue_row(venue: Venue) -> list[str]:
    values = [getattr(venue, f) or "" for f in VENUE_FIELDS]
    return values + [format_doors(venue.doors), format_issued(venue.doors)]


def export_csv(registry: Registry, path: Path) -> int:
    """Write the whole register; the file imports back unchanged. Returns the venue count."""
    count = 0
    tmp = Path(path).with_suffix(".partial")
    with open(tmp, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for venue in registry.all():
            writer.writerow(venue_row(venue))
            count += 1
    tmp.replace(path)
    return count
