"""Business-time arithmetic: published vectors, split days, days off, and its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import ALWAYS_CALENDAR, Calendar, parse_interval

WEEKDAYS_8_17 = Calendar(
    name="office", hours={d: ["08:00-17:00"] for d in ["mon", "tue", "wed", "thu", "fri"]}
)
WEEKDAYS_8_18 = Calendar(
    name="office", hours={d: ["08:00-18:00"] for d in ["mon", "tue", "wed", "thu", "fri"]}
)
UNEVEN = Calendar(
    name="uneven",
    hours={"mon": ["09:00-17:00"], "tue": ["09:00-16:00"], "thu": ["08:00-17:00"]},
)
LUNCH = Calendar(
    name="lunch",
    hours={d: ["09:00-12:00", "13:00-17:00"] for d in ["mon", "tue", "wed", "thu", "fri"]},
    holidays=[datetime(2026, 12, 24).date(), datetime(2026, 12, 31).date()],
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026-11-27 is a Friday, 2026-11-30 a Monday.


def test_friday_evening_to_monday_morning_counts_only_monday() -> None:
    """Mon-Fri 08-17, opened Friday 21:00, measured Monday 09:30 -> 1 h 30 min."""
    elapsed = WEEKDAYS_8_17.business_time_between(utc(2026, 11, 27, 21), utc(2026, 11, 30, 9, 30))
    assert elapsed == timedelta(hours=1, minutes=30)


def test_four_hours_from_friday_17_00_is_monday_11_00() -> None:
    """Mon-Fri 08-18, opened 17:00 on a Friday with a 4 h target -> due Monday 11:00."""
    due = WEEKDAYS_8_18.add_business_time(utc(2026, 11, 27, 17), timedelta(hours=4))
    assert due == utc(2026, 11, 30, 11)


def test_sixteen_hours_across_a_day_off_lands_on_thursday_11_00() -> None:
    """Mon 09-17, Tue 09-16, Wed off, Thu 08-17; 16 h from Monday 11:00 -> Thursday 11:00."""
    due = UNEVEN.add_business_time(utc(2026, 11, 30, 11), timedelta(hours=16))
    assert due == utc(2026, 12, 3, 11)


def test_a_start_outside_business_hours_begins_at_the_next_business_minute() -> None:
    assert WEEKDAYS_8_17.next_business_instant(utc(2026, 11, 28, 10)) == utc(2026, 11, 30, 8)
    assert WEEKDAYS_8_17.next_business_instant(utc(2026, 11, 30, 9)) == utc(2026, 11, 30, 9)
    assert WEEKDAYS_8_17.add_business_time(utc(2026, 11, 30, 6), timedelta(hours=1)) == utc(
        2026, 11, 30, 9
    )


def test_a_lunch_break_does_not_count() -> None:
    assert LUNCH.add_business_time(utc(2026, 11, 30, 11), timedelta(hours=2)) == utc(
        2026, 11, 30, 14
    )
    assert LUNCH.business_time_between(utc(2026, 11, 30, 11), utc(2026, 11, 30, 14)) == timedelta(
        hours=2
    )


def test_a_deadline_ending_with_the_day_is_due_at_closing_time() -> None:
    assert LUNCH.add_business_time(utc(2026, 11, 30, 9), timedelta(hours=7)) == utc(
        2026, 11, 30, 17
    )


def test_holidays_are_closed_all_day_across_the_year_end() -> None:
    # Wed 2026-12-23 16:00 + 3 h: 1 h Wed, Thu 24th holiday, Fri 25th 2 h -> 11:00 on the 25th.
    assert LUNCH.add_business_time(utc(2026, 12, 23, 16), timedelta(hours=3)) == utc(
        2026, 12, 25, 11
    )
    # Wed 2026-12-30 16:00 + 8 h: 1 h, 31st holiday, New Year's Day (a Friday) counts: 7 h.
    assert LUNCH.add_business_time(utc(2026, 12, 30, 16), timedelta(hours=8)) == utc(2027, 1, 1, 17)


def test_always_counts_every_second() -> None:
    start = utc(2026, 11, 28, 23, 59)
    assert ALWAYS_CALENDAR.add_business_time(start, timedelta(hours=5)) == start + timedelta(
        hours=5
    )
    assert ALWAYS_CALENDAR.business_time_between(start, start - timedelta(1)) == timedelta(0)


@pytest.mark.parametrize("text", ["9-17", "17:00-09:00", "09:00-09:00", "25:00-26:00", "x"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_interval(text)


def test_end_of_day_may_be_written_24_00() -> None:
    assert parse_interval("22:00-24:00") == (22 * 3600, 24 * 3600)


# -- invariants -----------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=200 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from([WEEKDAYS_8_17, UNEVEN, LUNCH, ALWAYS_CALENDAR])


@settings(max_examples=200, deadline=None)
@given(calendars, starts, durations)
def test_adding_then_measuring_round_trips(cal: Calendar, start: datetime, d: timedelta) -> None:
    assert cal.business_time_between(start, cal.add_business_time(start, d)) == d


@settings(max_examples=200, deadline=None)
@given(calendars, starts, durations, durations)
def test_adding_is_monotonic_in_duration(
    cal: Calendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    shorter, longer = sorted((a, b))
    assert cal.add_business_time(start, shorter) <= cal.add_business_time(start, longer)


@settings(max_examples=200, deadline=None)
@given(calendars, starts, durations.filter(lambda d: d > timedelta(0)))
def test_a_due_time_never_lands_inside_closed_hours(
    cal: Calendar, start: datetime, d: timedelta
) -> None:
    due = cal.add_business_time(start, d)
    # The second before a due time is business time: the deadline is reached while open.
    assert cal.business_time_between(due - timedelta(seconds=1), due) == timedelta(seconds=1)
