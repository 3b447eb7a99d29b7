"""Business calendars: how much SLA time passes between two instants, exact to the second.

A `Calendar` is the snapshot frozen into a ticket: weekly opening hours in local wall time,
holidays as explicit dates, and the time zone's UTC offsets as explicit transitions, all
resolved at the edge (config/resolve.py) for a horizon. Nothing here reads time-zone or
holiday tables, so a ticket's arithmetic never changes when those libraries do.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from sla.durations import format_duration

ALWAYS = "always"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 86_400
# How far ahead business time is searched for: ten years. Config keeps targets well inside it
# (sla/policy.py); past it, or past the year 9999, an answer is `OutOfReach`.
SEARCH_DAYS = 3_660
_ONE_DAY = timedelta(days=1)


class OutOfReach(ValueError):
    """No instant answers: the business time asked for ends past the year 9999, or the calendar
    does not hold that much of it within SEARCH_DAYS."""


def _shifted(instant: datetime, delta: timedelta) -> datetime:
    """`instant + delta`, held to what datetime can hold: an end of time stands for anything
    beyond it, so arithmetic near year 1 or 9999 answers instead of raising OverflowError."""
    try:
        return instant + delta
    except OverflowError:
        end = datetime.max if delta > timedelta(0) else datetime.min
        return end.replace(tzinfo=instant.tzinfo)


def parse_interval(text: str) -> tuple[int, int]:
    """'09:00-12:30' -> seconds since local midnight; '24:00' is the end of the day."""
    try:
        start_text, end_text = text.split("-")
        start, end = _seconds_of_day(start_text), _seconds_of_day(end_text)
    except ValueError:
        raise ValueError(f"{text!r} is not an interval like 09:00-17:00") from None
    if not start < end:
        raise ValueError(f"{text!r} is not an interval: it must end after it starts")
    return start, end


def _seconds_of_day(text: str) -> int:
    hours, minutes = text.strip().split(":")
    h, m = int(hours), int(minutes)
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(text)
    return h * 3600 + m * 60


def weekly_business_time(hours: dict[str, list[str]] | None) -> timedelta:
    """The business time in a week of these opening hours; None (24x7) is the whole week."""
    if hours is None:
        return timedelta(days=7)
    spans = (parse_interval(text) for intervals in hours.values() for text in intervals)
    return timedelta(seconds=sum(end - start for start, end in spans))


class Calendar(BaseModel):
    """A calendar as frozen into a ticket's policy snapshot; `hours` None means 24x7."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ALWAYS
    timezone: str = "UTC"
    hours: dict[str, list[str]] | None = None
    holidays: list[date] = []
    # (UTC instant from which it applies, offset in seconds); the first applies before too.
    offsets: list[tuple[datetime, int]] = []
    # Where the holidays came from, so a long ticket's snapshot can be extended the same way.
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    # The span for which holidays and offsets were resolved.
    horizon_start: date | None = None
    horizon_end: date | None = None

    @cached_property
    def _week(self) -> list[list[tuple[int, int]]]:
        hours = self.hours or {}
        return [sorted(parse_interval(i) for i in hours.get(day, [])) for day in WEEKDAYS]

    @cached_property
    def _holidays(self) -> frozenset[date]:
        return frozenset(self.holidays)

    @cached_property
    def _transitions(self) -> list[datetime]:
        return [since for since, _ in self.offsets]

    # -- time zone, from the frozen transitions -------------------------------------------

    def offset_at(self, instant: datetime) -> timedelta:
        if not self.offsets:
            return timedelta(0)
        index = max(bisect.bisect_right(self._transitions, instant) - 1, 0)
        return timedelta(seconds=self.offsets[index][1])

    def to_local(self, instant: datetime) -> datetime:
        """Naive local wall time of an instant (held to datetime's range at its ends)."""
        # One step from its own offset to the calendar's: via UTC could overflow near year 1.
        shift = self.offset_at(instant) - (instant.utcoffset() or timedelta(0))
        return _shifted(instant.replace(tzinfo=None), shift)

    def in_zone(self, instant: datetime) -> datetime:
        """The instant with the calendar's UTC offset, as people in that zone read it."""
        offset = self.offset_at(instant)
        return instant.astimezone(timezone(offset))

    def to_utc(self, wall: datetime) -> datetime:
        """The UTC instant of a naive local wall time: the earlier one in a repeated hour, the
        shifted one in a skipped hour (as zoneinfo does with fold=0)."""
        as_utc = wall.replace(tzinfo=UTC)
        before = self.offset_at(_shifted(as_utc, -_ONE_DAY))
        after = self.offset_at(_shifted(as_utc, _ONE_DAY))
        valid = [
            _shifted(as_utc, -o)
            for o in {before, after}
            if self.offset_at(_shifted(as_utc, -o)) == o
        ]
        return min(valid) if valid else _shifted(as_utc, -before)

    # -- business time ----------------------------------------------------------------

    def business_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Business intervals in UTC from `start` on, in order, the first clipped to `start`;
        for SEARCH_DAYS, and none past the end of datetime (the last one is cut there)."""
        day = self.to_local(start).date()
        day = day - _ONE_DAY if day > date.min else day
        for _ in range(SEARCH_DAYS):
            if day not in self._holidays:
                midnight = datetime.combine(day, time())
                for open_s, close_s in self._week[day.weekday()]:
                    opens = self.to_utc(_shifted(midnight, timedelta(seconds=open_s)))
                    closes = self.to_utc(_shifted(midnight, timedelta(seconds=close_s)))
                    opens = max(opens, start)
                    if closes > opens:
                        yield opens, closes
            if day == date.max:
                return
            day += _ONE_DAY

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of business time has passed since `start`; raises
        OutOfReach when that is past the year 9999 or past SEARCH_DAYS of this calendar."""
        if self.hours is None:
            try:
                return start + duration
            except OverflowError:
                raise self._past_the_end(start, duration) from None
        remaining = duration
        for opens, closes in self.business_intervals(start):
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
        if datetime.max.replace(tzinfo=UTC) - start < timedelta(days=SEARCH_DAYS):
            raise self._past_the_end(start, duration)
        found = duration - remaining
        raise OutOfReach(
            f"calendar {self.name!r} has no business hours within {SEARCH_DAYS} days of "
            f"{start.date().isoformat()}"
            if found <= timedelta(0)
            else f"calendar {self.name!r} has only {format_duration(found)} of business time "
            f"within {SEARCH_DAYS} days of {start.date().isoformat()}, not "
            f"{format_duration(duration)}"
        )

    def _past_the_end(self, start: datetime, duration: timedelta) -> OutOfReach:
        return OutOfReach(
            f"{format_duration(duration)} of business time on calendar {self.name!r} from "
            f"{start.isoformat()} ends after 9999-12-31, the last date there is"
        )

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from `start` to `end`; zero when `end` is not after `start`."""
        if end <= start:
            return timedelta(0)
        if self.hours is None:
            return end - start
        total = timedelta(0)
        for opens, closes in self.business_intervals(start):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total

    def next_business_instant(self, at: datetime) -> datetime:
        """The first instant at or after `at` that counts as business time; `at` itself when
        there is none within reach (a clock started there gets no due time: sla/clock.py)."""
        try:
            return self.add_business_time(at, timedelta(0))
        except OutOfReach:
            return at


ALWAYS_CALENDAR = Calendar()


class CalendarExtension(BaseModel):
    """Ask the edge for the same calendar resolved for a horizon around `around`."""

    calendar: Calendar
    around: datetime
