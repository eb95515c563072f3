"""The one place that knows the provincial platform's upload format ("河南省场所码建设标准
2.0", the province's venue-code construction standard, version 2.0).

That standard is not public. What is here is a STAND-IN: field names and shapes chosen by
this project, served the same way by the platform simulator (simulators/platform.py) and
documented in docs/platform-api.md. When the real specification is available, this module
is what changes: every mapping from the gateway's own records to the platform's wire is
here, and nothing else in the gateway builds or reads platform bodies.

- `scan_record`: one scan as uploaded (POST /api/v1/records).
- `venue_record`: one venue registration (POST /api/v1/venues, provisioning/upload.py).
- `daily_reports` / `report_results`: the units' daily counts (POST /api/v1/daily-reports)
  and the platform's answer per report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from firmware import protocol

if TYPE_CHECKING:
    from provisioning.registry import Door, Venue

FORMAT = "placecode-standin/2.0"  # says on the wire that this is not the real standard

REPORT_STATES = ("confirmed", "mismatched", "superseded", "rejected")
_COLOURS = ("green", "yellow", "red", "unknown", "offline")
_KINDS = ("manual", "transcribed")  # of the scans: registered by hand; from the paper register


def scan_record(site: str, msg: dict, flags: Iterable[str] = (), skew_ts: int | None = None,
                paper: tuple[str, int] | None = None) -> dict:
    """A stored scan as the platform receives it. `flags`: what the gateway did not
    believe of it (gateway/kiosk_trust.py); `skew_ts`: the gateway's receive time, reported
    as the scan's time when the kiosk's clock was too far off (its own is kept as
    `kiosk_ts`); `paper`: (colour seen, when keyed in) for an entry transcribed from the
    paper register after an outage."""
    record = {
        "key": msg["id"],
        "site": site,
        "kiosk": msg["kiosk"],
        "door": msg["door"],
        "seq": msg["seq"],
        "ts": msg["ts"],
        "method": msg["method"],
        "medium": msg.get("medium", "unknown"),
        "credential": msg["credential"],
    }
    if protocol.epoch_of(msg):
        record["epoch"] = msg["epoch"]  # with kiosk and seq, the scan's place in its numbering
    if "name" in msg:
        record["name"] = msg["name"]
    if "temp_dc" in msg:
        record["temp_dc"] = msg["temp_dc"]  # body temperature, tenths of a degree
    flags = list(flags)
    if flags:
        record["flags"] = flags
        if skew_ts is not None:
            record["ts"], record["kiosk_ts"] = skew_ts, msg["ts"]
    if paper is not None:
        record["transcribed"] = True
        record["colour_seen"], record["keyed_ms"] = paper
    return record


def venue_record(venue: Venue, qr: Callable[[Door], str]) -> dict:
    """A venue registration; `qr(door)`: what the door's poster encodes (an issued code is
    sent unchanged, and marked so)."""
    return {
        "code": venue.code, "parent_code": venue.parent, "name": venue.name,
        "category": venue.category, "credit_code": venue.credit_code, "plate": venue.plate,
        "division": venue.code[:6], "address": venue.address, "zone": venue.zone,
        "manager_name": venue.manager_name, "manager_phone": venue.manager_phone,
        "applicant_name": venue.applicant_name, "applicant_phone": venue.applicant_phone,
        "doors": [{"code": d.code, "name": d.name, "qr": qr(d), "issued": d.issued is not None}
                  for d in venue.doors],
    }  # fmt: skip


def daily_report(report: dict, revision: int, late: bool) -> dict:
    """One unit's report (gateway/report.py) on the wire."""
    p = report["period"]
    return {
        "format": FORMAT,
        "unit_code": report["unit"],
        "identifier": report["identifier"],
        "identifier_type": report["identifier_kind"],
        "unit_name": report["name"],
        "category": report["category"],
        "parent_code": report["parent"],
        "site": report["site"],
        "period": {"label": p["day"], "from": p["from"], "to": p["to"],
                   "from_ms": p["from_ms"], "to_ms": p["to_ms"], "timezone": p["timezone"]},
        "revision": revision,
        "late": late,
        "generated_ms": report["generated_ms"],
        "total": report["scans"],
        "by_colour": {c: report[c] for c in _COLOURS},
        "by_kind": {k: report[k] for k in _KINDS},
        "doors": [{"door": d["door"], "unit_code": d["unit"], "scans": d["scans"],
                   **{c: d[c] for c in (*_COLOURS, *_KINDS)}} for d in report["doors"]],
        "units": [{"unit_code": u["unit"], "scans": u["scans"]} for u in report["units"]],
    }


def daily_reports(encoded: list[str]) -> bytes:
    """The request body for a batch of reports, each already encoded as a JSON object (as
    the reporter keeps them): joined, not decoded and encoded again."""
    return ('{"reports":[' + ",".join(encoded) + "]}").encode()


@dataclass(frozen=True, slots=True)
class ReportResult:
    unit: str
    day: str
    revision: int
    state: str  # one of REPORT_STATES
    difference: dict | None  # what the platform counted differently, when mismatched
    reason: str = ""


class BadAnswer(ValueError):
    """The platform answered 200 with a body this format does not describe."""


def report_results(answer: object) -> list[ReportResult]:
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise BadAnswer("no results list")
    out = []
    for item in answer["results"]:
        try:
            state = item["status"]
            if state not in REPORT_STATES:
                raise BadAnswer(f"unknown status {state!r}")
            out.append(ReportResult(str(item["unit_code"]), str(item["period"]),
                                    int(item["revision"]), state, item.get("difference"),
                                    str(item.get("reason", ""))))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadAnswer(f"result {item!r}: {exc}") from None
    return out
