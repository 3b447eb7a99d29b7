"""Quality as the README defines it: CSAT, reopen rate, first-contact resolution, and the
month judged against its targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sla.quality import QualityFacts, QualityPolicy, Rated, judge, quality_stats

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
AT = datetime(2026, 11, 10, 12, tzinfo=UTC)


def ticket(score: int | None, *, cycles: int = 1, responses: int = 0) -> QualityFacts:
    ratings = [] if score is None else [Rated(cycle=cycles, score=score, at=AT)]
    return QualityFacts(resolved_at=AT, cycles=cycles, responses=responses, ratings=ratings)


def test_three_tickets_rated_5_5_1_one_reopened() -> None:
    tickets = [ticket(5), ticket(5, responses=1), ticket(1, cycles=2)]
    stats = quality_stats(tickets, START, END)
    assert (stats.ratings, stats.csat, stats.reopen_rate) == (3, 0.6667, 0.3333)
    # Only the first: never reopened and resolved without an agent response before it.
    assert stats.first_contact_resolution == 0.3333


def test_ratings_count_by_when_given_and_resolutions_by_when_resolved() -> None:
    late = QualityFacts(
        resolved_at=END + timedelta(days=1),
        cycles=1,
        responses=0,
        ratings=[Rated(cycle=1, score=2, at=END - timedelta(seconds=1))],
    )
    stats = quality_stats([late], START, END)
    assert (stats.ratings, stats.csat, stats.reopen_rate) == (1, 0.0, None)


def test_nothing_to_measure_is_none_not_zero() -> None:
    stats = quality_stats([], START, END)
    assert (stats.ratings, stats.csat, stats.first_contact_resolution) == (0, None, None)


def policy(**targets: str) -> QualityPolicy:
    return QualityPolicy.model_validate({"targets": targets, "min_ratings": 2, "credit": "5%"})


@pytest.mark.parametrize(
    ("targets", "met", "missed"),
    [
        ({"csat": "60%"}, True, []),
        ({"csat": "90%"}, False, ["csat"]),
        ({"reopen_rate": "33.33%"}, False, ["reopen_rate"]),  # 1/3 is more than 33.33%
        ({"reopen_rate": "33.34%"}, True, []),
        ({"csat": "90%", "first_contact_resolution": "30%"}, False, ["csat"]),
    ],
)
def test_a_month_is_judged_exactly_against_each_target(
    targets: dict[str, str], met: bool, missed: list[str]
) -> None:
    stats = quality_stats([ticket(5), ticket(5, responses=1), ticket(1, cycles=2)], START, END)
    verdict = judge(stats, policy(**targets))
    assert (verdict.met, verdict.missed) == (met, missed)
    assert verdict.targets == {k: Decimal(v.rstrip("%")) for k, v in targets.items()}


def test_too_few_ratings_are_not_judged_on_csat() -> None:
    stats = quality_stats([ticket(1)], START, END)
    assert judge(stats, policy(csat="90%")).met is None
    assert judge(stats, policy(csat="90%", reopen_rate="5%")).met is True


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rating_window": "0s"}, "longer than zero"),
        ({"follow_up_after": "3651d"}, "longer than ten years"),
        ({"min_ratings": 0}, "greater than or equal to 1"),
        ({"targets": {"csat": "120%"}}, "between 0% and 100%"),
        ({"surveys": True}, "Extra inputs"),
    ],
)
def test_bad_quality_config_is_refused(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QualityPolicy.model_validate(section)
