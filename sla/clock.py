"""The SLA clock: one model for every metric (first response, resolution).

A clock accrues business time while it runs. Its due time is derived from the
target, the business time already elapsed and the calendar, so pause, resume,
priority change and reopen are plain operations on it. Every operation takes
`now` explicitly: the clock itself never reads the time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from sla.calendar import Calendar, OutOfReach


class Metric(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class SlaClock(BaseModel):
    metric: Metric
    target: timedelta
    cycle: int = 1
    state: ClockState = ClockState.RUNNING
    started_at: datetime
    # Business time accrued up to `running_since` (or in total, when not accruing).
    elapsed: timedelta = timedelta(0)
    running_since: datetime | None = None
    due_at: datetime | None = None
    breached_at: datetime | None = None
    completed_at: datetime | None = None
    warned_fractions: list[float] = []
    escalation_level: int = 0

    @classmethod
    def start(
        cls, metric: Metric, target: timedelta, now: datetime, calendar: Calendar, cycle: int = 1
    ) -> SlaClock:
        clock = cls(metric=metric, target=target, cycle=cycle, started_at=now, running_since=now)
        clock._plan(calendar)
        return clock

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    @property
    def accruing(self) -> bool:
        return self.running_since is not None

    def elapsed_at(self, now: datetime, calendar: Calendar) -> timedelta:
        if self.running_since is None:
            return self.elapsed
        return self.elapsed + calendar.business_time_between(self.running_since, now)

    def remaining_at(self, now: datetime, calendar: Calendar) -> timedelta:
        return self.target - self.elapsed_at(now, calendar)

    def when_elapsed(self, amount: timedelta, calendar: Calendar) -> datetime | None:
        """The instant at which this clock's elapsed business time reaches `amount`; None while
        it does not run, or when that instant is out of reach (past the year 9999, or past the
        calendar's search window): such a clock runs without a due time and never breaches,
        where an exception would fail the ticket's workflow task again and again."""
        if self.running_since is None:
            return None
        try:
            return calendar.add_business_time(
                self.running_since, max(amount - self.elapsed, timedelta(0))
            )
        except OutOfReach:
            return None

    def replan(self, calendar: Calendar) -> None:
        """Recompute the due time, e.g. with a calendar resolved for a longer horizon."""
        self._plan(calendar)

    def _plan(self, calendar: Calendar) -> None:
        if self.state is ClockState.RUNNING:
            self.due_at = self.when_elapsed(self.target, calendar)
        elif self.state is ClockState.PAUSED:
            self.due_at = None

    def _settle(self, now: datetime, calendar: Calendar) -> None:
        """Fold the business time since `running_since` into `elapsed`."""
        if self.running_since is not None:
            self.elapsed = self.elapsed_at(now, calendar)
            self.running_since = now

    def check_breach(self, now: datetime) -> bool:
        """Breach a running clock whose due time has come; the breach is dated at its due time."""
        if self.state is ClockState.RUNNING and self.due_at is not None and now >= self.due_at:
            self.state = ClockState.BREACHED
            self.breached_at = self.due_at
            return True
        return False

    def _breach_now(self, now: datetime) -> None:
        self.state = ClockState.BREACHED
        self.breached_at = now
        self.due_at = now

    def pause(self, now: datetime, calendar: Calendar) -> bool:
        """Stop accruing; True if the clock turned out to be breached already."""
        if self.completed or self.running_since is None:
            return False
        breached = self.check_breach(now)
        self._settle(now, calendar)
        self.running_since = None
        if self.state is ClockState.RUNNING:
            self.state = ClockState.PAUSED
            self.due_at = None
        return breached

    def resume(self, now: datetime, calendar: Calendar) -> None:
        if self.completed or self.running_since is not None:
            return
        self.running_since = now
        if self.state is ClockState.PAUSED:
            self.state = ClockState.RUNNING
        self._plan(calendar)

    def retarget(self, target: timedelta, now: datetime, calendar: Calendar) -> bool:
        """Apply a new target to the business time already elapsed; True if that breaches it."""
        if self.completed:
            return False
        # Breached under the old target already: that breach stands, dated at its due time.
        breached = self.check_breach(now)
        self._settle(now, calendar)
        self.target = target
        if self.state in (ClockState.RUNNING, ClockState.PAUSED) and self.elapsed >= target:
            self._breach_now(now)
            return True
        self._plan(calendar)
        return breached

    def rebase(
        self,
        target: timedelta,
        now: datetime,
        calendar: Calendar,
        paused: list[tuple[datetime, datetime]],
    ) -> bool:
        """A repaired policy: the clock as if it had run under `target` and `calendar` from its
        start, the business time it ran (start to `now`, less the ticket's `paused` spans)
        counted on `calendar`. True if that is past the target already: it breaches, dated
        when it reached the target. A completed clock is left alone, a breached one keeps its
        breach (only its target changes)."""
        if self.completed:
            return False
        self.target = target
        if self.state is ClockState.BREACHED:
            return False
        runs = self._runs(now, paused)
        self.elapsed = sum(
            (calendar.business_time_between(start, end) for start, end in runs), timedelta(0)
        )
        if self.running_since is not None:
            self.running_since = now
        if self.elapsed >= target:
            reached = _reaching(target, runs, calendar)
            self.state = ClockState.BREACHED
            self.breached_at = reached
            self.due_at = reached
            return True
        self._plan(calendar)
        return False

    def _runs(
        self, now: datetime, paused: list[tuple[datetime, datetime]]
    ) -> list[tuple[datetime, datetime]]:
        """When this clock ran, from its start to `now`: the pauses taken out."""
        runs: list[tuple[datetime, datetime]] = []
        cursor = self.started_at
        for start, end in paused:
            if start >= now:
                break
            if end <= cursor:
                continue
            if start > cursor:
                runs.append((cursor, start))
            cursor = end
        if cursor < now:
            runs.append((cursor, now))
        return runs

    def complete(self, now: datetime, calendar: Calendar) -> bool:
        """Stop the clock; True if it is met. A clock past its due time is breached first
        (the ticket's `on_time` has normally done that already)."""
        if self.completed:
            return self.state is ClockState.MET
        self.check_breach(now)
        self._settle(now, calendar)
        self.running_since = None
        self.completed_at = now
        if self.state in (ClockState.RUNNING, ClockState.PAUSED):
            self.state = ClockState.MET
        return self.state is ClockState.MET


def _reaching(
    target: timedelta, runs: list[tuple[datetime, datetime]], calendar: Calendar
) -> datetime:
    """The instant within `runs` at which their business time reaches `target` (which they
    hold in all)."""
    remaining = target
    for start, end in runs:
        ran = calendar.business_time_between(start, end)
        if remaining <= ran:
            return min(calendar.add_business_time(start, remaining), end)
        remaining -= ran
    return runs[-1][1]
