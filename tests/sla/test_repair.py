"""Repairing a ticket's policy (sla/ticket.py `_repair`): the new promise applied from each
clock's start, a clock already past it breached at once and dated when it reached it, breaches
that happened kept, pauses and calendars counted; and the journal replaying it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sla.actions import ActionRejected, Close, Repair, Resume
from sla.calendar import Calendar
from sla.clock import ClockState, Metric
from sla.effects import EffectKind
from sla.journal import JournalEntry, action_entry, opening
from sla.outcome import outcome_of
from sla.policy import PolicySnapshot
from sla.ticket import TicketStatus, repair_preview
from sla.what_if import JournaledTicket, replay, reproduces
from tests.support.rules import CHAIN, PAUSE, RESOLVE, RESPOND, T0, at, open_ticket, policy

OFFICE = Calendar(
    name="office", hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
)


def targets(response: str, resolution: str = "8h") -> dict[str, dict[str, str]]:
    others = {"response": "4h", "resolution": "1d"}
    return {"P1": {"response": response, "resolution": resolution}, "P2": others, "P3": others}


def named(name: str, **standard: object) -> PolicySnapshot:
    return policy(escalation=CHAIN, **standard).model_copy(update={"name": name})


HOUR = named("hour", targets=targets("1h"))
FIVE = named("five", targets=targets("5m"))


def repair(snapshot: PolicySnapshot, **fields: object) -> Repair:
    return Repair(reason="the config said 1h", snapshot=snapshot, **fields)  # type: ignore[arg-type]


def test_a_clock_past_its_new_target_breaches_at_once_dated_when_it_reached_it() -> None:
    ticket = open_ticket("P1", HOUR)
    effects = ticket.apply(repair(FIVE, actor="ops"), at(10))

    state = ticket.state
    assert (state.policy, ticket.policy) == ("five", FIVE)
    assert state.response.state is ClockState.BREACHED
    assert state.response.breached_at == at(5)  # the new policy's due time, not the repair's
    assert state.resolution.due_at == at(8 * 60)  # elapsed 10 minutes of the new 8h
    assert [(e.kind, e.at) for e in effects] == [
        (EffectKind.PENALTY, at(5)),
        (EffectKind.ESCALATION, at(5)),  # level 1 (after 0s) at once; level 2 at 1h05
    ]
    assert state.escalation_level == 1
    record = state.repairs[-1]
    assert (record.previous, record.policy, record.actor) == ("hour", "five", "ops")
    assert record.kept_breaches == []
    response = record.clocks[0]
    assert (response.due_before, response.due_at, response.state) == (
        at(60),
        at(5),
        ClockState.BREACHED,
    )
    assert (response.target_before, response.target) == (timedelta(hours=1), timedelta(minutes=5))
    entry = state.timeline[-3]  # then the breach and the escalation it starts
    assert (entry.kind, entry.actor) == ("policy_repaired", "ops")
    assert entry.detail["previous"] == "hour" and entry.detail["to"] == "five"
    assert entry.detail["targets"] == {"response": "5m", "resolution": "8h"}
    assert entry.detail["previous_targets"] == {"response": "1h", "resolution": "8h"}
    assert entry.detail["reason"] == "the config said 1h"
    assert [e.kind for e in state.timeline[-2:]] == ["breached", "escalated"]


def test_a_breach_that_happened_stays_and_is_said_to_be_kept() -> None:
    ticket = open_ticket("P1", FIVE)
    ticket.on_time(at(10))  # breached at 5 minutes
    ticket.take_effects()
    effects = ticket.apply(repair(HOUR), at(20))

    state = ticket.state
    assert effects == []
    assert state.response.state is ClockState.BREACHED
    assert state.response.breached_at == at(5) and state.response.due_at == at(5)
    assert state.response.target == timedelta(hours=1)
    assert [(b.metric, b.cycle, b.breached_at) for b in state.repairs[-1].kept_breaches] == [
        (Metric.RESPONSE, 1, at(5))
    ]
    assert state.timeline[-1].detail["kept_breaches"] == [
        {"metric": "response", "cycle": 1, "breached_at": at(5).isoformat()}
    ]
    assert state.ever_breached


def test_the_business_time_already_used_is_kept_and_pauses_do_not_count() -> None:
    ticket = open_ticket("P1", HOUR)
    ticket.apply(PAUSE, at(10))
    ticket.apply(Resume(), at(40))
    ticket.apply(repair(named("half", targets=targets("30m"))), at(50))
    # Ran 10 + 10 minutes of the new 30: due 10 minutes after the repair.
    assert ticket.state.response.due_at == at(60)
    assert ticket.state.response.elapsed == timedelta(minutes=20)

    again = open_ticket("P1", HOUR)
    again.apply(PAUSE, at(10))
    again.apply(Resume(), at(40))
    again.apply(repair(named("quarter", targets=targets("15m"))), at(50))
    # 10 minutes before the pause, 5 after it: the 15 were reached at 45, not at 15.
    assert again.state.response.breached_at == at(45)


def test_a_paused_ticket_stays_paused_and_a_new_calendar_counts_the_past_its_way() -> None:
    paused = open_ticket("P1", HOUR)
    paused.apply(PAUSE, at(10))
    paused.apply(repair(named("half", targets=targets("30m"))), at(50))
    assert paused.state.response.state is ClockState.PAUSED and paused.state.response.due_at is None
    paused.apply(Resume(), at(60))
    assert paused.state.response.due_at == at(80)  # 10 used, 20 left

    # Monday 09:00, repaired at 20:00 to office hours: 8 business hours ran (09-17), not 11.
    office = named("office", targets=targets("10h", "1w"), calendar="always").model_copy(
        update={"calendar": OFFICE}
    )
    ticket = open_ticket("P1", named("day", targets=targets("1d", "1w")))
    ticket.apply(repair(office), at(11 * 60))
    assert ticket.state.response.elapsed == timedelta(hours=8)
    assert ticket.state.response.due_at == T0 + timedelta(days=1, hours=2)  # Tuesday 11:00
    assert (ticket.state.calendar, ticket.state.timezone) == ("office", "UTC")


def test_completed_clocks_keep_their_verdict_and_a_closed_ticket_is_refused() -> None:
    ticket = open_ticket("P1", HOUR)
    ticket.apply(RESPOND, at(20))
    ticket.apply(RESOLVE, at(30))
    ticket.apply(repair(FIVE), at(40))
    assert ticket.state.response.state is ClockState.MET
    assert ticket.state.resolution.state is ClockState.MET
    assert ticket.state.status is TicketStatus.RESOLVED and ticket.state.policy == "five"

    ticket.apply(Close(), at(50))
    with pytest.raises(ActionRejected, match="cannot repair: the ticket is closed"):
        ticket.apply(repair(HOUR), at(60))


def test_a_repeated_request_repairs_once() -> None:
    ticket = open_ticket("P1", HOUR)
    ticket.apply(repair(FIVE, request_id="bulk-1:T-1"), at(10))
    ticket.apply(repair(FIVE, request_id="bulk-1:T-1"), at(12))
    assert len(ticket.state.repairs) == 1
    assert [e.kind for e in ticket.state.timeline].count("policy_repaired") == 1


def test_a_dry_run_says_what_the_repair_would_do_and_changes_nothing() -> None:
    ticket = open_ticket("P1", HOUR)
    before = ticket.state.model_copy(deep=True)
    preview = repair_preview(ticket.state, repair(FIVE), at(10))
    assert ticket.state == before
    assert (preview.previous, preview.policy) == ("hour", "five")
    assert preview.clocks[0].due_at == at(5) and preview.clocks[0].state is ClockState.BREACHED
    ticket.apply(repair(FIVE), at(10))
    assert ticket.state.repairs[-1] == preview


def test_the_journal_carries_the_repaired_policy_and_the_replay_reproduces_it() -> None:
    ticket = open_ticket("P1", HOUR)
    state = ticket.state
    opened = opening(state.ticket_id, state.customer_id, state.priority, state.created_at, HOUR)
    action = repair(FIVE, actor="ops")
    ticket.apply(action, at(10))
    ticket.on_time(at(90))
    entry = action_entry(0, at(10), action)
    assert "reason" not in entry.payload and "routing" not in entry.payload["snapshot"]
    rebuilt = JournalEntry.model_validate_json(entry.model_dump_json()).action()
    assert isinstance(rebuilt, Repair) and rebuilt.snapshot.targets == FIVE.targets
    stored = JournaledTicket(
        opening=opened,
        entries=[entry],
        outcome=outcome_of(ticket.state),
        as_of=at(90),
        journaled=1,
    )
    assert reproduces(stored)
    assert stored.outcome.response_breached_at == at(5)
    # A proposed policy is the ticket's throughout: the repair does not replace it.
    proposed = replay(stored, at(90), named("proposed", targets=targets("2h")))
    assert proposed.state.policy == "proposed"
    assert proposed.state.response.state is ClockState.RUNNING
