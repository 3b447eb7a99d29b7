"""Monthly statements: penalties plus the availability tier, the cap, one rounding, rewards, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sla.availability import DEFAULT_TIERS, Incident, availability_report
from sla.quality import QualityFacts, QualityPolicy, QualityStats, Rated, quality_stats
from sla.statement import Statement, StatementCredit, build_statement, statement_csv

MONTH = "2026-11"
MONTH_END = datetime(2026, 12, 1, tzinfo=UTC)
LATER = datetime(2027, 1, 15, tzinfo=UTC)
FEE = Decimal(10000)
FIFTY_MINUTES = Incident(
    id="outage",
    started_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
    ended_at=datetime(2026, 11, 3, 10, 50, tzinfo=UTC),
)
AVAILABILITY = availability_report(
    MONTH, "platform", [FIFTY_MINUTES], Decimal("99.9"), DEFAULT_TIERS, LATER
)
CLEAN_AVAILABILITY = availability_report(
    MONTH, "platform", [], Decimal("99.9"), DEFAULT_TIERS, LATER
)


def penalty(
    metric: str, percent: str, amount: str, unit: str = "EUR", ticket: str = "T-1", day: int = 4
) -> StatementCredit:
    return StatementCredit(
        ticket_id=ticket,
        kind="penalty",
        metric=metric,
        percent=Decimal(percent),
        amount=Decimal(amount),
        unit=unit,
        at=datetime(2026, 11, day, 12, tzinfo=UTC),
    )


REWARD = StatementCredit(
    ticket_id="T-2",
    kind="reward",
    metric="resolution",
    amount=Decimal("0.5"),
    unit="support_hours",
    at=datetime(2026, 11, 6, 9, tzinfo=UTC),
)
P1_PENALTIES = [penalty("response", "2", "200"), penalty("resolution", "5", "500")]


def the_month(cap: str | None = None) -> Statement:
    """The month of the issue: a P1 breaching both metrics, a reward, 50 minutes down."""
    return build_statement(
        customer_id="acme",
        month=MONTH,
        monthly_fee=FEE,
        currency="EUR",
        monthly_cap_percent=None if cap is None else Decimal(cap),
        penalties=P1_PENALTIES,
        rewards=[REWARD],
        availability=AVAILABILITY,
        tickets=2,
        breaches=2,
    )


def test_the_month_totals_penalties_and_the_availability_tier() -> None:
    statement = the_month()
    assert statement.credit_total == Decimal("1700.00")
    assert str(statement.credit_total) == "1700.00"
    assert statement.credit_capped is False
    assert statement.cap is None
    assert statement.currency == "EUR"
    assert statement.monthly_fee == FEE
    assert (statement.tickets, statement.breaches) == (2, 2)
    assert len(statement.rewards) == 1
    assert [(c.kind, c.metric, c.amount) for c in statement.credits] == [
        ("penalty", "response", Decimal(200)),
        ("penalty", "resolution", Decimal(500)),
        ("availability", "availability", Decimal(1000)),
    ]


def test_the_availability_credit_is_a_percent_of_the_fee_at_the_end_of_the_month() -> None:
    availability = the_month().credits[-1]
    assert availability.ticket_id is None
    assert availability.percent == Decimal(10)
    assert availability.unit == "EUR"
    assert availability.at == MONTH_END


def test_the_month_with_a_ten_percent_cap_is_capped_at_one_thousand() -> None:
    statement = the_month(cap="10")
    assert statement.credit_total == Decimal("1000.00")
    assert str(statement.credit_total) == "1000.00"
    assert statement.credit_capped is True
    assert statement.cap == Decimal("1000.00")


def test_a_cap_above_the_total_does_not_bite() -> None:
    statement = the_month(cap="30")
    assert statement.credit_total == Decimal("1700.00")
    assert statement.credit_capped is False
    assert statement.cap == Decimal("3000.00")


def test_a_total_exactly_at_the_cap_is_not_capped() -> None:
    statement = the_month(cap="17")
    assert statement.credit_total == Decimal("1700.00")
    assert statement.credit_capped is False


def test_rewards_are_listed_but_never_counted_as_credits() -> None:
    statement = the_month()
    assert statement.rewards == [REWARD]
    assert all(c.kind != "reward" for c in statement.credits)


def test_no_availability_credit_when_the_tier_earns_nothing() -> None:
    statement = build_statement(
        "acme", MONTH, FEE, "EUR", None, P1_PENALTIES, [], CLEAN_AVAILABILITY, 1, 2
    )
    assert [c.kind for c in statement.credits] == ["penalty", "penalty"]
    assert statement.credit_total == Decimal("700.00")


def test_the_total_is_rounded_once_not_per_credit() -> None:
    # Three credits of 0.005 EUR: rounded each they would make 0.03, summed first 0.015 -> 0.02.
    tiny = [penalty("response", "0.00005", "0.005", ticket=f"T-{n}") for n in range(3)]
    statement = build_statement("acme", MONTH, FEE, "EUR", None, tiny, [], CLEAN_AVAILABILITY, 3, 3)
    assert str(statement.credit_total) == "0.02"
    assert [c.amount for c in statement.credits] == [Decimal("0.005")] * 3


def test_the_total_rounds_half_up_to_the_currency_minor_unit() -> None:
    yen = [penalty("response", "0.025", "2.5", unit="JPY")]
    statement = build_statement(
        "acme", MONTH, Decimal(10000), "JPY", None, yen, [], CLEAN_AVAILABILITY, 1, 1
    )
    assert str(statement.credit_total) == "3"


def test_a_penalty_recorded_in_percent_is_priced_at_the_contract_fee() -> None:
    before_contract = [penalty("response", "2", "2", unit="percent")]
    statement = build_statement(
        "acme", MONTH, FEE, "EUR", None, before_contract, [], CLEAN_AVAILABILITY, 1, 1
    )
    assert statement.credit_total == Decimal("200.00")


def test_without_a_contract_credits_and_total_are_percents() -> None:
    percents = [
        penalty("response", "2", "2", unit="percent"),
        penalty("resolution", "5", "5", unit="percent"),
    ]
    statement = build_statement(
        "walk-in", MONTH, None, None, None, percents, [REWARD], AVAILABILITY, 1, 2
    )
    assert statement.currency is None
    assert statement.monthly_fee is None
    assert statement.credit_total == Decimal(17)
    assert statement.credit_capped is False
    availability = statement.credits[-1]
    assert (availability.amount, availability.unit) == (Decimal(10), "percent")
    assert statement.rewards == [REWARD]


def test_without_a_contract_the_cap_applies_to_the_percents() -> None:
    percents = [penalty("resolution", "5", "5", unit="percent")]
    statement = build_statement(
        "walk-in", MONTH, None, None, Decimal(10), percents, [], AVAILABILITY, 1, 1
    )
    assert statement.credit_total == Decimal(10)
    assert statement.credit_capped is True
    assert statement.cap == Decimal(10)


def test_a_fee_without_a_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a currency"):
        build_statement("acme", MONTH, FEE, None, None, [], [], AVAILABILITY, 0, 0)


def test_availability_of_another_month_is_refused() -> None:
    october = availability_report("2026-10", "platform", [], Decimal("99.9"), DEFAULT_TIERS, LATER)
    with pytest.raises(ValueError, match="2026-10"):
        build_statement("acme", MONTH, FEE, "EUR", None, [], [], october, 0, 0)


def test_a_reward_among_the_penalties_is_refused() -> None:
    with pytest.raises(ValueError, match="expected penalty"):
        build_statement("acme", MONTH, FEE, "EUR", None, [REWARD], [], AVAILABILITY, 0, 0)


def test_csv_has_a_header_a_row_per_credit_and_reward_and_the_total() -> None:
    rows = list(csv.reader(io.StringIO(statement_csv(the_month(cap="10")))))
    assert rows[0] == ["ticket_id", "kind", "metric", "amount", "unit", "at"]
    assert rows[1:] == [
        ["T-1", "penalty", "response", "200", "EUR", "2026-11-04T12:00:00+00:00"],
        ["T-1", "penalty", "resolution", "500", "EUR", "2026-11-04T12:00:00+00:00"],
        ["", "availability", "availability", "1000.00", "EUR", "2026-12-01T00:00:00+00:00"],
        ["T-2", "reward", "resolution", "0.5", "support_hours", "2026-11-06T09:00:00+00:00"],
        ["", "total", "", "1000.00", "EUR", ""],
    ]


def test_csv_amounts_are_plain_decimals_and_the_total_unit_is_percent_without_contract() -> None:
    big = [penalty("response", "1E+1", "1E+1", unit="percent")]
    statement = build_statement(
        "walk-in", MONTH, None, None, None, big, [], CLEAN_AVAILABILITY, 1, 1
    )
    rows = list(csv.reader(io.StringIO(statement_csv(statement))))
    assert rows[1][3] == "10"
    assert rows[-1] == ["", "total", "", "10", "percent", ""]


QUALITY = QualityPolicy.model_validate(
    {"targets": {"csat": "90%"}, "min_ratings": 1, "credit": "5%",
     "reward": {"amount": 1, "unit": "training_session"}}
)  # fmt: skip


def rated(*scores: int) -> QualityStats:
    at = datetime(2026, 11, 5, tzinfo=UTC)
    tickets = [
        QualityFacts(
            resolved_at=at, cycles=1, responses=0, ratings=[Rated(cycle=1, score=s, at=at)]
        )
        for s in scores
    ]
    return quality_stats(tickets, datetime(2026, 11, 1, tzinfo=UTC), MONTH_END)


def quality_month(stats: QualityStats, cap: str | None = "30") -> Statement:
    return build_statement(
        customer_id="acme",
        month=MONTH,
        monthly_fee=FEE,
        currency="EUR",
        monthly_cap_percent=None if cap is None else Decimal(cap),
        penalties=P1_PENALTIES,
        rewards=[],
        availability=CLEAN_AVAILABILITY,
        tickets=3,
        breaches=2,
        quality=stats,
        quality_policy=QUALITY,
    )


def test_a_month_that_misses_a_quality_target_is_credited_once_in_money() -> None:
    statement = quality_month(rated(5, 5, 1))
    assert statement.quality is not None
    assert (statement.quality.csat, statement.quality.met) == (0.6667, False)
    assert statement.quality.missed == ["csat"]
    [credit] = [c for c in statement.credits if c.metric == "quality"]
    assert (credit.kind, credit.amount, credit.unit, credit.at) == (
        "penalty", Decimal("500"), "EUR", MONTH_END
    )  # fmt: skip
    assert statement.credit_total == Decimal("1200.00")  # 200 + 500 + 500
    assert statement.rewards == []


def test_the_quality_credit_counts_under_the_monthly_cap() -> None:
    statement = quality_month(rated(1), cap="10")
    assert (statement.credit_total, statement.credit_capped) == (Decimal("1000.00"), True)


def test_a_month_that_meets_every_target_earns_the_quality_reward() -> None:
    statement = quality_month(rated(5, 4))
    assert statement.quality is not None and statement.quality.met is True
    assert [(r.metric, r.amount, r.unit) for r in statement.rewards] == [
        ("quality", Decimal("1"), "training_session")
    ]
    assert all(c.metric != "quality" for c in statement.credits)


def test_a_month_without_ratings_is_not_judged_on_csat() -> None:
    statement = quality_month(rated())
    assert statement.quality is not None and statement.quality.met is None
    assert statement.rewards == [] and all(c.metric != "quality" for c in statement.credits)
