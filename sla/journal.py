"""A ticket's journal: how it was opened and what was done to it, with the times, kept in the
store so the rules can replay it (sla/what_if.py) long after Temporal's retention.

The journal keeps only what moves a clock: the opening (with the policy the ticket ran under),
each applied action but comments and ratings (a repair with the policy it swapped in), and
each extension of the calendar snapshot.
What people wrote (messages, notes, reasons) stays in the history and the archive: the store
needs none of it, and a replay never reads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, JsonValue

from sla.actions import ACTIONS, Action, kind_of
from sla.calendar import Calendar
from sla.policy import PolicySnapshot
from sla.priorities import Priority

# Actions that move no clock: a replay would change nothing with them.
UNJOURNALED = frozenset({"comment", "rate"})
# An entry that is no action: the ticket's calendar snapshot, resolved for a later horizon.
CALENDAR = "calendar"
# Free text a rule never reads; a required one comes back as this.
_TEXT = frozenset({"message", "resolution", "reason", "comment", "body"})
_NOT_KEPT = "(not kept)"
_MODELS: dict[str, type[Action]] = {kind.name: kind.model for kind in ACTIONS}
if CALENDAR in _MODELS:
    raise ImportError(f"an action may not be named {CALENDAR!r}: the journal uses the name")


class TicketOpening(BaseModel):
    """What a replay opens the ticket from: who, which priority, when, under which promise
    (the snapshot frozen into its workflow input, without its routing)."""

    ticket_id: str
    customer_id: str
    priority: Priority
    opened_at: datetime
    policy: PolicySnapshot


class JournalEntry(BaseModel):
    """One thing done to a ticket at its workflow time: an action by its Temporal name and
    payload, or `calendar` with the extended snapshot. `seq` counts a ticket's entries from
    0, so each lands in the store once by (ticket, seq)."""

    seq: int
    at: datetime
    kind: str
    payload: dict[str, JsonValue]

    def action(self) -> Action:
        model = _MODELS[self.kind]
        missing = {
            name: _NOT_KEPT
            for name, field in model.model_fields.items()
            if name in _TEXT and field.is_required() and name not in self.payload
        }
        return model.model_validate({**missing, **self.payload})

    def calendar(self) -> Calendar | None:
        return Calendar.model_validate(self.payload) if self.kind == CALENDAR else None


def journaled(action: Action) -> bool:
    return kind_of(action).name not in UNJOURNALED


def action_entry(seq: int, at: datetime, action: Action) -> JournalEntry:
    # The request id is left out too: an entry is an action that applied, once.
    payload: dict[str, Any] = action.model_dump(
        mode="json", exclude={"request_id", *_TEXT}, exclude_none=True
    )
    if isinstance(payload.get("snapshot"), dict):  # a repair's policy: as the opening's, no
        payload["snapshot"].pop("routing", None)  # routing in the store
    return JournalEntry(seq=seq, at=at, kind=kind_of(action).name, payload=payload)


def calendar_entry(seq: int, at: datetime, calendar: Calendar) -> JournalEntry:
    return JournalEntry(seq=seq, at=at, kind=CALENDAR, payload=calendar.model_dump(mode="json"))


def opening(
    ticket_id: str, customer_id: str, priority: Priority, at: datetime, policy: PolicySnapshot
) -> TicketOpening:
    return TicketOpening(
        ticket_id=ticket_id,
        customer_id=customer_id,
        priority=priority,
        opened_at=at,
        policy=policy.model_copy(update={"routing": None}),
    )
