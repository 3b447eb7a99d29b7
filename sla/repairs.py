"""A bulk repair: every open ticket running under a policy re-resolved from the config in force
(workflows/repairs.py). Its request, each ticket's order, and the progress ticket by ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sla.actions import ID_PATTERN, TEXT_LIMIT
from sla.clock import ClockState, Metric
from sla.state import KeptBreach, RepairRecord

REPAIR_WORKFLOW = "RepairPolicy"
# The tickets one bulk repair takes: its progress (about 400 bytes a ticket) is a query's
# answer and its workflow's result, which stay well under Temporal's 2 MB payload limit.
REPAIR_LIMIT = 2_000
# Tickets repaired at once: a large repair does not crowd the agents' own actions out.
REPAIR_BATCH = 10
REPAIR_ID_PATTERN = r"^repair-[0-9a-f]{32}$"


class PolicyRepair(BaseModel):
    """`POST /policies/{name}/repair`: the bulk repair's workflow input."""

    repair_id: str = Field(pattern=REPAIR_ID_PATTERN)
    policy: str = Field(pattern=ID_PATTERN)
    reason: str = Field(min_length=1, max_length=TEXT_LIMIT)
    dry_run: bool = False
    actor: str | None = Field(default=None, pattern=ID_PATTERN)
    sent_by: str | None = Field(default=None, pattern=ID_PATTERN)


class TicketsUnder(BaseModel):
    """The open tickets of a policy on a task queue (one slaflow deployment's)."""

    policy: str = Field(pattern=ID_PATTERN)
    task_queue: str


class RepairOrder(BaseModel):
    """One ticket of a bulk repair, for its activity."""

    ticket_id: str
    policy: str
    reason: str
    dry_run: bool
    actor: str | None = None
    sent_by: str | None = None
    # Derived from the repair and the ticket: a retry (a worker killed mid-way) applies once.
    request_id: str


class ClockDue(BaseModel):
    metric: Metric
    due_before: datetime | None
    due_at: datetime | None
    state: ClockState


Outcome = Literal["pending", "repaired", "would_repair", "skipped", "refused", "failed"]


class TicketRepair(BaseModel):
    """What a bulk repair did (or, dry, would do) to one ticket: each clock's due time before
    and after, the breaches kept; or why it did not (`detail`)."""

    ticket_id: str
    outcome: Outcome = "pending"
    detail: str | None = None
    previous: str | None = None
    policy: str | None = None
    clocks: list[ClockDue] = []
    kept_breaches: list[KeptBreach] = []

    @classmethod
    def of(cls, ticket_id: str, outcome: Outcome, record: RepairRecord) -> TicketRepair:
        return cls(
            ticket_id=ticket_id,
            outcome=outcome,
            previous=record.previous,
            policy=record.policy,
            clocks=[
                ClockDue(metric=c.metric, due_before=c.due_before, due_at=c.due_at, state=c.state)
                for c in record.clocks
            ],
            kept_breaches=record.kept_breaches,
        )


class RepairProgress(BaseModel):
    """The `progress` query of a bulk repair, and its result: `GET /repairs/{id}`."""

    repair_id: str
    policy: str
    dry_run: bool
    reason: str
    actor: str | None = None
    status: Literal["listing", "repairing", "done", "failed"] = "listing"
    started_at: datetime
    finished_at: datetime | None = None
    detail: str | None = None
    tickets: list[TicketRepair] = []


def ticket_request_id(repair_id: str, ticket_id: str) -> str:
    """The repair's request id on one ticket: the ticket (and Temporal's Update id) dedups it."""
    return f"{repair_id}:{ticket_id}"


def own_repair(records: list[RepairRecord], request_id: str) -> RepairRecord | None:
    """The repair a request made, if the ticket has it."""
    return next((r for r in reversed(records) if r.request_id == request_id), None)
