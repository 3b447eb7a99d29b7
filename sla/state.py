"""The ticket's state model: what the workflow's `state` query answers, and its input."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, JsonValue

from sla.actions import ID_PATTERN, TEXT_LIMIT
from sla.clock import Metric, SlaClock
from sla.policy import PolicySnapshot
from sla.priorities import Priority


class TicketStatus(StrEnum):
    OPEN = "open"
    RESPONDED = "responded"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class EscalationRecord(BaseModel):
    level: int
    at: datetime
    metric: Metric
    reason: str
    notify: list[str] = []


class CreditRecord(BaseModel):
    kind: Literal["penalty", "reward"]
    metric: Metric
    amount: Decimal
    unit: str
    at: datetime
    cycle: int = 1


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str | None = None
    detail: dict[str, JsonValue] = {}


class CommentRecord(BaseModel):
    at: datetime
    author: str
    body: str


class OpenTicket(BaseModel):
    """The workflow input: the ticket as opened, and the policy it is under."""

    ticket_id: str = Field(pattern=ID_PATTERN)
    customer_id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=TEXT_LIMIT)
    priority: Priority
    policy: PolicySnapshot
    # When the customer opened it; the workflow's start time when not given.
    opened_at: datetime | None = None
    # The state carried over by continue-as-new.
    carried: TicketState | None = None
    # The TicketWorkflow revision it runs under for life (workflows/ticket.py REVISION,
    # docs/versioning.md); a starter that names none gets the first.
    revision: int = Field(default=1, ge=1)


class TicketState(BaseModel):
    ticket_id: str
    customer_id: str
    title: str
    description: str | None = None
    priority: Priority
    status: TicketStatus = TicketStatus.OPEN
    policy: str
    calendar: str
    timezone: str
    assignee: str | None = None
    created_at: datetime
    updated_at: datetime
    response: SlaClock
    resolution: SlaClock
    earlier_resolutions: list[SlaClock] = []
    ever_breached: bool = False
    escalation_level: int = 0
    escalations: list[EscalationRecord] = []
    credits: list[CreditRecord] = []
    comments: list[CommentRecord] = []
    timeline: list[TimelineEntry] = []
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    request_ids: list[str] = []


OpenTicket.model_rebuild()
