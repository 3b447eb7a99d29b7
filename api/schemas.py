"""The HTTP shapes of docs/api.md: what comes in, and the Ticket that goes out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PlainSerializer, create_model

from api.instants import Instant
from sla.actions import ID_PATTERN, PAST_LIMIT, REQUEST_ID_LIMIT, TEXT_LIMIT, ActionKind
from sla.clock import SlaClock
from sla.priorities import Priority
from sla.repairs import RepairProgress
from sla.ticket import RepairRecord, TicketState, TicketStatus


def _utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


# docs/api.md: times are ISO 8601 with a UTC offset ("+00:00", never a bare "Z" or naive time).
Time = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str)]
TicketId = Annotated[str, Field(pattern=ID_PATTERN, examples=["T-1001"])]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    priority: Priority
    customer_id: str = Field(pattern=ID_PATTERN)
    description: str | None = Field(default=None, max_length=TEXT_LIMIT)
    ticket_id: str | None = Field(default=None, pattern=ID_PATTERN)
    at: Instant | None = Field(
        default=None,
        description=(
            "when it was opened in the source system (ISO 8601 with offset; admin and "
            "integration keys only): at most 30 days back, not in the future. Its clocks "
            "start then"
        ),
    )
    events: list[dict[str, Any]] = Field(
        default=[],
        max_length=PAST_LIMIT,
        description=(
            "what already happened to it in the source desk, in order (a backfill): each an "
            'action\'s body with its name and time, {"action": "respond", "at": ..., '
            '"agent_id": ...}; applied as it opens, before any deadline is checked. Needs `at`'
        ),
    )


# What the API stamps on an action itself, from the caller's key: a body that sends it is 422.
SET_BY_THE_API = frozenset({"sent_by"})


_BODIES: dict[str, type[BaseModel]] = {}


def action_body(kind: ActionKind[Any]) -> type[BaseModel]:
    """The HTTP body of an action, made once per kind (below)."""
    if kind.name not in _BODIES:
        _BODIES[kind.name] = _action_body(kind)
    return _BODIES[kind.name]


def _action_body(kind: ActionKind[Any]) -> type[BaseModel]:
    """An action's HTTP body: its model's fields but those the API sets (`sent_by`, and the
    kind's edge fields, resolved from the config), with the field that
    names who does it optional, since a key fills it with its own name (docs/api.md, "Access").
    Without keys the API checks the action's own model, so a name it needs is still asked for."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in kind.model.model_fields.items()
        if name not in SET_BY_THE_API and name not in kind.edge_fields
    }
    fields["at"] = (Instant | None, fields["at"][1])  # a time Python can do arithmetic on
    if kind.actor is not None:
        fields[kind.actor] = (
            str | None,
            Field(
                default=None,
                pattern=ID_PATTERN,
                description=(
                    "who does it. Without API keys, as given (respond, resolve and comment need "
                    "it); with keys, the key's own name, which may be left out, or whom an admin "
                    "key names"
                ),
            ),
        )
    model: type[BaseModel] = create_model(
        kind.model.__name__,
        __config__=ConfigDict(extra="forbid"),
        __doc__=kind.model.__doc__,
        **fields,
    )
    return model


class ClockOut(BaseModel):
    target_seconds: int
    elapsed_seconds: int
    due_at: Time | None
    state: str
    cycle: int
    completed_at: Time | None
    breached_at: Time | None

    @classmethod
    def of(cls, clock: SlaClock) -> ClockOut:
        return cls(
            target_seconds=int(clock.target.total_seconds()),
            elapsed_seconds=int(clock.elapsed.total_seconds()),
            due_at=clock.due_at,
            state=clock.state.value,
            cycle=clock.cycle,
            completed_at=clock.completed_at,
            breached_at=clock.breached_at,
        )


class EscalationOut(BaseModel):
    level: int
    at: Time
    metric: str
    reason: str
    notify: list[str]


class CreditOut(BaseModel):
    kind: Literal["penalty", "reward"]
    metric: str
    amount: Annotated[Decimal, PlainSerializer(str, return_type=str)]
    unit: str
    at: Time


class CommentOut(BaseModel):
    at: Time
    author: str
    body: str
    internal: bool


class RatingOut(BaseModel):
    cycle: int
    score: int
    comment: str | None
    at: Time


