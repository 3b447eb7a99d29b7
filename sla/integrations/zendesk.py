"""Zendesk in: what the body of slaflow's trigger template (docs/integrations.md) means for
slaflow's tickets.

A Zendesk trigger can say what a ticket is now, not what changed, so each delivery is compared
with the ticket as slaflow has it: a status in `resolved_statuses` resolves a ticket that is
not resolved, any other reopens one that is; a status in `waiting_statuses` pauses a running
ticket, any other resumes a paused one; a priority that differs is a priority change; a public
comment by someone other than the requester is a response (once per comment id). All at the
ticket's `updated_at`; an `event: created` delivery opens the ticket at its `created_at`.
"""

from __future__ import annotations

from typing import Any

from sla.actions import Action, ChangeTicket, Pause, Reopen, Resolve, Respond, Resume, kind_of
from sla.integrations.config import ZendeskMapping
from sla.integrations.reading import (
    TITLE_LIMIT,
    Opening,
    Reading,
    Step,
    at_path,
    event_time,
    name_of,
    obj,
    safe_id,
    text,
)
from sla.priorities import Priority
from sla.state import TicketState, TicketStatus

SENT_BY = "zendesk"
CREATED = "created"
UPDATED = "updated"


def ticket_id_of(body: dict[str, Any], mapping: ZendeskMapping) -> str | None:
    """slaflow's ticket id for the body's Zendesk ticket (`ticket_prefix` + its id)."""
    zendesk_id = safe_id(name_of(obj(body.get("ticket")).get("id")))
    return None if zendesk_id is None else safe_id(mapping.ticket_prefix + zendesk_id)


def read_zendesk(
    body: dict[str, Any], mapping: ZendeskMapping, delivery: str, known: TicketState | None
) -> Reading:
    """What a Zendesk delivery asks for, given the ticket as slaflow knows it (None: slaflow
    has no such ticket); `delivery` is its idempotency key."""
    event = name_of(body.get("event")) or "(no event)"
    reading = Reading(event=event)
    ticket = obj(body.get("ticket"))
    ticket_id = ticket_id_of(body, mapping)
    if ticket_id is None:
        return reading.ignore("the body names no ticket (ticket.id)")
    reading.ticket_id = ticket_id
    if event not in (CREATED, UPDATED):
        return reading.ignore(f"event {event!r} is neither {CREATED!r} nor {UPDATED!r}")
    requester = safe_id(name_of(ticket.get("requester_id")))
    reading.reporter = requester
    view = _View.of(known) if known is not None else None
    if view is None:
        if event != CREATED:
            return reading.ignore(
                f"no ticket {ticket_id}: its creation was not received (or was ignored)"
            )
        opening = _opening(reading, ticket, mapping)
        if opening is None:
            return reading
        reading.steps.append(Step(ticket_id, opening))
        view = _View(TicketStatus.OPEN, opening.priority, set())
    if view.status is TicketStatus.CLOSED:
        return reading.ignore(f"ticket {ticket_id} is closed")
    at = event_time(ticket.get("updated_at")) or event_time(ticket.get("created_at"))
    reading.at = reading.at or at
    if at is None:
        return reading.ignore("the ticket has no time (ticket.updated_at)")
    who = safe_id(name_of(obj(body.get("current_user")).get("id"))) or SENT_BY
    actions = _comment(body, mapping, requester, view) + _status(ticket, mapping, who, view)
    priority = mapping.priority(name_of(ticket.get("priority")))
    if priority is None:
        if name_of(ticket.get("priority")) is not None:
            reading.ignore(
                f"priority {name_of(ticket.get('priority'))!r} is not in "
                "integrations.zendesk.priorities"
            )
    elif priority is not view.priority:
        actions.append(ChangeTicket(priority=priority, actor=who))
    for action in actions:
        request = action.request_id or f"{SENT_BY}:{delivery}:{kind_of(action).name}"
        dated = action.model_copy(update={"request_id": request, "sent_by": SENT_BY, "at": at})
        reading.steps.append(Step(ticket_id, dated))
    if not reading.steps and not reading.notes:
        reading.ignore("nothing changed that slaflow follows (status, priority, a response)")
    return reading


class _View:
    """What the comparison needs of the ticket: its status, priority and request ids."""

    def __init__(self, status: TicketStatus, priority: Priority, seen: set[str]) -> None:
        self.status = status
        self.priority = priority
        self.seen = seen

    @classmethod
    def of(cls, state: TicketState) -> _View:
        return cls(state.status, state.priority, set(state.request_ids))

    @property
    def resolved(self) -> bool:
        return self.status is TicketStatus.RESOLVED

    @property
    def paused(self) -> bool:
        return self.status is TicketStatus.WAITING_ON_CUSTOMER


def _opening(reading: Reading, ticket: dict[str, Any], mapping: ZendeskMapping) -> Opening | None:
    assert reading.ticket_id is not None
    at = event_time(ticket.get("created_at"))
    reading.at = at
    if at is None:
        reading.ignore("the ticket has no creation time (ticket.created_at)")
        return None
    name = name_of(ticket.get("priority"))
    priority = mapping.priority(name)
    if priority is None:
        shown = "no priority" if name is None else f"priority {name!r}"
        reading.ignore(f"{shown} is not in integrations.zendesk.priorities")
        return None
    return Opening(
        ticket_id=reading.ticket_id,
        title=text(ticket.get("title"), TITLE_LIMIT) or reading.ticket_id,
        priority=priority,
        customer_id=mapping.customer.of(ticket),
        description=None,
        at=at,
        reporter=reading.reporter,
    )


def _comment(
    body: dict[str, Any], mapping: ZendeskMapping, requester: str | None, view: _View
) -> list[Action]:
    """A response, for the latest public comment if an agent wrote it and slaflow has not
    taken it yet (every later delivery carries the same latest comment)."""
    comment = obj(body.get("latest_public_comment"))
    comment_id = safe_id(name_of(comment.get("id")))
    author = safe_id(name_of(comment.get("author_id")))
    if comment_id is None or author is None or author == requester:
        return []
    request = f"{SENT_BY}:comment:{comment_id}"
    if request in view.seen or view.resolved:
        return []
    agents = mapping.agents
    if agents.group_field is not None and (
        name_of(at_path(comment, agents.group_field)) not in agents.groups
    ):
        return []
    return [Respond(agent_id=author, message=f"Zendesk comment {comment_id}", request_id=request)]


def _status(ticket: dict[str, Any], m: ZendeskMapping, who: str, view: _View) -> list[Action]:
    status = name_of(ticket.get("status"))
    if status is None:
        return []
    how = f"Zendesk status {status}"
    if m.resolved(status):
        return [] if view.resolved else [Resolve(agent_id=who)]
    actions: list[Action] = []
    paused = view.paused
    if view.resolved:
        actions.append(Reopen(reason=how, actor=who))
        paused = False
    if m.waiting(status) and not paused:
        actions.append(Pause(reason=how, actor=who))
    elif not m.waiting(status) and paused:
        actions.append(Resume(actor=who))
    return actions
