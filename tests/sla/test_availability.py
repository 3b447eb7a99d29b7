"""Availability: month bounds, merged and clipped downtime, uptime, credit tiers, the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sla.availability import (
    DEFAULT_TIERS,
    CreditTier,
    Incident,
    availability_report,
    downtime,
    month_bounds,
    tier_credit,
    uptime_percent,
)

NOV_START = datetime(2026, 11, 1, tzinfo=UTC)
NOV_END = datetime(2026, 12, 1, tzinfo=UTC)
LATER = datetime(2027, 6, 1, tzinfo=UTC)  # "now" long after November: everything is over
TARGET = Decimal("99.9")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def incident(
    start: datetime,
    end: datetime | None,
    service: str = "platform",
    id: str | None = None,
) -> Incident:
    return Incident(
        id=id or f"inc-{start.isoformat()}", service=service, started_at=start, ended_at=end
    )


# month_bounds


def test_month_bounds_are_a_half_open_utc_range() -> None:
    assert month_bounds("2026-11") == (NOV_START, NOV_END)


def test_month_bounds_of_december_end_on_january_first_of_next_year() -> None:
    assert month_bounds("2026-12") == (utc(2026, 12, 1), utc(2027, 1, 1))


@pytest.mark.parametrize(
    "bad", ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "2026-11-01", " 2026-11", ""]
)
def test_month_bounds_reject_anything_but_yyyy_mm(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds(bad)


# downtime


def test_downtime_counts_a_closed_incident_inside_the_range() -> None:
    down = downtime(
        [incident(utc(2026, 11, 3, 10), utc(2026, 11, 3, 10, 50))], NOV_START, NOV_END, LATER
    )
    assert down == timedelta(minutes=50)


def test_overlapping_incidents_are_merged_not_counted_twice() -> None:
    incidents = [
        incident(utc(2026, 11, 3, 10), utc(2026, 11, 3, 11)),
        incident(utc(2026, 11, 3, 10, 30), utc(2026, 11, 3, 11, 30)),  # overlaps the first
        incident(utc(2026, 11, 3, 10, 40), utc(2026, 11, 3, 10, 45)),  # inside the first
        incident(utc(2026, 11, 3, 11, 30), utc(2026, 11, 3, 11, 40)),  # touches the second
        incident(utc(2026, 11, 4, 0), utc(2026, 11, 4, 0, 10)),  # separate
    ]
    assert downtime(incidents, NOV_START, NOV_END, LATER) == timedelta(minutes=100 + 10)


def test_an_incident_crossing_a_month_boundary_is_split_between_the_months() -> None:
    crossing = [incident(utc(2026, 10, 31, 23, 30), utc(2026, 11, 1, 0, 20))]
    october = downtime(crossing, *month_bounds("2026-10"), LATER)
    november = downtime(crossing, *month_bounds("2026-11"), LATER)
    assert october == timedelta(minutes=30)
    assert november == timedelta(minutes=20)


def test_an_open_incident_counts_until_now() -> None:
    now = utc(2026, 11, 3, 12)
    open_one = [incident(utc(2026, 11, 3, 10), None)]
    assert downtime(open_one, NOV_START, NOV_END, now) == timedelta(hours=2)


def test_an_open_incident_counts_only_until_the_end_of_the_month() -> None:
    open_one = [incident(utc(2026, 11, 30, 23), None)]
    assert downtime(open_one, NOV_START, NOV_END, LATER) == timedelta(hours=1)


def test_an_open_incident_from_a_previous_month_counts_from_the_month_start() -> None:
    now = utc(2026, 11, 1, 3)
    open_one = [incident(utc(2026, 10, 20), None)]
    assert downtime(open_one, NOV_START, NOV_END, now) == timedelta(hours=3)


def test_incidents_starting_after_now_or_ending_before_the_range_count_nothing() -> None:
    now = utc(2026, 11, 10)
    incidents = [
        incident(utc(2026, 11, 12), None),
        incident(utc(2026, 11, 12), utc(2026, 11, 13)),
        incident(utc(2026, 10, 2), utc(2026, 10, 3)),
        incident(utc(2026, 10, 31, 23), utc(2026, 11, 1)),  # ends exactly at the start
    ]
    assert downtime(incidents, NOV_START, NOV_END, now) == timedelta(0)


def test_a_closed_incident_still_ahead_of_now_counts_only_its_elapsed_part() -> None:
    now = utc(2026, 11, 3, 10, 15)
    planned = [incident(utc(2026, 11, 3, 10), utc(2026, 11, 3, 11))]
    assert downtime(planned, NOV_START, NOV_END, now) == timedelta(minutes=15)


def test_downtime_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        downtime([], NOV_START, NOV_END, datetime(2026, 11, 3))


def test_an_incident_needs_aware_datetimes_and_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValidationError):
        Incident(id="a", started_at=datetime(2026, 11, 3))
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        Incident(id="a", started_at=utc(2026, 11, 3, 10), ended_at=utc(2026, 11, 3, 9))


# downtime invariants

_minutes = st.integers(min_value=-3 * 24 * 60, max_value=33 * 24 * 60)
_interval = st.tuples(_minutes, st.integers(min_value=0, max_value=5 * 24 * 60))


def _to_incidents(intervals: list[tuple[int, int]]) -> list[Incident]:
    return [
        incident(
            NOV_START + timedelta(minutes=start),
            NOV_START + timedelta(minutes=start + length),
            id=f"i{n}",
        )
        for n, (start, length) in enumerate(intervals)
    ]


def _union_minutes(intervals: list[tuple[int, int]]) -> int:
    """Brute force: the distinct November minutes some interval covers."""
    month_minutes = 30 * 24 * 60
    covered = {
        minute
        for start, length in intervals
        for minute in range(max(start, 0), min(start + length, month_minutes))
    }
    return len(covered)


@given(st.lists(_interval, max_size=8), st.randoms(use_true_random=False))
def test_downtime_is_the_union_of_intervals_within_the_month_in_any_order(
    intervals: list[tuple[int, int]], rng: Random
) -> None:
    incidents = _to_incidents(intervals)
    down = downtime(incidents, NOV_START, NOV_END, LATER)
    shuffled = list(incidents)
    rng.shuffle(shuffled)
    assert downtime(shuffled, NOV_START, NOV_END, LATER) == down
    assert down == timedelta(minutes=_union_minutes(intervals))
    assert down <= sum((i.ended_at - i.started_at for i in incidents if i.ended_at), timedelta(0))
    assert down <= NOV_END - NOV_START


# uptime


def test_fifty_minutes_down_in_a_thirty_day_month_is_below_99_9_percent() -> None:
    incidents = [incident(utc(2026, 11, 3, 10), utc(2026, 11, 3, 10, 50))]
    uptime = uptime_percent("2026-11", incidents, LATER)
    # (43200 - 50) / 43200 * 100, to the 28 significant digits of the context.
    assert uptime == Decimal("99.88425925925925925925925926")
    assert tier_credit(uptime, DEFAULT_TIERS) == Decimal(10)


def test_uptime_with_no_incidents_is_exactly_100() -> None:
    assert uptime_percent("2026-11", [], LATER) == Decimal(100)


def test_uptime_of_a_month_not_started_yet_is_100() -> None:
    incidents = [incident(utc(2026, 11, 3), utc(2026, 11, 4))]
    assert uptime_percent("2026-11", incidents, utc(2026, 10, 15)) == Decimal(100)


def test_uptime_of_the_current_month_is_measured_over_the_whole_month() -> None:
    now = utc(2026, 11, 2)
    incidents = [incident(utc(2026, 11, 1), utc(2026, 11, 1, 0, 43, 12))]  # 2592 s
    # 2592 s of 2,592,000 s in November is 0.1 %: against the elapsed day it would be 3 %.
    assert uptime_percent("2026-11", incidents, now) == Decimal("99.9")


def test_uptime_does_not_depend_on_the_callers_decimal_context() -> None:
    incidents = [incident(utc(2026, 11, 3, 10), utc(2026, 11, 3, 10, 50))]
    with localcontext() as ctx:
        ctx.prec = 5
        uptime = uptime_percent("2026-11", incidents, LATER)
    assert uptime == Decimal("99.88425925925925925925925926")


# tiers


@pytest.mark.parametrize(
    ("uptime", "credit"),
    [
        ("100", "0"),
        ("99.95", "0"),
        ("99.9", "0"),  # exactly on target: no credit
        ("99.89999", "10"),
        ("99.0", "10"),
        ("98.99999", "25"),
        ("95", "25"),
        ("94.99999", "100"),
        ("0", "100"),
    ],
)
def test_tier_credit_is_the_largest_tier_the_uptime_falls_strictly_below(
    uptime: str, credit: str
) -> None:
    assert tier_credit(Decimal(uptime), DEFAULT_TIERS) == Decimal(credit)


def test_tier_credit_does_not_depend_on_the_order_of_the_tiers() -> None:
    reversed_tiers = list(reversed(DEFAULT_TIERS))
    assert tier_credit(Decimal("96"), reversed_tiers) == Decimal(25)


def test_tier_credit_without_tiers_is_zero() -> None:
    assert tier_credit(Decimal(0), []) == Decimal(0)


def test_custom_tiers_apply() -> None:
    tiers = [CreditTier(below=Decimal("99.99"), credit=Decimal(5))]
    assert tier_credit(Decimal("99.98"), tiers) == Decimal(5)
    assert tier_credit(Decimal("99.99"), tiers) == Decimal(0)


# report


def test_report_of_the_fifty_minute_month_misses_the_target_and_earns_ten_percent() -> None:
    fifty = incident(utc(2026, 11, 3, 10), utc(2026, 11, 3, 10, 50), id="fifty")
    report = availability_report("2026-11", "platform", [fifty], TARGET, DEFAULT_TIERS, LATER)
    assert report.month == "2026-11"
    assert report.service == "platform"
    assert report.downtime_seconds == 3000
    assert report.uptime == Decimal("99.88425925925925925925925926")
    assert report.target == TARGET
    assert report.met is False
    assert report.credit_percent == Decimal(10)
    assert [i.id for i in report.incidents] == ["fifty"]


def test_report_is_met_when_uptime_equals_the_target() -> None:
    tenth = incident(utc(2026, 11, 1), utc(2026, 11, 1, 0, 43, 12))  # exactly 0.1 %
    report = availability_report("2026-11", "platform", [tenth], TARGET, DEFAULT_TIERS, LATER)
    assert report.uptime == TARGET
    assert report.met is True
    assert report.credit_percent == Decimal(0)


def test_report_counts_and_lists_only_the_services_incidents_overlapping_the_month() -> None:
    incidents = [
        incident(utc(2026, 11, 5), utc(2026, 11, 5, 1), id="later"),
        incident(utc(2026, 10, 31, 23), utc(2026, 11, 1, 1), id="crossing"),
        incident(utc(2026, 11, 2), utc(2026, 11, 9), service="email", id="other-service"),
        incident(utc(2026, 10, 2), utc(2026, 10, 3), id="october"),
        incident(utc(2026, 10, 31, 22), utc(2026, 11, 1), id="ends-at-start"),
        incident(utc(2026, 12, 1), utc(2026, 12, 2), id="december"),
    ]
    report = availability_report("2026-11", "platform", incidents, TARGET, DEFAULT_TIERS, LATER)
    assert [i.id for i in report.incidents] == ["crossing", "later"]
    assert report.downtime_seconds == 2 * 3600


def test_report_lists_an_open_incident_from_an_earlier_month_once_the_month_began() -> None:
    still_open = incident(utc(2026, 10, 30), None, id="open")
    before = availability_report(
        "2026-11", "platform", [still_open], TARGET, DEFAULT_TIERS, utc(2026, 10, 31)
    )
    during = availability_report(
        "2026-11", "platform", [still_open], TARGET, DEFAULT_TIERS, utc(2026, 11, 1, 0, 0, 30)
    )
    assert before.incidents == []
    assert before.uptime == Decimal(100)
    assert [i.id for i in during.incidents] == ["open"]
    assert during.downtime_seconds == 30
