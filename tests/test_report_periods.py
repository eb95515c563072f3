"""Report periods tile time in any zone: consecutive periods share their bounds, every
instant falls in exactly one, across daylight-saving changes and with a cut-off that lies
on the day before the deadline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.periods import Periods

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]
T0 = int(datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
YEAR_MS = 366 * 86_400_000


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), ts=st.integers(T0, T0 + YEAR_MS),
       deadline=st.sampled_from(["16:00", "00:01", "09:30", "23:59"]),
       lead=st.integers(1, 600))
def test_every_instant_is_in_exactly_one_period(zone, ts, deadline, lead):
    periods = Periods(ZoneInfo(zone), deadline, lead)
    p = periods.period_of(ts)
    assert p.contains(ts)
    before, after = periods.period(p.day - timedelta(days=1)), periods.period(
        p.day + timedelta(days=1))
    assert before.end_ms == p.start_ms and p.end_ms == after.start_ms
    assert not before.contains(ts) and not after.contains(ts)
    assert p.end_ms <= p.deadline_ms  # the report is due after its period closes


def test_the_default_period_runs_from_yesterdays_cut_off_to_todays():
    tz = ZoneInfo("Asia/Shanghai")
    p = Periods(tz).period(date(2026, 11, 24))
    b = p.bounds(tz)
    assert (b["from"], b["to"], b["deadline"]) == (
        "2026-11-23T15:30:00+08:00", "2026-11-24T15:30:00+08:00", "2026-11-24T16:00:00+08:00")
    assert p.end_ms - p.start_ms == 86_400_000


def test_a_period_over_a_daylight_saving_change_is_as_long_as_the_local_day():
    tz = ZoneInfo("Europe/Berlin")
    periods = Periods(tz, "16:00", 30)
    longer = periods.period(date(2026, 10, 25))  # clocks go back at 03:00 that night
    assert longer.end_ms - longer.start_ms == 25 * 3_600_000
    assert periods.period(date(2026, 3, 29)).end_ms - periods.period(
        date(2026, 3, 29)).start_ms == 23 * 3_600_000


def test_a_cut_off_before_midnight_belongs_to_the_next_days_report():
    tz = ZoneInfo("Asia/Shanghai")
    periods = Periods(tz, "00:10", 30)  # due 00:10, closes 23:40 the evening before
    p = periods.period(date(2026, 11, 24))
    assert p.bounds(tz)["to"] == "2026-11-23T23:40:00+08:00"
    late_evening = int(datetime(2026, 11, 23, 23, 45, tzinfo=tz).timestamp() * 1000)
    assert periods.period_of(late_evening).day == date(2026, 11, 25)
