"""What the store keeps of a ticket: its outcome for reports and statements, and the changes
(effects by key, outcome, journal) a ticket hands the store; models only, so a ticket's input
can carry the changes still waiting for the store across continue-as-new."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel

from sla.effects import Effect
from sla.journal import JournalEntry, TicketOpening
from sla.priorities import Priority
from sla.quality import QualityFacts, Rated


class TicketIdTaken(Exception):
    """The store already keeps a ticket of this id opened by another request: the id was
    used before (its workflow gone with retention), and its rows are not this ticket's."""


class TicketOutcome(BaseModel):
    ticket_id: str
    customer_id: str
    priority: Priority
    policy: str
    status: str
    opened_at: datetime
    first_response_at: datetime | None
    responded_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    response_state: str
    resolution_state: str
    response_seconds: int | None
    resolution_seconds: int | None
    response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    breaches: int
    escalation_level: int
    cycles: int
    # Quality: agent responses, and the ratings by cycle (sla/quality.py).
    responses: int = 0
    ratings: list[Rated] = []

    def quality_facts(self) -> QualityFacts:
        return QualityFacts(
            resolved_at=self.resolved_at,
            cycles=self.cycles,
            responses=self.responses,
            ratings=self.ratings,
        )


def opening_request(customer_id: str, title: str, priority: Priority) -> str:
    """The fingerprint of the request that opened a ticket: a ticket id is taken forever, and
    only this very request may open it again (answered with the existing ticket)."""
    text = json.dumps([customer_id, title, priority.value], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class TicketChanges(BaseModel):
    """What the store has to record of a ticket: its effects (escalations, warnings, penalties,
    rewards, each once by key), its journal (sla/journal.py: the opening once, then each entry
    once by its number) and its latest outcome, written in one transaction."""

    effects: list[Effect] = []
    outcome: TicketOutcome
    # opening_request() of the ticket: the store refuses to let another request's ticket
    # write over the rows of an id that was used before.
    request: str | None = None
    # The ticket's time when the outcome was made: an older one never overwrites a newer one.
    as_of: datetime | None = None
    opening: TicketOpening | None = None
    journal: list[JournalEntry] = []
    # The journal entries the ticket had made when the outcome was taken: replaying exactly
    # those up to `as_of` must give the outcome again (sla/what_if.py).
    journaled: int | None = None


def pending_after(pending: TicketChanges | None, changes: TicketChanges) -> TicketChanges:
    """What waits for the store once `changes` join what already waits: every effect and
    journal entry (each lands once by key, in order), the opening, and only the latest
    outcome."""
    if pending is None:
        return changes
    return changes.model_copy(
        update={
            "effects": [*pending.effects, *changes.effects],
            "opening": pending.opening or changes.opening,
            "journal": [*pending.journal, *changes.journal],
        }
    )


def recorded_from(pending: TicketChanges, recorded: TicketChanges) -> TicketChanges | None:
    """What still waits once `recorded` (an earlier copy of `pending`) is in the store."""
    done = {effect.key for effect in recorded.effects}
    left = [effect for effect in pending.effects if effect.key not in done]
    entered = {entry.seq for entry in recorded.journal}
    journal = [entry for entry in pending.journal if entry.seq not in entered]
    opening = None if recorded.opening is not None else pending.opening
    if not left and not journal and opening is None and pending.outcome == recorded.outcome:
        return None
    return pending.model_copy(update={"effects": left, "journal": journal, "opening": opening})
