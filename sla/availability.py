"""Availability: incidents, monthly downtime and uptime, and the credit tiers they earn."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_MICROSECOND = timedelta(microseconds=1)
# Uptime is a repeating fraction in general: fix the precision here rather than inherit
# whatever decimal context the caller happens to run in, so the same inputs always give
# the same digits (workflows replay).
_UPTIME_CONTEXT = Context(prec=28)


class Incident(BaseModel):
    id: str
    service: str = "platform"
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    note: str | None = None
    source: str = "manual"

    @model_validator(mode="after")
    def _ends_after_start(self) -> Incident:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("an incident cannot end before it starts")
        return self


class CreditTier(BaseModel):
    model_config = ConfigDict(frozen=True)

    below: Decimal  # uptime percent: a month strictly below it earns the credit
    credit: Decimal  # percent of the monthly fee


DEFAULT_TIERS: tuple[CreditTier, ...] = (
    CreditTier(below=Decimal("99.9"), credit=Decimal(10)),
    CreditTier(below=Decimal(99), credit=Decimal(25)),
    CreditTier(below=Decimal(95), credit=Decimal(100)),
)


class AvailabilityReport(BaseModel):
    month: str
    service: str
    uptime: Decimal
    downtime_seconds: int
    target: Decimal
    met: bool
    credit_percent: Decimal
    incidents: list[Incident]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' -> [2026-11-01T00:00Z, 2026-12-01T00:00Z), the month as a half-open UTC range."""
    match = _MONTH.fullmatch(month)
    number = int(match.group(2)) if match else 0
    if match is None or not 1 <= number <= 12:
        raise ValueError(f"{month!r} is not a month: write YYYY-MM, like 2026-11")
    year = int(match.group(1))
    if not 1 <= year < 9999:
        # datetime cannot hold the end of December 9999, nor year 0.
        raise ValueError(f"{month!r} is out of range: the year must be between 0001 and 9998")
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _require_aware(**instants: datetime) -> None:
    for name, instant in instants.items():
        if instant.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {instant!r}")


def _spans(
    incidents: Iterable[Incident], start: datetime, end: datetime, now: datetime
) -> list[tuple[datetime, datetime]]:
    """Each incident clipped to [start, min(end, now)), empty ones dropped."""
    # Nothing after `now` has happened yet: a still-open incident runs until now, and one
    # recorded in advance (a planned window) counts only as far as it has elapsed.
    limit = min(end, now)
    spans = []
    for incident in incidents:
        lo = max(incident.started_at, start)
        hi = limit if incident.ended_at is None else min(incident.ended_at, limit)
        if lo < hi:
            spans.append((lo, hi))
    return spans


def downtime(
    incidents: Iterable[Incident], start: datetime, end: datetime, now: datetime
) -> timedelta:
    """The time within [start, end) covered by at least one incident, as of `now`.

    Overlapping incidents are merged, so a minute down is counted once however many
    incidents report it.
    """
    _require_aware(start=start, end=end, now=now)
    total = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for lo, hi in sorted(_spans(incidents, start, end, now)):
        if current is not None and lo <= current[1]:
            current = (current[0], max(current[1], hi))
            continue
        if current is not None:
            total += current[1] - current[0]
        current = (lo, hi)
    if current is not None:
        total += current[1] - current[0]
    return total


def uptime_percent(month: str, incidents: Iterable[Incident], now: datetime) -> Decimal:
    """Percent of the whole month not covered by an incident; 100 for a month not begun.

    The current month is measured over all its days, as the contract does: the downtime so
    far against the full month, never against the part that has elapsed.
    """
    start, end = month_bounds(month)
    _require_aware(now=now)
    if now <= start:
        return Decimal(100)
    # Whole microseconds on both sides keep the ratio exact up to the one final division.
    month_us = Decimal((end - start) // _MICROSECOND)
    down_us = Decimal(downtime(incidents, start, end, now) // _MICROSECOND)
    ctx = _UPTIME_CONTEXT
    return ctx.divide(ctx.multiply(ctx.subtract(month_us, down_us), Decimal(100)), month_us)


def tier_credit(uptime: Decimal, tiers: Iterable[CreditTier]) -> Decimal:
    """The largest credit among the tiers the uptime falls strictly below; 0 if none."""
    return max((tier.credit for tier in tiers if uptime < tier.below), default=Decimal(0))


def _overlaps(incident: Incident, start: datetime, end: datetime, now: datetime) -> bool:
    if incident.started_at >= end:
        return False
    if incident.ended_at is None:
        # Still open: it reaches into the month once the month has begun.
        return now >= start
    return incident.ended_at > start or incident.started_at >= start


def availability_report(
    month: str,
    service: str,
    incidents: Iterable[Incident],
    target: Decimal,
    tiers: Iterable[CreditTier],
    now: datetime,
) -> AvailabilityReport:
    """The month's availability of one service, its target, and the credit tier it earns."""
    start, end = month_bounds(month)
    _require_aware(now=now)
    mine = [incident for incident in incidents if incident.service == service]
    uptime = uptime_percent(month, mine, now)
    return AvailabilityReport(
        month=month,
        service=service,
        uptime=uptime,
        # Floored: a second is reported as down only once it has fully passed.
        downtime_seconds=downtime(mine, start, end, now) // timedelta(seconds=1),
        target=target,
        met=uptime >= target,
        credit_percent=tier_credit(uptime, tiers),
        incidents=sorted(
            (incident for incident in mine if _overlaps(incident, start, end, now)),
            key=lambda incident: (incident.started_at, incident.id),
        ),
    )
