"""A customer's monthly statement: penalty and availability credits, the cap, rewards, CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from sla.availability import AvailabilityReport, month_bounds
from sla.money import percent_of, round_money
from sla.policy import SlaConfig
from sla.quality import QualityPolicy, QualityStats, QualityVerdict, judge

PERCENT = "percent"


class StatementCredit(BaseModel):
    ticket_id: str | None
    kind: Literal["penalty", "reward", "availability"]
    metric: str
    amount: Decimal
    unit: str  # a currency code, "percent", or a reward's unit such as "support_hours"
    at: datetime
    percent: Decimal | None = None


class Statement(BaseModel):
    customer_id: str
    month: str
    currency: str | None
    monthly_fee: Decimal | None
    tickets: int = Field(ge=0)
    breaches: int = Field(ge=0)
    credits: list[StatementCredit]
    availability: AvailabilityReport
    credit_total: Decimal
    credit_capped: bool
    cap: Decimal | None
    rewards: list[StatementCredit]
    # The month's quality against the policy's targets; None when the policy sets none.
    quality: QualityVerdict | None = None


def _money(credit: StatementCredit, fee: Decimal, currency: str) -> Decimal:
    """What a credit is worth in the contract's currency, unrounded."""
    if credit.unit == currency:
        return credit.amount
    # Recorded under other terms (before the contract, or in another currency): what the
    # contract promises is the percentage, so apply it to this month's fee.
    percent = credit.amount if credit.unit == PERCENT else credit.percent
    if percent is None:
        raise ValueError(
            f"credit {credit.metric!r} of ticket {credit.ticket_id!r} is in {credit.unit!r} "
            f"with no percent: it cannot be counted in {currency}"
        )
    return percent_of(fee, percent)


def _percent(credit: StatementCredit) -> Decimal:
    """What a credit is worth as a percent of the fee, for a customer without a contract."""
    if credit.percent is not None:
        return credit.percent
    if credit.unit == PERCENT:
        return credit.amount
    raise ValueError(
        f"credit {credit.metric!r} of ticket {credit.ticket_id!r} is in {credit.unit!r} "
        "with no percent: it cannot be counted without a contract"
    )


def _check_kinds(credits: list[StatementCredit], kind: str) -> None:
    for credit in credits:
        if credit.kind != kind:
            raise ValueError(f"expected {kind} credits, got a {credit.kind} one: {credit!r}")


class Terms(BaseModel):
    """What a customer's statement prices its credits with: today's contract and the cap of
    the customer's policy today (a customer without a contract is credited percents)."""

    monthly_fee: Decimal | None
    currency: str | None
    cap: Decimal | None


def terms_of(config: SlaConfig, customer_id: str) -> Terms:
    customer = config.customers.get(customer_id)
    policy = config.policies[config.policy_for(customer_id)]
    return Terms(
        monthly_fee=customer.monthly_fee if customer else None,
        currency=customer.currency if customer else None,
        cap=policy.credits.monthly_cap if policy.credits else None,
    )


def credit_total(
    credits: list[StatementCredit],
    monthly_fee: Decimal | None,
    currency: str | None,
    monthly_cap_percent: Decimal | None,
) -> tuple[Decimal, bool, Decimal | None]:
    """A month's credits totalled as its statement does: money in the contract's currency
    (percents of the fee for a customer without a contract), capped at the cap, rounded once.
    Returns the total, whether the cap cut it, and the cap."""
    contract_currency = currency if monthly_fee is not None else None
    cap: Decimal | None = None
    if monthly_fee is None or contract_currency is None:
        total = sum((_percent(credit) for credit in credits), Decimal(0))
        cap = monthly_cap_percent
    else:
        total = sum((_money(c, monthly_fee, contract_currency) for c in credits), Decimal(0))
        if monthly_cap_percent is not None:
            cap = percent_of(monthly_fee, monthly_cap_percent)
    capped = cap is not None and total > cap
    if cap is not None:
        total = min(total, cap)
    if contract_currency is not None:
        # The one rounding of the statement: each credit stays exact until the total.
        total = round_money(total, contract_currency)
        cap = None if cap is None else round_money(cap, contract_currency)
    return total, capped, cap


