"""Business calendars: how much SLA time passes between two instants.

Only the built-in `always` calendar (24x7, UTC) exists so far; named calendars with
weekly hours and holidays plug in behind the same two functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

ALWAYS = "always"


class Calendar(BaseModel):
    """A calendar as frozen into a ticket's policy snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ALWAYS
    timezone: str = "UTC"

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of business time has passed since `start`."""
        return start + duration

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from `start` to `end`; zero when `end` is not after `start`."""
        return max(end - start, timedelta(0))

    def next_business_instant(self, at: datetime) -> datetime:
        """The first instant at or after `at` that counts as business time."""
        return at


ALWAYS_CALENDAR = Calendar()
