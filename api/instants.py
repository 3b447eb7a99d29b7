"""The dates and times the API takes: a day inside what Python's datetime can hold, so that a
UTC offset (up to a day either way), a day added for an inclusive end, or a calendar's
arithmetic never steps past year 1 or 9999 into an OverflowError (a 500)."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
