"""Time at its ends: near year 1 and 9999, business-time arithmetic answers or says it is out of
reach, never OverflowError; a clock whose due time is out of reach runs without one, so a ticket
opened there is not stuck (its workflow task would fail again and again)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.resolve import resolve_calendar
from sla.actions import Resolve
from sla.calendar import ALWAYS_CALENDAR, Calendar, OutOfReach
from sla.clock import ClockState, Metric, SlaClock
from sla.policy import CalendarSpec
from tests.support.rules import FULL, RESPOND, open_ticket

END = datetime.max.replace(tzinfo=UTC)
BEGINNING = datetime.min.replace(tzinfo=UTC)
OFFICE = {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
# One minute a week: 366 days of business time is far beyond ten years of it.
SPARSE = Calendar(name="sparse", hours={"mon": ["09:00-09:01"]})


def zoned(zone: str, around: datetime) -> Calendar:
    spec = CalendarSpec(timezone=zone, hours=OFFICE, holiday_country="DE")
    return resolve_calendar("office", spec, around)


@pytest.mark.parametrize("calendar", [ALWAYS_CALENDAR, Calendar(name="office", hours=OFFICE)])
def test_business_time_past_the_year_9999_is_out_of_reach(calendar: Calendar) -> None:
    start = datetime(9999, 12, 30, 12, tzinfo=UTC)
    with pytest.raises(OutOfReach, match="ends after 9999-12-31"):
        calendar.add_business_time(start, timedelta(days=3))


def test_a_calendar_short_of_the_time_asked_says_how_much_it_has() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(OutOfReach, match=r"has only 8h43m of business time within 3660 days"):
        SPARSE.add_business_time(start, timedelta(days=366))
    closed = Calendar(name="closed", hours={})
    with pytest.raises(OutOfReach, match="has no business hours within 3660 days of 2026-01-01"):
        closed.add_business_time(start, timedelta(hours=1))
    # Nothing to wait for: a clock started there has no due time rather than an error.
    assert closed.next_business_instant(start) == start


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Pacific/Kiritimati"])
@pytest.mark.parametrize(
    "start",
    [datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, 23, 59, tzinfo=UTC)],
    ids=["year-1", "year-9999"],
)
def test_a_zoned_calendar_resolves_and_counts_at_both_ends(zone: str, start: datetime) -> None:
    calendar = zoned(zone, start)
    assert calendar.horizon_start is not None and calendar.horizon_end is not None
    assert date.min < calendar.horizon_start <= start.date() <= calendar.horizon_end < date.max
    calendar.in_zone(start)
    assert calendar.business_time_between(BEGINNING, END) >= timedelta(0)
    try:
        due = calendar.add_business_time(start, timedelta(hours=1))
    except OutOfReach:
        assert start.year == 9999
    else:
        assert calendar.business_time_between(start, due) == timedelta(hours=1)


offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m))
)
edge_starts = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 20)),
    st.datetimes(min_value=datetime(9999, 12, 10), max_value=datetime(9999, 12, 31, 23, 59)),
)
calendars = st.sampled_from([ALWAYS_CALENDAR, SPARSE, Calendar(name="office", hours=OFFICE)])


@settings(max_examples=300, deadline=None)
@given(calendars, edge_starts, offsets, st.integers(min_value=0, max_value=30 * 86_400))
def test_arithmetic_at_the_ends_answers_or_is_out_of_reach(
    calendar: Calendar, wall: datetime, offset: timezone, seconds: int
) -> None:
    start = wall.replace(tzinfo=UTC)  # any instant datetime holds, however it was written
    duration = timedelta(seconds=seconds)
    try:
        due = calendar.add_business_time(start, duration)
    except OutOfReach:
        pass
    else:
        assert calendar.business_time_between(start, due) == duration
    assert calendar.business_time_between(start, END) >= timedelta(0)
    assert calendar.next_business_instant(start) >= start
    calendar.to_local(wall.replace(tzinfo=offset))


def test_a_clock_whose_due_time_is_past_the_year_9999_runs_without_one() -> None:
    now = datetime(9999, 12, 31, 23, 50, tzinfo=UTC)
    clock = SlaClock.start(Metric.RESPONSE, timedelta(hours=1), now, ALWAYS_CALENDAR)
    assert (clock.state, clock.due_at) == (ClockState.RUNNING, None)
    assert clock.check_breach(END) is False
    assert clock.when_elapsed(timedelta(minutes=5), ALWAYS_CALENDAR) == now + timedelta(minutes=5)


def test_a_ticket_opened_at_the_end_of_time_opens_and_works() -> None:
    """As a producer may start one through Temporal with `opened_at` (the API stamps now)."""
    opened = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    ticket = open_ticket("P1", FULL, now=opened)
    resolution = ticket.state.resolution
    assert ticket.state.response.due_at == opened + timedelta(minutes=15)
    assert (resolution.state, resolution.due_at) == (ClockState.RUNNING, None)  # 2 h: no date
    ticket.on_time(opened + timedelta(minutes=5))
    ticket.apply(RESPOND, opened + timedelta(minutes=6))
    ticket.apply(Resolve(agent_id="alice"), opened + timedelta(minutes=7))
    assert ticket.state.resolution.state is ClockState.MET


def test_a_ticket_under_a_calendar_out_of_reach_opens_without_due_times() -> None:
    closed = FULL.model_copy(update={"calendar": Calendar(name="closed", hours={})})
    ticket = open_ticket("P1", closed)
    assert (ticket.state.response.due_at, ticket.state.resolution.due_at) == (None, None)
    assert ticket.next_wakeup() is None
