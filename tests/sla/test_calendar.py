"""Business-time arithmetic against hand-computed cases, and its invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okno.sla.calendar import BusinessCalendar, ClosedCalendar

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


OFFICE = BusinessCalendar.weekdays(time(9), time(18), "Europe/Moscow")
# 2026-11-27 is a Friday, 2026-11-30 the Monday after
FRIDAY, MONDAY, TUESDAY = date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1)


def test_the_issues_scenarios() -> None:
    assert OFFICE.add(msk(2026, 11, 27, 17, 30), HOUR) == msk(2026, 11, 30, 9, 30)
    assert OFFICE.add(msk(2026, 11, 27, 19, 30), HOUR) == msk(2026, 11, 30, 10, 0)
    holiday = BusinessCalendar.weekdays(time(9), time(18), "Europe/Moscow", frozenset({MONDAY}))
    assert holiday.add(msk(2026, 11, 27, 17, 30), HOUR) == msk(2026, 12, 1, 9, 30)
    assert holiday.add(msk(2026, 11, 27, 19, 30), HOUR) == msk(2026, 12, 1, 10, 0)


def test_between_counts_only_open_time() -> None:
    assert OFFICE.between(msk(2026, 11, 27, 17, 30), msk(2026, 11, 30, 9, 30)) == HOUR
    assert OFFICE.between(msk(2026, 11, 28, 10), msk(2026, 11, 29, 10)) == timedelta(0)  # a weekend
    assert OFFICE.between(msk(2026, 11, 30, 9), msk(2026, 12, 4, 18)) == 5 * 9 * HOUR
    assert OFFICE.between(msk(2026, 11, 30, 12), msk(2026, 11, 30, 11)) == timedelta(0)


def test_several_intervals_a_day_skip_the_lunch_break() -> None:
    split = BusinessCalendar(MSK, {d: ((time(9), time(13)), (time(14), time(18))) for d in range(5)})
    assert split.add(msk(2026, 11, 30, 12, 30), HOUR) == msk(2026, 11, 30, 14, 30)
    assert split.add(msk(2026, 11, 30, 13, 20), HOUR) == msk(2026, 11, 30, 15, 0)
    assert not split.is_open(msk(2026, 11, 30, 13, 30)) and split.is_open(msk(2026, 11, 30, 14, 0))


def test_overnight_shifts() -> None:
    night = BusinessCalendar(MSK, {d: ((time(22), time(6)),) for d in range(7)})
    assert night.add(msk(2026, 11, 30, 23), 3 * HOUR) == msk(2026, 12, 1, 2)
    assert night.add(msk(2026, 12, 1, 5, 30), HOUR) == msk(2026, 12, 1, 22, 30)
    assert night.is_open(msk(2026, 12, 1, 3)) and not night.is_open(msk(2026, 12, 1, 12))
    # an overnight shift running into an early-morning interval is not counted twice
    overlap = BusinessCalendar(MSK, {0: ((time(22), time(6)),), 1: ((time(5), time(9)),)})
    assert overlap.between(msk(2026, 11, 30, 21), msk(2026, 12, 1, 10)) == 11 * HOUR


def test_a_dst_zone_counts_real_hours() -> None:
    # Berlin moves to summer time on Sunday 2026-03-29 at 02:00 (clocks go to 03:00)
    always = BusinessCalendar(BERLIN, {d: ((time(0), time(0)),) for d in range(7)})
    saturday_noon = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    sunday_noon = datetime(2026, 3, 29, 12, tzinfo=BERLIN)
    assert always.between(saturday_noon, sunday_noon) == 23 * HOUR
    office = BusinessCalendar.weekdays(time(9), time(18), "Europe/Berlin")
    deadline = office.add(datetime(2026, 3, 27, 17, 30, tzinfo=BERLIN), HOUR)
    assert deadline == datetime(2026, 3, 30, 9, 30, tzinfo=BERLIN)
    assert deadline == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)  # summer time now: UTC+2


def test_a_calendar_with_no_open_time_is_an_error() -> None:
    with pytest.raises(ClosedCalendar):
        BusinessCalendar(MSK, {}).add(msk(2026, 11, 30, 9), HOUR)


starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
durations = st.integers(min_value=1, max_value=200 * 60).map(lambda m: timedelta(minutes=m))
calendars = st.sampled_from(
    [
        OFFICE,
        BusinessCalendar(MSK, {d: ((time(9), time(13)), (time(14), time(18))) for d in range(6)}, frozenset({date(2026, 1, 1), date(2026, 1, 2)})),
        BusinessCalendar(MSK, {d: ((time(22), time(6)),) for d in range(7)}),
        BusinessCalendar.weekdays(time(8, 30), time(17), "Europe/Berlin"),
        BusinessCalendar.weekdays(time(9), time(17), "America/New_York"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(calendars, starts, durations)
def test_a_deadline_always_lands_inside_business_hours(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> None:
    deadline = calendar.add(start, duration)
    assert calendar.is_open(deadline - timedelta(microseconds=1))
    assert calendar.between(start, deadline) == duration
    assert deadline >= start