def build_statement(
    customer_id: str,
    month: str,
    monthly_fee: Decimal | None,
    currency: str | None,
    monthly_cap_percent: Decimal | None,
    penalties: list[StatementCredit],
    rewards: list[StatementCredit],
    availability: AvailabilityReport,
    tickets: int,
    breaches: int,
    quality: QualityStats | None = None,
    quality_policy: QualityPolicy | None = None,
) -> Statement:
    """The month's statement: penalties plus the availability tier, capped, rounded once.

    With a contract (`monthly_fee` set) credits are money in `currency`; the total is summed
    unrounded, capped at `monthly_cap_percent` of the fee, then rounded half-up to the minor
    unit. Without one, the total is the sum of percents, capped at the cap percent.
    Rewards are listed, never counted against credits. A month that misses a quality
    target adds the policy's quality credit (under the same cap); one that meets every
    target earns its quality reward.
    """
    _, month_end = month_bounds(month)
    if availability.month != month:
        raise ValueError(f"availability is for {availability.month}, the statement for {month}")
    _check_kinds(penalties, "penalty")
    _check_kinds(rewards, "reward")
    if monthly_fee is not None and currency is None:
        raise ValueError("a monthly fee needs a currency")
    contract_currency = currency if monthly_fee is not None else None

    credits = sorted(penalties, key=lambda credit: (credit.at, credit.ticket_id or ""))
    tier = availability.credit_percent
    if tier > 0:
        credits.append(
            StatementCredit(
                ticket_id=None,
                kind="availability",
                metric="availability",
                percent=tier,
                amount=tier if monthly_fee is None else percent_of(monthly_fee, tier),
                unit=contract_currency or PERCENT,
                at=month_end,
            )
        )

    verdict = None
    rewards = list(rewards)
    if quality_policy is not None:
        verdict = judge(quality or QualityStats(), quality_policy)
        percent = quality_policy.credit
        if verdict.met is False and percent is not None and percent > 0:
            credits.append(
                StatementCredit(
                    ticket_id=None,
                    kind="penalty",
                    metric="quality",
                    percent=percent,
                    amount=percent if monthly_fee is None else percent_of(monthly_fee, percent),
                    unit=contract_currency or PERCENT,
                    at=month_end,
                )
            )
        if verdict.met is True and quality_policy.reward is not None:
            reward = quality_policy.reward
            rewards.append(
                StatementCredit(
                    ticket_id=None,
                    kind="reward",
                    metric="quality",
                    amount=reward.amount,
                    unit=reward.unit,
                    at=month_end,
                )
            )

    total, capped, cap = credit_total(credits, monthly_fee, currency, monthly_cap_percent)
    return Statement(
        customer_id=customer_id,
        month=month,
        currency=contract_currency,
        monthly_fee=monthly_fee,
        tickets=tickets,
        breaches=breaches,
        credits=credits,
        availability=availability,
        credit_total=total,
        credit_capped=capped,
        cap=cap,
        rewards=sorted(rewards, key=lambda credit: (credit.at, credit.ticket_id or "")),
        quality=verdict,
    )


def _plain(amount: Decimal) -> str:
    # format "f" never switches to exponent notation (Decimal("1E+3") -> "1000").
    return format(amount, "f")


def statement_csv(statement: Statement) -> str:
    """The statement as CSV: a header, one row per credit then per reward, then the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ticket_id", "kind", "metric", "amount", "unit", "at"])
    for credit in [*statement.credits, *statement.rewards]:
        writer.writerow(
            [
                credit.ticket_id or "",
                credit.kind,
                credit.metric,
                _plain(credit.amount),
                credit.unit,
                credit.at.isoformat(),
            ]
        )
    writer.writerow(
        ["", "total", "", _plain(statement.credit_total), statement.currency or PERCENT, ""]
    )
    return out.getvalue()
