"""Report periods: consecutive intervals that tile time, one per day, each ending at the
day's cut-off.

Every unit reports its day's scans by a deadline (16:00). The report for day D counts the
scans from the previous day's cut-off up to D's cut-off, `lead` minutes before D's
deadline (15:30 by default): [cutoff(D-1), cutoff(D)). Periods share their bounds, so
every instant (and every scan, by its scan time) falls in exactly one period; a scan after
the cut-off belongs to the next day's report. Cut-offs are wall-clock times in the site's
zone (config `console.timezone`, Asia/Shanghai by default): a period is 24 hours long
except across a daylight-saving change, where it is as long as the local day was. A cut-off
before midnight (a deadline earlier than `lead` minutes after midnight) lies on the day
before D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    day: date  # the day the report is due: its label
    start_ms: int  # inclusive
    end_ms: int  # exclusive: the cut-off
    deadline_ms: int  # the report must be at the platform by then

    def contains(self, ts_ms: int) -> bool:
        return self.start_ms <= ts_ms < self.end_ms

    def bounds(self, tz: ZoneInfo) -> dict:
        """The period as a report states it: instants and local wall-clock times."""
        return {"day": self.day.isoformat(), "from_ms": self.start_ms, "to_ms": self.end_ms,
                "from": _local(self.start_ms, tz), "to": _local(self.end_ms, tz),
                "deadline": _local(self.deadline_ms, tz), "timezone": tz.key}


def _local(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")


def _minute(text: str) -> int:
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


class Periods:
    def __init__(self, tz: ZoneInfo, deadline: str = "16:00", lead_minutes: int = 30) -> None:
        self.tz = tz
        self.deadline_minute = _minute(deadline)
        self.lead_minutes = lead_minutes
        cut = self.deadline_minute - lead_minutes
        self._cut_days_before = 0
        while cut < 0:  # a cut-off on an earlier calendar day than the deadline
            cut += 24 * 60
            self._cut_days_before += 1
        self._cut = time(cut // 60, cut % 60)
        self._deadline = time(self.deadline_minute // 60, self.deadline_minute % 60)

    def _at(self, day: date, wall: time) -> int:
        return int(datetime.combine(day, wall, tzinfo=self.tz).timestamp() * 1000)

    def cutoff(self, day: date) -> int:
        """The instant day D's period ends."""
        return self._at(day - self._cut_days_before * DAY, self._cut)

    def period(self, day: date) -> Period:
        return Period(day, self.cutoff(day - DAY), self.cutoff(day), self._at(day, self._deadline))

    def period_of(self, ts_ms: int) -> Period:
        """The one period that holds this instant."""
        day = datetime.fromtimestamp(ts_ms / 1000, self.tz).date() - DAY
        while self.cutoff(day) <= ts_ms:
            day += DAY
        return self.period(day)

    def closed(self, first: date, now_ms: int) -> list[Period]:
        """Periods from `first` whose cut-off has passed, oldest first."""
        out = []
        day = first
        while (p := self.period(day)).end_ms <= now_ms:
            out.append(p)
            day += DAY
        return out

    def cutoff_text(self) -> str:
        return self._cut.strftime("%H:%M")
