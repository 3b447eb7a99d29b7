"""Event times (docs/api.md, "Event times"): a ticket opened and worked at the times they
happened in the source desk, not when slaflow heard of them."""

from __future__ import annotations

import pytest

from sla.actions import ActionInvalid, Comment, Respond
from sla.clock import ClockState
from sla.effects import EffectKind
from sla.priorities import Priority
from sla.ticket import OpenTicket, Ticket
from tests.support.rules import FULL, T0, at, open_ticket
from tests.support.rules import policy as shipped_policy


def opened_back(minutes_back: float, now_minute: float = 0) -> tuple[Ticket, list[object]]:
    """A P1 ticket (15 min to respond) opened `minutes_back` before `now_minute`, told of at
    `now_minute`, with what came due by then."""
    new = OpenTicket(
        ticket_id="T-back",
        customer_id="acme",
        title="Printer on fire",
        priority=Priority.P1,
        policy=FULL,
        opened_at=at(now_minute - minutes_back),
        received_at=at(now_minute),
    )
    ticket = Ticket.open(new, at(now_minute))
    return ticket, list(ticket.on_time(at(now_minute)))


def test_a_ticket_opened_in_the_past_breaches_at_once_dated_when_it_was_due() -> None:
    ticket, effects = opened_back(20)
    assert ticket.state.created_at == at(-20)
    assert ticket.state.response.state is ClockState.BREACHED
    assert ticket.state.response.breached_at == at(-5)  # opened at -20, 15 min target
    kinds = {(e.kind, e.at) for e in effects}  # type: ignore[attr-defined]
    assert (EffectKind.PENALTY, at(-5)) in kinds
    assert (EffectKind.ESCALATION, at(-5)) in kinds  # the chain's first level is due at once
    opened = ticket.state.timeline[0]
    assert opened.at == at(-20) and opened.detail["received_at"] == at(0).isoformat()


def test_an_answer_dated_before_its_deadline_meets_it_though_heard_of_after() -> None:
    ticket = open_ticket("P1", FULL, now=T0)
    # Heard of at +16, past the due time (+15), but given at +10: the clock stopped then.
    ticket.apply(Respond(agent_id="alice", at=at(10)), at(10), received_at=at(16))
    assert ticket.state.response.state is ClockState.MET
    assert ticket.state.response.completed_at == at(10)
    responded = ticket.state.timeline[-1]
    assert responded.at == at(10) and responded.detail["received_at"] == at(16).isoformat()


def test_an_action_dated_before_the_last_recorded_event_is_refused_saying_why() -> None:
    ticket = open_ticket("P1", FULL, now=T0)
    ticket.on_time(at(16))  # the response breached at +15: recorded
    dated = Respond(agent_id="alice", at=at(10))
    with pytest.raises(ActionInvalid, match="before the ticket's last recorded event"):
        ticket.check(dated, at(10))
    with pytest.raises(ActionInvalid, match=r"2026-03-02T09:15:00\+00:00"):
        ticket.apply(dated, at(10))
    assert ticket.state.response.completed_at is None  # nothing changed


def test_an_action_dated_after_the_last_event_applies_and_later_ones_must_follow_it() -> None:
    ticket = open_ticket("P2", shipped_policy(), now=T0)
    ticket.apply(Comment(author="bob", body="looking", at=at(5)), at(5), received_at=at(30))
    with pytest.raises(ActionInvalid):
        ticket.apply(Respond(agent_id="alice", at=at(4)), at(4), received_at=at(31))
    ticket.apply(Respond(agent_id="alice", at=at(6)), at(6), received_at=at(31))
    assert ticket.state.response.completed_at == at(6)


def test_undated_actions_keep_their_rules_whatever_the_timeline_holds() -> None:
    ticket = open_ticket("P1", FULL, now=T0)
    ticket.on_time(at(16))
    # No `at`: applied now, as always; the last-event rule is for dated ones only.
    ticket.apply(Respond(agent_id="alice"), at(16))
    assert "received_at" not in ticket.state.timeline[-1].detail


def test_an_answer_dated_before_a_warning_that_went_out_still_counts() -> None:
    ticket = open_ticket("P1", FULL, now=T0)
    ticket.on_time(at(12))  # FULL warns at half and three quarters of the 15 minutes
    assert [e.kind for e in ticket.state.timeline][-2:] == ["warned", "warned"]
    ticket.apply(Respond(agent_id="alice", at=at(5)), at(5), received_at=at(12))
    assert ticket.state.response.completed_at == at(5)
    assert ticket.state.response.state is ClockState.MET
