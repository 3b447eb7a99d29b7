"""Quality, the SLA's fourth promise: ratings, reopen rate, first-contact resolution, and the
month's targets with their credit and reward. Definitions (README "Quality"):

- CSAT: ratings of 4 or 5 / all ratings given in the window.
- Reopen rate: tickets resolved in the window that were reopened at least once / tickets
  resolved in the window.
- First-contact resolution: tickets resolved in the window, never reopened, whose resolution
  came with at most one agent response (the resolve counts as one) / tickets resolved in the
  window.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from sla.contracts import Reward
from sla.durations import format_duration, parse_duration
from sla.percent import Percent

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

LONGEST = timedelta(days=3650)  # as sla/policy.py bounds every policy duration
SCORES = (1, 2, 3, 4, 5)
SATISFIED = 4  # a rating of 4 or 5 counts as satisfied


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QualityTargets(_Strict):
    """The month's quality targets: CSAT and first-contact resolution at least, reopen rate at
    most."""

    csat: Percent | None = None
    reopen_rate: Percent | None = None
    first_contact_resolution: Percent | None = None


class QualityPolicy(_Strict):
    """A policy's `quality:` section; every key optional."""

    require_resolution_note: bool = False
    survey: bool = False
    rating_window: Duration = timedelta(days=7)
    follow_up_after: Duration | None = None
    targets: QualityTargets = QualityTargets()
    min_ratings: int = Field(default=1, ge=1)
    credit: Percent | None = None
    reward: Reward | None = None

    @field_validator("rating_window", "follow_up_after")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        # Added to a resolution time in the ticket: bounded like every policy duration.
        if value is not None and value > LONGEST:
            raise ValueError(f"{format_duration(value)} is longer than ten years ({LONGEST.days}d)")
        return value


class RatingRecord(BaseModel):
    """The customer's rating of one resolution cycle."""

    cycle: int
    score: int
    comment: str | None = None
    at: datetime
    # Who gave it: the customer, or a staff key recording it for the customer.
    given_by: str | None = None


class Rated(BaseModel):
    """A rating as the store keeps it with the ticket's outcome (no comment text)."""

    cycle: int
    score: int
    at: datetime


class QualityFacts(BaseModel):
    """What quality is computed from, per ticket: a slice of its outcome."""

    resolved_at: datetime | None
    cycles: int
    responses: int
    ratings: list[Rated] = []


class QualityStats(BaseModel):
    ratings: int = 0
    csat: float | None = None  # 4 decimals, like compliance; None with nothing to measure
    reopen_rate: float | None = None
    first_contact_resolution: float | None = None
    # The counts behind the fractions: targets are judged on these, exactly, not on the rounding.
    satisfied: int = Field(default=0, exclude=True)
    resolved: int = Field(default=0, exclude=True)
    reopened: int = Field(default=0, exclude=True)
    first_contacts: int = Field(default=0, exclude=True)


def _fraction(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _inside(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def first_contact(facts: QualityFacts) -> bool:
    """Never reopened, and resolved with at most one agent response: the resolve itself."""
    return facts.cycles == 1 and facts.responses == 0


def quality_stats(tickets: Iterable[QualityFacts], start: datetime, end: datetime) -> QualityStats:
    """Quality of [start, end): ratings by when they were given, the rest by resolution time."""
    rows = list(tickets)
    scores = [r.score for t in rows for r in t.ratings if _inside(r.at, start, end)]
    resolved = [t for t in rows if _inside(t.resolved_at, start, end)]
    satisfied = sum(1 for s in scores if s >= SATISFIED)
    reopened = sum(1 for t in resolved if t.cycles > 1)
    first_contacts = sum(1 for t in resolved if first_contact(t))
    return QualityStats(
        ratings=len(scores),
        csat=_fraction(satisfied, len(scores)),
        reopen_rate=_fraction(reopened, len(resolved)),
        first_contact_resolution=_fraction(first_contacts, len(resolved)),
        satisfied=satisfied,
        resolved=len(resolved),
        reopened=reopened,
        first_contacts=first_contacts,
    )


class QualityVerdict(BaseModel):
    """A month judged against its targets: met True/False, None with nothing to judge."""

    ratings: int
    csat: float | None
    reopen_rate: float | None
    first_contact_resolution: float | None
    targets: dict[str, Decimal]
    met: bool | None
    missed: list[str]


def judge(stats: QualityStats, policy: QualityPolicy) -> QualityVerdict:
    """Each configured target against the month: CSAT only with `min_ratings` ratings or more;
    a metric with nothing to measure (no ticket resolved) is not judged."""
    targets = policy.targets
    judged: list[tuple[str, bool]] = []
    # part / whole against a percent, exactly: part * 100 against percent * whole.
    if targets.csat is not None and stats.ratings and stats.ratings >= policy.min_ratings:
        judged.append(("csat", stats.satisfied * 100 >= targets.csat * stats.ratings))
    if stats.resolved and targets.reopen_rate is not None:
        judged.append(("reopen_rate", stats.reopened * 100 <= targets.reopen_rate * stats.resolved))
    if stats.resolved and targets.first_contact_resolution is not None:
        fcr = stats.first_contacts * 100 >= targets.first_contact_resolution * stats.resolved
        judged.append(("first_contact_resolution", fcr))
    missed = [name for name, ok in judged if not ok]
    return QualityVerdict(
        ratings=stats.ratings,
        csat=stats.csat,
        reopen_rate=stats.reopen_rate,
        first_contact_resolution=stats.first_contact_resolution,
        targets={k: v for k, v in targets.model_dump().items() if v is not None},
        met=None if not judged else not missed,
        missed=missed,
    )
