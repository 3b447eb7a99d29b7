"""The ticket's state model: what the workflow's `state` query answers, and its input."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, JsonValue

from sla.actions import ID_PATTERN, TEXT_LIMIT, PastAction
from sla.clock import ClockState, Metric, SlaClock
from sla.journal import JournalEntry
from sla.policy import PolicySnapshot
from sla.priorities import Priority
from sla.quality import RatingRecord
from sla.records import TicketChanges


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


class KeptBreach(BaseModel):
    """A breach a repair left standing: a promise broken stays broken."""

    metric: Metric
    cycle: int
    breached_at: datetime


class ClockRepair(BaseModel):
    """One clock as a repair found it and left it."""

    metric: Metric
    cycle: int
    target_before: timedelta
    target: timedelta
    due_before: datetime | None
    due_at: datetime | None
    state: ClockState
    breached_at: datetime | None = None


class RepairRecord(BaseModel):
    """A repair of the ticket's policy (sla/ticket.py `_repair`): what it was under, what it is
    under now, each current clock's due time before and after, and the breaches kept."""

    at: datetime
    actor: str | None = None
    reason: str
    # The repair's request id, so the answer to a retried request finds its own repair.
    request_id: str | None = None
    previous: str
    policy: str
    clocks: list[ClockRepair]
    kept_breaches: list[KeptBreach] = []


# A ticket's comments are bounded, so its state (carried whole across continue-as-new, and the
# workflow's result) stays far below Temporal's 2 MB payload limit.
COMMENT_LIMIT = 1_000
COMMENT_TEXT_LIMIT = 1024 * 1024  # bytes of comment text in all, as encoded in the state
COMMENTS_SHOWN = 50


class CommentRecord(BaseModel):
    at: datetime
    author: str
    body: str
    internal: bool = False


class CommentsWanted(BaseModel):
    """A page of a ticket's comments, oldest first: `size` of them from position `start`."""

    start: int = Field(default=0, ge=0)
    size: int = Field(default=100, ge=1, le=COMMENT_LIMIT)
    # The customer's view: internal comments left out (positions count the others only).
    public_only: bool = False


class CommentsPage(BaseModel):
    comments: list[CommentRecord]
    total: int

    @classmethod
    def of(cls, state: TicketState, wanted: CommentsWanted) -> CommentsPage:
        comments = state.comments
        if wanted.public_only:
            comments = [c for c in comments if not c.internal]
        window = comments[wanted.start : wanted.start + wanted.size]
        return cls(comments=window, total=len(comments))


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
    # When slaflow heard of it, given only when that is not `opened_at`: a ticket opened with
    # the time it really opened in the source desk (`at`) shows both on its timeline.
    received_at: datetime | None = None
    # What already happened to it in the source desk since it opened, applied in order as it
    # opens (a backfill): never with `carried`.
    past: list[PastAction] = []
    # The state carried over by continue-as-new.
    carried: TicketState | None = None
    # Records the store has not taken yet, carried over by continue-as-new (docs/design.md).
    pending: TicketChanges | None = None
    # The journal (sla/journal.py), carried over by continue-as-new: the entries handed to
    # the store so far (the next one's number is this plus the waiting ones), and the entries
    # waiting to ride with the ticket's next record.
    journaled: int = Field(default=0, ge=0)
    journal: list[JournalEntry] = []
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
    # Every comment ever made and their text's encoded size: `comments` may show only the last.
    comment_count: int = 0
    internal_comment_count: int = 0
    comment_bytes: int = 0
    timeline: list[TimelineEntry] = []
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    request_ids: list[str] = []
    # Quality (sla/quality.py): agent responses (first-contact resolution), the last
    # resolution's note, the customer's ratings by cycle, the cycle last followed up.
    responses: int = 0
    resolution_note: str | None = None
    ratings: list[RatingRecord] = []
    followed_up_cycle: int = 0
    # Until when the current resolution may be rated (None: no ratings under this policy).
    rating_closes_at: datetime | None = None
    # Each repair of the policy, oldest first (a handful at most in a ticket's life).
    repairs: list[RepairRecord] = []

    def shown(self) -> TicketState:
        """The state as queries and Updates answer it: the last COMMENTS_SHOWN comments, so an
        answer stays small however many comments the ticket holds (GET .../comments pages
        through all of them)."""
        if len(self.comments) <= COMMENTS_SHOWN:
            return self
        return self.model_copy(update={"comments": self.comments[-COMMENTS_SHOWN:]})


OpenTicket.model_rebuild()
