"""The dates and times the API takes: a day inside what Python's datetime can hold, so that a
UTC offset (up to a day either way), a day added for an inclusive end, or a calendar's
arithmetic never steps past year 1 or 9999 into an OverflowError (a 500)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)
EARLIEST = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
LATEST = datetime.combine(LAST_DAY, datetime.max.time(), tzinfo=UTC)
RANGE = f"dates must be between {FIRST_DAY} and {LAST_DAY}"


def in_range(value: datetime) -> datetime:
    """An aware time between EARLIEST and LATEST (compared as instants: no conversion, so no
    overflow however far its offset pushes it)."""
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"{value.isoformat()} is out of range: {RANGE} (UTC)")
    return value


def day_in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"{value.isoformat()} is out of range: {RANGE}")
    return value


# An aware datetime in range: a query parameter or body field of this type is 422 otherwise.
Instant = Annotated[AwareDatetime, AfterValidator(in_range)]


# How far the time an event happened (`at`, docs/api.md "Event times") may be from ours: a
# sender's clock a little ahead, and a backfill or a help desk's late webhook at most this far
# back (a clock started long ago would only report breaches nobody can act on any more).
EVENT_SKEW = timedelta(seconds=5)
EVENT_HORIZON = timedelta(days=30)


def event_time_problem(at: datetime, now: datetime) -> str | None:
    """Why `at` cannot be an event's time at `now`, or None."""
    if at > now + EVENT_SKEW:
        return (
            f"at {at.isoformat()} is in the future (it is {now.isoformat()} here; "
            f"{EVENT_SKEW.seconds} s of clock skew are allowed)"
        )
    if at < now - EVENT_HORIZON:
        return (
            f"at {at.isoformat()} is more than {EVENT_HORIZON.days} days back "
            f"(it is {now.isoformat()} here)"
        )
    return None
