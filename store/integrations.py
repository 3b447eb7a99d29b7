"""Help desks' webhook deliveries in the store: one row per (source, delivery), written once.

The row is the delivery's receipt: `GET /integrations/events` lists them by outcome, a desk's
retry of a delivery is answered from it without applying anything again, and an issue's
reporter (whose comments are not responses) is read back from its creation's row."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import Store
from store.models import IntegrationEventRow

Outcome = Literal["applied", "ignored", "rejected"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
Source = Literal["jira", "zendesk"]


class StepOutcome(BaseModel):
    """What one operation of a delivery did."""

    do: str  # open, respond, resolve, pause, resume, reopen, change
    at: datetime | None
    outcome: Outcome
    reason: str | None = None


class IntegrationEvent(BaseModel):
    source: Source
    delivery_id: str
    event: str
    ticket_id: str | None
    outcome: Outcome
    reason: str | None
    steps: list[StepOutcome]
    reporter: str | None = None
    event_at: datetime | None
    received_at: datetime


def _event(row: IntegrationEventRow) -> IntegrationEvent:
    return IntegrationEvent(
        source=row.source,  # only Sources are ever written
        delivery_id=row.delivery_id,
        event=row.event,
        ticket_id=row.ticket_id,
        outcome=row.outcome,  # only OUTCOMES are ever written
        reason=row.reason,
        steps=[StepOutcome.model_validate(s) for s in json.loads(row.steps)],
        reporter=row.reporter,
        event_at=row.event_at,
        received_at=row.received_at,
    )


def record_integration_event(store: Store, event: IntegrationEvent) -> IntegrationEvent:
    """Keep the delivery's outcome, once: the row already there (a retry that raced the
    first delivery) wins, and is what this answers."""
    values = event.model_dump(exclude={"steps"}) | {
        "steps": json.dumps([s.model_dump(mode="json") for s in event.steps])
    }
    dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(IntegrationEventRow).values(values)
    insert = insert.on_conflict_do_nothing(index_elements=["source", "delivery_id"])
    with store.engine.begin() as connection:
        connection.execute(insert)
    kept = integration_event(store, event.source, event.delivery_id)
    assert kept is not None
    return kept


def integration_event(store: Store, source: str, delivery_id: str) -> IntegrationEvent | None:
    with store.session() as session:
        row = session.get(IntegrationEventRow, (source, delivery_id))
        return None if row is None else _event(row)


def integration_events(
    store: Store,
    outcome: Outcome | None = None,
    source: Source | None = None,
    ticket_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[IntegrationEvent]:
    """Deliveries, newest first."""
    query = select(IntegrationEventRow)
    if outcome is not None:
        query = query.where(IntegrationEventRow.outcome == outcome)
    if source is not None:
        query = query.where(IntegrationEventRow.source == source)
    if ticket_id is not None:
        query = query.where(IntegrationEventRow.ticket_id == ticket_id)
    query = query.order_by(
        IntegrationEventRow.received_at.desc(),
        IntegrationEventRow.source,
        IntegrationEventRow.delivery_id,
    )
    with store.session() as session:
        rows = session.scalars(query.offset(offset).limit(limit)).all()
        return [_event(row) for row in rows]


def reporter_of(store: Store, source: str, ticket_id: str) -> str | None:
    """The reporter a desk named when it opened `ticket_id`, if slaflow heard it."""
    query = (
        select(IntegrationEventRow.reporter)
        .where(
            IntegrationEventRow.source == source,
            IntegrationEventRow.ticket_id == ticket_id,
            IntegrationEventRow.reporter.is_not(None),
        )
        .order_by(IntegrationEventRow.received_at)
        .limit(1)
    )
    with store.session() as session:
        return session.scalars(query).first()
