"""A ticket's outcome as the store keeps it for reports and statements, derived from its state."""

from __future__ import annotations

from sla.clock import ClockState, SlaClock
from sla.quality import Rated
from sla.records import TicketChanges, TicketOutcome, opening_request
from sla.ticket import TicketState

__all__ = ["TicketChanges", "TicketOutcome", "opening_request", "outcome_of"]


def _seconds(clock: SlaClock) -> int | None:
    return int(clock.elapsed.total_seconds()) if clock.completed else None


def _actor(state: TicketState, kind: str, first: bool) -> str | None:
    actors = [e.actor for e in state.timeline if e.kind == kind]
    if not actors:
        return None
    return actors[0] if first else actors[-1]


def outcome_of(state: TicketState) -> TicketOutcome:
    clocks = [state.response, *state.earlier_resolutions, state.resolution]
    resolution_breaches = [c for c in clocks[1:] if c.breached_at is not None]
    return TicketOutcome(
        ticket_id=state.ticket_id,
        customer_id=state.customer_id,
        priority=state.priority,
        policy=state.policy,
        status=state.status.value,
        opened_at=state.created_at,
        first_response_at=state.response.completed_at,
        responded_by=_actor(state, "responded", first=True),
        resolved_at=state.resolved_at,
        resolved_by=_actor(state, "resolved", first=False),
        closed_at=state.closed_at,
        response_state=state.response.state.value,
        resolution_state=state.resolution.state.value,
        response_seconds=_seconds(state.response),
        resolution_seconds=_seconds(state.resolution),
        response_breached_at=state.response.breached_at,
        resolution_breached_at=resolution_breaches[-1].breached_at if resolution_breaches else None,
        breaches=sum(1 for c in clocks if c.state is ClockState.BREACHED),
        escalation_level=state.escalation_level,
        cycles=state.resolution.cycle,
        responses=state.responses,
        ratings=[Rated(cycle=r.cycle, score=r.score, at=r.at) for r in state.ratings],
    )