class Ticket(BaseModel):
    ticket_id: str
    customer_id: str
    title: str
    description: str | None
    priority: Priority
    status: TicketStatus
    policy: str
    calendar: str
    timezone: str
    assignee: str | None
    created_at: Time
    updated_at: Time
    resolved_at: Time | None
    closed_at: Time | None
    response: ClockOut
    resolution: ClockOut
    earlier_resolutions: list[ClockOut]
    ever_breached: bool
    escalation_level: int
    escalations: list[EscalationOut]
    credits: list[CreditOut]
    # The last 50 comments; `comment_count` is all of them (GET /tickets/{id}/comments).
    comments: list[CommentOut]
    comment_count: int
    # The last resolution's note, and the customer's ratings by resolution cycle.
    resolution_note: str | None
    ratings: list[RatingOut]
    # Until when the current resolution may be rated (docs/quality.md).
    rating_closes_at: Time | None

    @classmethod
    def of(cls, state: TicketState, *, staff: bool = True) -> Ticket:
        """The ticket as its reader may see it: a customer does not see whom an escalation
        notified (staff addresses and routing are ours) nor internal comments."""
        comments = [c for c in state.comments if staff or not c.internal]
        count = state.comment_count - (0 if staff else state.internal_comment_count)
        return cls(
            **state.model_dump(
                include={
                    "ticket_id",
                    "customer_id",
                    "title",
                    "description",
                    "priority",
                    "status",
                    "policy",
                    "calendar",
                    "timezone",
                    "assignee",
                    "created_at",
                    "updated_at",
                    "resolved_at",
                    "closed_at",
                    "ever_breached",
                    "escalation_level",
                    "resolution_note",
                    "rating_closes_at",
                }
            ),
            ratings=[RatingOut(**r.model_dump(exclude={"given_by"})) for r in state.ratings],
            response=ClockOut.of(state.response),
            resolution=ClockOut.of(state.resolution),
            earlier_resolutions=[ClockOut.of(c) for c in state.earlier_resolutions],
            escalations=[
                EscalationOut(**(e.model_dump() | ({} if staff else {"notify": []})))
                for e in state.escalations
            ],
            credits=[CreditOut(**c.model_dump()) for c in state.credits],
            comments=[CommentOut(**c.model_dump()) for c in comments],
            comment_count=count,
        )


class TicketSummary(BaseModel):
    """A ticket as visibility knows it: enough for a queue, without personal data."""

    ticket_id: str
    customer_id: str | None
    status: str | None
    priority: str | None
    breached: bool
    escalation_level: int
    response_due_at: Time | None
    resolution_due_at: Time | None
    opened_at: Time | None
    closed_at: Time | None


class TicketPage(BaseModel):
    tickets: list[TicketSummary]
    next_page_token: str | None


class TimelineEntryOut(BaseModel):
    at: Time
    kind: str
    actor: str | None
    detail: dict[str, JsonValue]


class CommentPage(BaseModel):
    ticket_id: str
    comments: list[CommentOut]
    comment_count: int
    # Pass it back as `page_token` for the next page; null on the last.
    next_page_token: str | None


class Timeline(BaseModel):
    ticket_id: str
    entries: list[TimelineEntryOut]


class HistoryRun(BaseModel):
    run_id: str
    events: list[dict[str, JsonValue]]


class History(BaseModel):
    ticket_id: str
    runs: list[HistoryRun]


class DeliveryOut(BaseModel):
    """One event for one target and how its delivery went (docs/api.md, "Deliveries")."""

    id: str
    event_id: str
    event_type: str
    ticket_id: str | None
    target: str
    state: Literal["pending", "delivered", "dead"]
    # Attempts of the delivery's last run (0 while a retry waits for its first).
    attempts: int
    # What the receiver last answered, or why the delivery is dead.
    detail: str | None
    created_at: Time
    updated_at: Time


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    # Pass it back as `page_token` for the next page; null on the last.
    next_page_token: str | None


class ErrorOut(BaseModel):
    """Every error: a sentence saying what is wrong, or FastAPI's list of invalid fields."""

    detail: str | list[dict[str, JsonValue]]


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no valid API key"},
    403: {"model": ErrorOut, "description": "the key's role may not do this"},
    404: {"model": ErrorOut, "description": "unknown ticket, customer, calendar or incident"},
    409: {"model": ErrorOut, "description": "the ticket's state does not allow this"},
    413: {"model": ErrorOut, "description": "request body over 64 KiB"},
    422: {"model": ErrorOut, "description": "invalid input"},
    503: {"model": ErrorOut, "description": "Temporal unreachable or slow; retry"},
}


# -- repairs (api/routes/repairs.py) -------------------------------------------------------


