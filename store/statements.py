"""Monthly statements and availability, read from the store and priced by the pure rules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sla.availability import AvailabilityReport, availability_report, month_bounds
from sla.policy import SlaConfig
from sla.quality import quality_stats
from sla.statement import Statement, StatementCredit, build_statement, terms_of
from store.db import Store


def availability_for(
    store: Store, config: SlaConfig, month: str, service: str | None, now: datetime
) -> AvailabilityReport:
    terms = config.availability
    service = service or terms.service
    start, end = month_bounds(month)
    incidents = store.incidents(start, end, service)
    return availability_report(month, service, incidents, terms.target, terms.tiers, now)


def statement_for(
    store: Store, config: SlaConfig, customer_id: str, month: str, now: datetime
) -> Statement:
    start, end = month_bounds(month)
    penalties: list[StatementCredit] = []
    rewards: list[StatementCredit] = []
    breaches = 0
    for row in store.credits(customer_id, start, end):
        if row.kind == "penalty":
            breaches += 1  # every breached clock, priced or not
            if row.percent is None:
                continue
        amount = Decimal(row.amount) if row.amount is not None else Decimal(0)
        credit = StatementCredit(
            ticket_id=row.ticket_id,
            kind="penalty" if row.kind == "penalty" else "reward",
            metric=row.metric,
            amount=amount,
            unit=row.unit or "percent",
            at=row.at,
            percent=None if row.percent is None else Decimal(row.percent),
        )
        (penalties if row.kind == "penalty" else rewards).append(credit)
    terms = terms_of(config, customer_id)
    policy = config.policies[config.policy_for(customer_id)]
    quality = None
    if policy.quality is not None:
        outcomes = store.outcomes(start, end, customer_id=customer_id)
        quality = quality_stats((o.quality_facts() for o in outcomes), start, end)
    return build_statement(
        customer_id=customer_id,
        month=month,
        monthly_fee=terms.monthly_fee,
        currency=terms.currency,
        monthly_cap_percent=terms.cap,
        penalties=penalties,
        rewards=rewards,
        availability=availability_for(store, config, month, None, now),
        tickets=store.tickets_opened(customer_id, start, end),
        breaches=breaches,
        quality=quality,
        quality_policy=policy.quality,
    )
