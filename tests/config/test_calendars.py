"""Calendars resolved at the edge: real time zones (DST both ways) and public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.resolve import extended, policy_snapshot, resolve_calendar
from sla.actions import Pause, Resume
from sla.policy import CalendarSpec, ConfigError, SlaConfig, parse_config
from sla.priorities import Priority
from sla.ticket import OpenTicket, Ticket

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def spec(**extra: object) -> CalendarSpec:
    return CalendarSpec.model_validate({"timezone": "Europe/Berlin", "hours": OFFICE, **extra})


def test_friday_before_a_public_holiday_monday_is_due_tuesday_in_berlin() -> None:
    """P2 (1 h / 8 h) opened Friday 16:30 before Whit Monday under a Berlin 09-17 calendar."""
    opened = berlin(2026, 5, 22, 16, 30)
    cal = resolve_calendar("berlin", spec(holiday_country="DE", holiday_subdivision="BE"), opened)
    assert date(2026, 5, 25) in cal.holidays
    assert cal.add_business_time(opened, timedelta(hours=1)) == berlin(2026, 5, 26, 9, 30)
    assert cal.add_business_time(opened, timedelta(hours=8)) == berlin(2026, 5, 26, 16, 30)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Spring forward, Sunday 2026-03-29 02:00 -> 03:00: that Sunday has 23 hours.
        (berlin(2026, 3, 28, 12), berlin(2026, 3, 29, 13)),
        # Fall back, Sunday 2026-10-25 03:00 -> 02:00: that Sunday has 25 hours.
        (berlin(2026, 10, 24, 12), berlin(2026, 10, 25, 11)),
    ],
)
def test_a_24x7_local_calendar_counts_real_hours_across_dst(
    start: datetime, expected: datetime
) -> None:
    every_day = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cal = resolve_calendar(
        "local-24x7", CalendarSpec(timezone="Europe/Berlin", hours=every_day), start
    )
    assert cal.add_business_time(start, timedelta(hours=24)) == expected
    assert cal.business_time_between(start, expected) == timedelta(hours=24)


@pytest.mark.parametrize(
    "opened",
    [berlin(2026, 3, 27, 16), berlin(2026, 10, 23, 16)],
    ids=["spring-forward", "fall-back"],
)
def test_office_hours_keep_their_wall_clock_across_a_dst_weekend(opened: datetime) -> None:
    cal = resolve_calendar("berlin", spec(), opened)
    # Friday 16:00 + 2 h business: 1 h Friday, 1 h Monday -> Monday 10:00 local either way.
    due = cal.add_business_time(opened, timedelta(hours=2))
    assert due == opened.replace(day=opened.day + 3, hour=10)
    assert cal.in_zone(due).hour == 10


def test_offsets_are_frozen_as_explicit_transitions() -> None:
    cal = resolve_calendar("berlin", spec(), berlin(2026, 11, 27, 12))
    changes = [since for since, _ in cal.offsets[1:]]
    assert datetime(2027, 3, 28, 1, tzinfo=UTC) in changes
    assert all(since.microsecond == 0 for since, _ in cal.offsets)
    assert cal.horizon_end is not None and cal.horizon_end >= date(2027, 12, 1)


def test_extending_a_snapshot_keeps_its_rules_and_moves_its_horizon() -> None:
    cal = resolve_calendar(
        "berlin", spec(holidays=["2026-12-24"], holiday_country="DE"), berlin(2026, 11, 27, 12)
    )
    later = extended(cal, berlin(2027, 11, 1, 12))
    assert later.hours == cal.hours and later.timezone == cal.timezone
    assert date(2026, 12, 24) in later.holidays
    assert date(2028, 1, 1) in later.holidays
    assert later.horizon_end is not None and cal.horizon_end is not None
    assert later.horizon_end > cal.horizon_end


def test_unknown_time_zone_or_country_fails_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"calendars\.mars\.timezone"):
        resolve_calendar(
            "mars", CalendarSpec(timezone="Mars/Olympus", hours=OFFICE), berlin(2026, 1, 1)
        )
    with pytest.raises(ConfigError, match="holidays"):
        resolve_calendar("x", spec(holiday_country="XX"), berlin(2026, 1, 1))


def business_config() -> SlaConfig:
    """One policy on the Berlin office's hours: 1 h response, 8 h resolution."""
    return parse_config(
        {
            "default_policy": "business",
            "calendars": {"berlin-office": {"timezone": "Europe/Berlin", "hours": OFFICE}},
            "policies": {
                "business": {
                    "calendar": "berlin-office",
                    "targets": {
                        p: {"response": "1h", "resolution": "8h"} for p in ("P1", "P2", "P3")
                    },
                }
            },
        }
    )


def test_policy_snapshot_resolves_the_named_calendar() -> None:
    config = business_config()
    snapshot = policy_snapshot(config, berlin(2026, 11, 27, 12))
    assert snapshot.calendar.name == "berlin-office"
    assert snapshot.calendar.timezone == "Europe/Berlin"
    assert snapshot.calendar.hours == OFFICE


def test_pause_moves_due_time_by_paused_business_time_not_wall_time() -> None:
    config = business_config()
    opened = berlin(2026, 11, 30, 10)  # Monday
    ticket = Ticket.open(
        OpenTicket(
            ticket_id="T-1",
            customer_id="acme",
            title="x",
            priority=Priority.P2,
            policy=policy_snapshot(config, opened),
            opened_at=opened,
        ),
        opened,
    )
    assert ticket.state.response.due_at == berlin(2026, 11, 30, 11)
    ticket.apply(Pause(reason="logs"), berlin(2026, 11, 30, 10, 30))
    ticket.apply(Resume(), berlin(2026, 12, 1, 10))  # paused over a night: 7.5 business hours
    # 30 business minutes were left when paused; they run from the resume on.
    assert ticket.state.response.due_at == berlin(2026, 12, 1, 10, 30)
    assert ticket.state.response.elapsed == timedelta(minutes=30)
    # Resolution: 8 h target, 30 min used -> 7.5 h from Tuesday 10:00 -> Tuesday 17:00 + 0.5 h
    # -> Wednesday 09:30.
    assert ticket.state.resolution.due_at == berlin(2026, 12, 2, 9, 30)