class RepairRequest(BaseModel):
    """`POST /tickets/{id}/repair`: the ticket's policy re-resolved from the config in force."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="a policy of the config in force; by default the customer's, as the config "
        "has it now",
    )
    reason: str = Field(
        min_length=1, max_length=TEXT_LIMIT, description="why: on the ticket's timeline"
    )
    actor: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="who repairs it: with keys, the admin key's own name, or whom it names",
    )
    request_id: str | None = Field(default=None, max_length=REQUEST_ID_LIMIT)


class KeptBreachOut(BaseModel):
    metric: str
    cycle: int
    breached_at: Time


class ClockRepairOut(BaseModel):
    metric: str
    cycle: int
    target_seconds_before: int
    target_seconds: int
    due_before: Time | None
    due_at: Time | None
    state: str
    breached_at: Time | None


class RepairOut(BaseModel):
    at: Time
    actor: str | None
    reason: str
    previous_policy: str
    policy: str
    clocks: list[ClockRepairOut]

    @classmethod
    def of(cls, record: RepairRecord) -> RepairOut:
        return cls(
            at=record.at,
            actor=record.actor,
            reason=record.reason,
            previous_policy=record.previous,
            policy=record.policy,
            clocks=[
                ClockRepairOut(
                    metric=c.metric.value,
                    cycle=c.cycle,
                    target_seconds_before=int(c.target_before.total_seconds()),
                    target_seconds=int(c.target.total_seconds()),
                    due_before=c.due_before,
                    due_at=c.due_at,
                    state=c.state.value,
                    breached_at=c.breached_at,
                )
                for c in record.clocks
            ],
        )


class RepairedTicket(Ticket):
    """The repaired ticket, the repair, and the breaches it kept: a repair never un-breaches."""

    kept_breaches: list[KeptBreachOut]
    repair: RepairOut

    @classmethod
    def repaired(cls, state: TicketState, record: RepairRecord) -> RepairedTicket:
        return cls(
            **Ticket.of(state).model_dump(),
            kept_breaches=[KeptBreachOut(**b.model_dump()) for b in record.kept_breaches],
            repair=RepairOut.of(record),
        )


class PolicyRepairRequest(BaseModel):
    """`POST /policies/{name}/repair`: every open ticket under the policy, repaired once."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=TEXT_LIMIT, description="why: on each ticket's timeline"
    )
    dry_run: bool = Field(
        default=False, description="say what each ticket's repair would do, and change nothing"
    )
    actor: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="who repairs them: with keys, the admin key's own name, or whom it names",
    )


class RepairStarted(BaseModel):
    repair_id: str
    policy: str
    dry_run: bool


class ClockDueOut(BaseModel):
    metric: str
    due_before: Time | None
    due_at: Time | None
    state: str


class TicketRepairOut(BaseModel):
    ticket_id: str
    # pending, repaired, would_repair (a dry run), skipped (under another policy by now),
    # refused (closed, or the policy is gone), failed (Temporal did not answer in time)
    outcome: str
    detail: str | None
    previous_policy: str | None
    policy: str | None
    clocks: list[ClockDueOut]
    kept_breaches: list[KeptBreachOut]


class RepairProgressOut(BaseModel):
    repair_id: str
    policy: str
    dry_run: bool
    reason: str
    actor: str | None
    status: Literal["listing", "repairing", "done", "failed"]
    started_at: Time
    finished_at: Time | None
    detail: str | None
    # How many tickets have each outcome so far.
    counts: dict[str, int]
    tickets: list[TicketRepairOut]

    @classmethod
    def of(cls, progress: RepairProgress) -> RepairProgressOut:
        counts: dict[str, int] = {}
        for ticket in progress.tickets:
            counts[ticket.outcome] = counts.get(ticket.outcome, 0) + 1
        return cls(
            **progress.model_dump(include={"repair_id", "policy", "dry_run", "reason", "actor",
                                           "status", "started_at", "finished_at", "detail"}),
            counts=counts,
            tickets=[
                TicketRepairOut(
                    ticket_id=t.ticket_id,
                    outcome=t.outcome,
                    detail=t.detail,
                    previous_policy=t.previous,
                    policy=t.policy,
                    clocks=[ClockDueOut(**c.model_dump(mode="json")) for c in t.clocks],
                    kept_breaches=[KeptBreachOut(**b.model_dump()) for b in t.kept_breaches],
                )
                for t in progress.tickets
            ],
        )  # fmt: skip
