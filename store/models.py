"""Tables of the store. Amounts are decimal strings: SQLite has no exact numeric type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CreditRow(Base):
    """A penalty or reward, once per key (ticket, kind, metric, cycle)."""

    __tablename__ = "credits"
    __table_args__ = (UniqueConstraint("key", name="uq_credits_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[str] = mapped_column(String(4))
    metric: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer)
    percent: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[str | None] = mapped_column(String(40))
    unit: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NotificationRow(Base):
    """A warning or escalation, once per key (ticket, kind, metric, cycle, level)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("key", name="uq_notifications_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    payload: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TicketRow(Base):
    """A ticket's outcome, kept current while it lives and final once it closes."""

    __tablename__ = "tickets"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[str] = mapped_column(String(4))
    policy: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    responded_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    response_state: Mapped[str] = mapped_column(String(16))
    resolution_state: Mapped[str] = mapped_column(String(16))
    response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    response_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    cycles: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The opening request's fingerprint (sla.outcome.opening_request): a ticket id is taken
    # forever, and only the very same request may open it again (docs/design.md).
    request: Mapped[str | None] = mapped_column(String(64))
    # The ticket's time when this outcome was made: a late retry of an older outcome (one
    # carried across continue-as-new while the store was down) never overwrites a newer one.
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Quality (sla/quality.py): agent responses, and the ratings by cycle as a JSON list.
    responses: Mapped[int] = mapped_column(Integer, default=0)
    ratings: Mapped[str | None] = mapped_column(Text)
    # The journal entries this outcome reflects (sla/journal.py); None before the journal.
    journaled: Mapped[int | None] = mapped_column(Integer)


class OpeningRow(Base):
    """How a ticket was opened and the policy snapshot it ran under (sla/journal.py), once:
    with its journal, what a what-if replays after Temporal's retention."""

    __tablename__ = "ticket_openings"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(4))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # The PolicySnapshot as JSON, its calendar resolved as the ticket had it.
    policy: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JournalRow(Base):
    """One entry of a ticket's journal: an action that applied, or a calendar extension, at
    the ticket's time; once per (ticket, seq)."""

    __tablename__ = "ticket_journal"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IncidentRow(Base):
    """A stretch of platform downtime, entered by an admin or opened by the probe."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="manual")


class ProbeStateRow(Base):
    """The availability probe's consecutive failures, carried from one scheduled check to the
    next."""

    __tablename__ = "probe_state"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StatementRow(Base):
    """A closed month's statement per customer, frozen when the month was closed."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("customer_id", "month", name="uq_statements_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    credit_total: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str | None] = mapped_column(String(3))
    payload: Mapped[str] = mapped_column(Text)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DeliveryRow(Base):
    """One event for one target (webhook or e-mail) and how its delivery went: pending,
    delivered or dead (given up after `notifications.give_up_after`). The dead letters."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_created", "state", "created_at"),)

    # sla.notifications.delivery_id(delivery): one row per (event id, target).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(320), index=True)
    state: Mapped[str] = mapped_column(String(16))  # pending, delivered, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)
    # The DeliveryOrder as JSON: what POST /deliveries/{id}/retry sends again.
    order: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IntegrationEventRow(Base):
    """One delivery of a help desk's webhook (Jira, Zendesk) and what came of it: applied,
    ignored or rejected, with why. Written once per (source, delivery): a desk's retry of a
    delivery finds it here and is answered as the first one was."""

    __tablename__ = "integration_events"
    __table_args__ = (
        Index("ix_integration_events_outcome_received", "outcome", "received_at"),
        Index("ix_integration_events_source_ticket", "source", "ticket_id"),
    )

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The desk's delivery id (Jira's X-Atlassian-Webhook-Identifier, Zendesk's invocation id),
    # or the SHA-256 of the body for a desk that sends none.
    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # applied, ignored, rejected
    reason: Mapped[str | None] = mapped_column(Text)
    # Each step as JSON: what it did (open, respond, ...), its time, its outcome and why.
    steps: Mapped[str] = mapped_column(Text)
    # The desk's reporter of the ticket, from its creation: later comment bodies may not say.
    reporter: Mapped[str | None] = mapped_column(String(64))
    event_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
