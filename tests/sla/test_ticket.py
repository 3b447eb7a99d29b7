"""Ticket rules for actions: status transitions, refusals with reasons, idempotency, triage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from sla.actions import (
    TEXT_LIMIT,
    Action,
    ActionRejected,
    ChangeTicket,
    Close,
    Comment,
    Pause,
    Reopen,
    Resolve,
    Respond,
    Resume,
)
from sla.clock import ClockState, Metric
from sla.effects import EffectKind
from sla.outcome import outcome_of
from sla.state import COMMENT_LIMIT, COMMENT_TEXT_LIMIT, COMMENTS_SHOWN
from sla.ticket import OpenTicket, Ticket, TicketStatus, encoded_size, shown_actor
from tests.support.rules import FULL, PAUSE, RESOLVE, RESPOND, SHIPPED, T0, at, open_ticket


def test_open_starts_both_clocks_with_the_priority_targets() -> None:
    ticket = open_ticket("P2", SHIPPED)
    state = ticket.state
    assert state.status is TicketStatus.OPEN
    assert state.created_at == T0
    assert state.policy == "standard"
    assert state.calendar == "always"
    assert state.response.due_at == T0 + timedelta(hours=1)
    assert state.resolution.due_at == T0 + timedelta(hours=8)
    assert state.response.state is ClockState.RUNNING
    assert state.resolution.state is ClockState.RUNNING
    assert [entry.kind for entry in state.timeline] == ["opened"]


def test_open_uses_the_customers_opening_time_when_given() -> None:
    new = OpenTicket(
        ticket_id="T-9", customer_id="acme", title="x", priority="P1", policy=SHIPPED, opened_at=T0
    )
    ticket = Ticket.open(new, at(3))
    assert ticket.state.created_at == T0
    assert ticket.state.response.due_at == at(15)


def test_open_with_carried_state_resumes_that_state() -> None:
    first = open_ticket()
    first.apply(RESPOND, at(1))
    new = OpenTicket(
        ticket_id="T-1",
        customer_id="acme",
        title="x",
        priority="P1",
        policy=FULL,
        carried=first.state,
    )
    assert Ticket.open(new, at(500)).state == first.state


def test_respond_then_resolve_then_close_walks_the_statuses() -> None:
    ticket = open_ticket()
    ticket.apply(RESPOND, at(5))
    assert ticket.state.status is TicketStatus.RESPONDED
    assert ticket.state.response.state is ClockState.MET
    assert ticket.state.response.completed_at == at(5)
    assert ticket.state.assignee == "alice"
    # 60m is half the 2h resolution target: that warning is due, and applied first.
    effects = ticket.apply(RESOLVE, at(60))
    assert [(e.kind, e.metric, e.fraction, e.at) for e in effects] == [
        (EffectKind.WARNING, Metric.RESOLUTION, 0.5, at(60)),
        (EffectKind.RESOLVED, Metric.RESOLUTION, None, at(60)),  # announced to subscribers
    ]
    assert ticket.state.status is TicketStatus.RESOLVED
    assert ticket.state.resolution.state is ClockState.MET
    assert ticket.state.resolved_at == at(60)
    assert ticket.apply(Close(actor="alice"), at(70)) == []
    assert ticket.state.status is TicketStatus.CLOSED
    assert ticket.state.closed_at == at(70)
    assert ticket.closed
    kinds = [entry.kind for entry in ticket.state.timeline]
    assert kinds == ["opened", "responded", "warned", "resolved", "closed"]


def test_resolve_without_response_counts_as_the_first_response() -> None:
    ticket = open_ticket()
    ticket.apply(RESOLVE, at(10))
    assert ticket.state.response.state is ClockState.MET
    assert ticket.state.response.completed_at == at(10)


def test_second_response_keeps_the_first_response_time() -> None:
    ticket = open_ticket()
    ticket.apply(RESPOND, at(5))
    ticket.apply(Respond(agent_id="bob"), at(9))
    assert ticket.state.response.completed_at == at(5)
    assert ticket.state.assignee == "alice"
    assert ticket.state.timeline[-1].detail["first_response"] is False


@pytest.mark.parametrize("responded", [False, True])
def test_pause_and_resume_return_to_the_previous_status(responded: bool) -> None:
    ticket = open_ticket()
    if responded:
        ticket.apply(RESPOND, at(1))
    before = ticket.state.status
    ticket.apply(PAUSE, at(5))
    assert ticket.state.status is TicketStatus.WAITING_ON_CUSTOMER
    assert ticket.state.resolution.state is ClockState.PAUSED
    assert ticket.state.resolution.due_at is None
    ticket.apply(Resume(), at(65))
    assert ticket.state.status is before
    assert ticket.state.resolution.state is ClockState.RUNNING


def test_pause_moves_due_time_by_paused_business_time() -> None:
    ticket = open_ticket()
    ticket.apply(PAUSE, at(5))
    ticket.apply(Resume(), at(65))
    assert ticket.state.response.due_at == at(15 + 60)
    assert ticket.state.resolution.due_at == at(120 + 60)


def test_resolve_while_waiting_on_customer_is_allowed_and_met() -> None:
    ticket = open_ticket()
    ticket.apply(PAUSE, at(5))
    ticket.apply(RESOLVE, at(500))
    assert ticket.state.status is TicketStatus.RESOLVED
    assert ticket.state.resolved_at == at(500)
    assert ticket.state.response.state is ClockState.MET
    assert ticket.state.resolution.state is ClockState.MET


def test_response_given_while_waiting_resumes_to_responded() -> None:
    ticket = open_ticket()
    ticket.apply(PAUSE, at(1))
    ticket.apply(RESPOND, at(2))
    assert ticket.state.status is TicketStatus.WAITING_ON_CUSTOMER
    assert ticket.state.response.state is ClockState.MET
    ticket.apply(Resume(), at(3))
    assert ticket.state.response.completed
    assert ticket.state.status is TicketStatus.RESPONDED
    assert ticket.state.resolution.state is ClockState.RUNNING


def test_response_given_while_waiting_and_paused_again_resumes_to_responded() -> None:
    ticket = open_ticket()
    ticket.apply(PAUSE, at(1))
    ticket.apply(RESPOND, at(2))
    ticket.apply(Resume(), at(3))
    ticket.apply(PAUSE, at(4))
    ticket.apply(Resume(), at(5))
    assert ticket.state.status is TicketStatus.RESPONDED


def test_reopen_starts_resolution_cycle_two_with_a_full_target() -> None:
    ticket = open_ticket()
    ticket.on_time(at(130))  # both clocks breached
    ticket.apply(RESOLVE, at(140))
    old = ticket.state.resolution
    ticket.apply(Reopen(reason="still on fire"), at(200))
    state = ticket.state
    assert state.status is TicketStatus.RESPONDED
    assert state.resolved_at is None
    assert state.resolution.cycle == 2
    assert state.resolution.state is ClockState.RUNNING
    assert state.resolution.started_at == at(200)
    assert state.resolution.due_at == at(200 + 120)
    assert state.resolution.elapsed_at(at(200), FULL.calendar) == timedelta(0)
    assert state.earlier_resolutions == [old]
    assert old.state is ClockState.BREACHED and old.cycle == 1
    assert state.ever_breached is True
    assert state.response.cycle == 1 and state.response.completed


def test_reopen_twice_keeps_every_earlier_cycle() -> None:
    ticket = open_ticket()
    for n in range(3):
        ticket.apply(RESOLVE, at(10 + 100 * n))
        ticket.apply(Reopen(), at(20 + 100 * n))
    assert [c.cycle for c in ticket.state.earlier_resolutions] == [1, 2, 3]
    assert ticket.state.resolution.cycle == 4


# -- refusals ------------------------------------------------------------------------------


def opened() -> Ticket:
    return open_ticket()


def responded() -> Ticket:
    ticket = open_ticket()
    ticket.apply(RESPOND, at(1))
    return ticket


def waiting() -> Ticket:
    ticket = open_ticket()
    ticket.apply(PAUSE, at(1))
    return ticket


def resolved() -> Ticket:
    ticket = open_ticket()
    ticket.apply(RESOLVE, at(1))
    return ticket


def closed() -> Ticket:
    ticket = resolved()
    ticket.apply(Close(), at(2))
    return ticket


@pytest.mark.parametrize(
    ("make", "action", "reason"),
    [
        (opened, Close(), "cannot close (resolve it first): the ticket is open"),
        (responded, Close(), "cannot close (resolve it first): the ticket is responded"),
        (waiting, Close(), "the ticket is waiting on customer"),
        (waiting, PAUSE, "cannot pause: the ticket is already waiting on the customer"),
        (resolved, PAUSE, "cannot pause: the ticket is resolved"),
        (opened, Resume(), "cannot resume: the ticket is open, not waiting on the customer"),
        (resolved, Resume(), "not waiting on the customer"),
        (opened, Reopen(), "cannot reopen: the ticket is open, not resolved"),
        (waiting, Reopen(), "not resolved"),
        (closed, Reopen(), "cannot reopen: the ticket is closed; open a new ticket instead"),
        (resolved, RESPOND, "cannot respond: the ticket is resolved"),
        (resolved, RESOLVE, "cannot resolve: the ticket is resolved"),
        (opened, ChangeTicket(), "nothing to change"),
        (closed, RESPOND, "cannot respond: the ticket is closed"),
        (closed, RESOLVE, "cannot resolve: the ticket is closed"),
        (closed, Close(), "cannot close: the ticket is already closed"),
        (closed, PAUSE, "cannot pause: the ticket is closed"),
        (closed, Resume(), "cannot resume: the ticket is closed"),
        (closed, ChangeTicket(priority="P3"), "cannot change: the ticket is closed"),
        (closed, Comment(author="bob", body="hello?"), "cannot comment: the ticket is closed"),
    ],
)
def test_refused_action_says_why_and_changes_nothing(
    make: Callable[[], Ticket], action: Action, reason: str
) -> None:
    ticket = make()
    # apply() first applies what is due by `now`, refused or not: settle that here, so the
    # comparison isolates what the refused action itself does.
    ticket.on_time(at(30))
    ticket.take_effects()
    before = ticket.state.model_copy(deep=True)
    with pytest.raises(ActionRejected, match=r"^(cannot|nothing)") as checked:
        ticket.check(action)
    assert reason in str(checked.value)
    with pytest.raises(ActionRejected) as applied:
        ticket.apply(action, at(30))
    assert str(applied.value) == str(checked.value)
    assert ticket.state == before
    assert ticket.outbox == []


def test_refused_action_after_a_due_time_keeps_the_due_effects_in_the_outbox() -> None:
    ticket = open_ticket("P1")  # response due at 15m; escalation level 1 at breach + 0s
    with pytest.raises(ActionRejected, match="cannot close"):
        ticket.apply(Close(request_id="req-c"), at(20))
    assert [(e.kind, e.metric, e.level, e.at) for e in ticket.outbox] == [
        (EffectKind.PENALTY, Metric.RESPONSE, 0, at(15)),
        (EffectKind.ESCALATION, Metric.RESPONSE, 1, at(15)),
    ]
    # What came due stays applied ...
    assert ticket.state.response.state is ClockState.BREACHED
    assert ticket.state.ever_breached
    assert [entry.kind for entry in ticket.state.timeline] == ["opened", "breached", "escalated"]
    # ... but the refused action left no trace.
    assert ticket.state.status is TicketStatus.OPEN
    assert ticket.state.request_ids == []
    assert ticket.state.updated_at == T0
    drained = ticket.take_effects()
    assert [e.key for e in drained] == ["T-1:penalty:response:c1", "T-1:escalation:response:c1:l1"]
    assert ticket.outbox == []
    # Applied once: neither time nor a retry charges it again.
    assert ticket.on_time(at(20)) == []
    with pytest.raises(ActionRejected):
        ticket.apply(Close(request_id="req-c"), at(20))
    assert ticket.outbox == []


def test_outbox_holds_what_on_time_and_apply_returned_until_taken() -> None:
    ticket = open_ticket("P1")
    assert ticket.outbox == []
    warned = ticket.on_time(at(8))
    breached = ticket.apply(RESPOND, at(20))
    assert [e.kind for e in warned] == [EffectKind.WARNING]
    assert [e.kind for e in breached] == [
        EffectKind.PENALTY, EffectKind.ESCALATION, EffectKind.RESPONDED
    ]  # fmt: skip
    assert ticket.outbox == warned + breached
    assert ticket.take_effects() == warned + breached
    assert ticket.outbox == []
    assert ticket.take_effects() == []


def test_comment_is_allowed_on_a_resolved_ticket() -> None:
    ticket = resolved()
    ticket.apply(Comment(author="bob", body="thanks"), at(5))
    assert [c.body for c in ticket.state.comments] == ["thanks"]


def test_a_ticket_takes_at_most_its_comment_limit_and_keeps_working() -> None:
    ticket = open_ticket()
    for n in range(COMMENT_LIMIT):
        ticket.apply(Comment(author="bob", body=f"c{n}"), at(1))
    with pytest.raises(ActionRejected, match="1000 comments, the most it takes"):
        ticket.check(Comment(author="bob", body="one more"))
    ticket.apply(RESPOND, at(2))
    ticket.apply(RESOLVE, at(3))
    ticket.apply(Close(), at(4))
    assert ticket.state.comment_count == COMMENT_LIMIT == len(ticket.state.comments)
    assert ticket.state.status is TicketStatus.CLOSED


def test_comment_text_is_capped_as_encoded_not_as_typed() -> None:
    """Control characters weigh six bytes each in the JSON state: the cap counts that."""
    ticket = open_ticket()
    heavy = "\x01" * TEXT_LIMIT  # 10,000 characters, 60,000 bytes encoded
    for _ in range(COMMENT_TEXT_LIMIT // encoded_size(heavy)):
        ticket.apply(Comment(author="bob", body=heavy), at(1))
    with pytest.raises(ActionRejected, match="pass 1 MiB of text"):
        ticket.check(Comment(author="bob", body=heavy))
    assert ticket.state.comment_bytes <= COMMENT_TEXT_LIMIT
    assert len(ticket.state.model_dump_json()) < 2 * COMMENT_TEXT_LIMIT  # far below 2 MB


def test_the_state_shown_carries_the_last_comments_and_the_count() -> None:
    ticket = open_ticket()
    for n in range(COMMENTS_SHOWN + 7):
        ticket.apply(Comment(author="bob", body=f"c{n}"), at(1))
    shown = ticket.state.shown()
    assert [c.body for c in shown.comments] == [f"c{n}" for n in range(7, COMMENTS_SHOWN + 7)]
    assert shown.comment_count == COMMENTS_SHOWN + 7
    assert len(ticket.state.comments) == COMMENTS_SHOWN + 7  # the ticket keeps them all


# -- idempotency ---------------------------------------------------------------------------


def test_repeated_request_id_is_a_no_op() -> None:
    ticket = open_ticket()
    comment = Comment(author="bob", body="hi", request_id="req-1")
    ticket.apply(comment, at(1))
    after_first = ticket.state.model_copy(deep=True)
    assert ticket.apply(comment, at(2)) == []
    assert ticket.state == after_first
    assert len(ticket.state.comments) == 1


def test_repeated_request_id_of_an_action_no_longer_allowed_is_not_refused() -> None:
    ticket = open_ticket()
    pause = Pause(reason="logs", request_id="req-p")
    ticket.apply(pause, at(1))
    ticket.check(pause)
    assert ticket.apply(pause, at(2)) == []
    assert ticket.state.status is TicketStatus.WAITING_ON_CUSTOMER
    with pytest.raises(ActionRejected, match="already waiting"):
        ticket.check(Pause(reason="logs", request_id="req-other"))


def test_request_id_of_a_refused_action_is_not_remembered() -> None:
    ticket = open_ticket()
    resume = Resume(request_id="req-r")
    with pytest.raises(ActionRejected):
        ticket.apply(resume, at(1))
    ticket.apply(PAUSE, at(2))
    ticket.apply(resume, at(3))
    assert ticket.state.status is TicketStatus.OPEN


# -- triage --------------------------------------------------------------------------------


def test_priority_change_keeps_elapsed_time_and_applies_new_targets() -> None:
    ticket = open_ticket("P1")
    due = ticket.on_time(at(10))
    assert [(e.kind, e.metric, e.fraction, e.at) for e in due] == [
        (EffectKind.WARNING, Metric.RESPONSE, 0.5, at(7.5))
    ]
    assert ticket.apply(ChangeTicket(priority="P3"), at(10)) == []
    assert ticket.state.priority == "P3"
    assert ticket.state.response.due_at == T0 + timedelta(hours=4)
    assert ticket.state.resolution.due_at == T0 + timedelta(hours=24)


def test_priority_change_past_the_new_target_breaches_at_once_with_a_penalty() -> None:
    ticket = open_ticket("P3")
    effects = ticket.apply(ChangeTicket(priority="P1", actor="lead"), at(30))
    response = ticket.state.response
    assert response.state is ClockState.BREACHED
    assert response.breached_at == at(30)
    assert ticket.state.resolution.state is ClockState.RUNNING
    assert ticket.state.resolution.due_at == at(120)
    assert [(e.kind, e.metric, e.at, e.percent) for e in effects] == [
        (EffectKind.PENALTY, Metric.RESPONSE, at(30), Decimal("2"))
    ]
    assert ticket.state.ever_breached
    assert [(c.kind, c.metric, c.amount) for c in ticket.state.credits] == [
        ("penalty", Metric.RESPONSE, Decimal("2"))
    ]


def test_priority_change_while_paused_past_the_new_target_breaches_at_once() -> None:
    ticket = open_ticket("P3")
    ticket.apply(PAUSE, at(20))
    effects = ticket.apply(ChangeTicket(priority="P1"), at(300))
    assert [(e.kind, e.metric, e.at) for e in effects] == [
        (EffectKind.PENALTY, Metric.RESPONSE, at(300))
    ]
    assert ticket.state.response.breached_at == at(300)
    assert ticket.state.status is TicketStatus.WAITING_ON_CUSTOMER


def test_priority_change_to_the_same_priority_changes_nothing() -> None:
    ticket = open_ticket("P2")  # response 1h: breached at 60m, escalated at 60m and 120m
    assert [(e.kind, e.level, e.at) for e in ticket.on_time(at(200))] == [
        (EffectKind.PENALTY, 0, at(60)),
        (EffectKind.ESCALATION, 1, at(60)),
        (EffectKind.ESCALATION, 2, at(120)),
    ]
    before = ticket.state.model_copy(deep=True)
    assert ticket.apply(ChangeTicket(priority="P2"), at(200)) == []
    assert ticket.state.priority == "P2"
    assert ticket.state.response == before.response
    assert ticket.state.resolution == before.resolution
    assert ticket.state.credits == before.credits
    assert ticket.state.timeline == before.timeline


def test_assignee_change_is_recorded() -> None:
    ticket = open_ticket()
    ticket.apply(ChangeTicket(assignee="carol", actor="lead"), at(1))
    assert ticket.state.assignee == "carol"
    entry = ticket.state.timeline[-1]
    assert (entry.kind, entry.actor, entry.detail) == ("assigned", "lead", {"to": "carol"})


def test_priority_change_after_resolution_leaves_completed_clocks_alone() -> None:
    ticket = resolved()
    assert ticket.apply(ChangeTicket(priority="P3"), at(500)) == []
    assert ticket.state.response.state is ClockState.MET
    assert ticket.state.resolution.target == timedelta(hours=2)


def test_actions_move_updated_at_forward_only() -> None:
    ticket = open_ticket()
    ticket.apply(Comment(author="bob", body="a"), at(10))
    assert ticket.state.updated_at == at(10)
    ticket.apply(Comment(author="bob", body="b"), at(5))
    assert ticket.state.updated_at == at(10)


def test_an_action_sent_for_another_shows_both_and_counts_the_one_it_names() -> None:
    """An admin key acting for an agent: the timeline shows "ops for alice", the reports count
    alice; a key acting as itself (or no key at all) shows one name."""
    ticket = open_ticket()
    ticket.apply(Respond(agent_id="alice", sent_by="ops"), at(1))
    ticket.apply(Comment(author="alice", body="on it", sent_by="alice"), at(2))
    ticket.apply(Resolve(agent_id="bob"), at(3))
    ticket.apply(Close(actor="carol", sent_by="ops"), at(4))
    acted = [e for e in ticket.state.timeline if e.kind != "opened"]
    assert [(e.kind, e.actor, shown_actor(e)) for e in acted] == [
        ("responded", "alice", "ops for alice"),
        ("commented", "alice", "alice"),
        ("resolved", "bob", "bob"),
        ("closed", "carol", "ops for carol"),
    ]
    assert [e.detail.get("sent_by") for e in acted] == ["ops", None, None, "ops"]
    assert ticket.state.assignee == "alice"
    outcome = outcome_of(ticket.state)
    assert (outcome.responded_by, outcome.resolved_by) == ("alice", "bob")
