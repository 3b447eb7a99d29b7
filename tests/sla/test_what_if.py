"""What-if: the journal replayed through the rules gives the outcome again, whatever the timer
loop did between actions; under another policy, the breaches and money a hand gives."""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.actions import (
    Action,
    ActionRejected,
    ChangeTicket,
    Close,
    Comment,
    Pause,
    Reopen,
    Repair,
    Resolve,
    Respond,
    Resume,
)
from sla.calendar import Calendar
from sla.clock import Metric
from sla.contracts import Contract
from sla.journal import (
    TicketOpening,
    action_entry,
    calendar_entry,
    journaled,
    opening,
)
from sla.outcome import outcome_of
from sla.policy import PolicySnapshot
from sla.priorities import Priority
from sla.records import TicketChanges, pending_after, recorded_from
from sla.statement import Terms
from sla.what_if import JournaledTicket, WhatIf, replay, reproduces, what_if, what_if_csv
from tests.support.rules import CREDITS, FULL, T0, at, open_ticket, policy

ACME = Contract(customer_id="acme", monthly_fee=Decimal(10000), currency="EUR")
# P1: response 15m, resolution 2h; 2% and 5% of the fee per breach, capped at 30%.
RAN_UNDER = FULL.model_copy(update={"contract": ACME})
TERMS = {"acme": Terms(monthly_fee=Decimal(10000), currency="EUR", cap=Decimal(30))}
OFFICE = Calendar(
    name="office",
    hours={day: ["09:00-12:00", "13:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
)


class Desk:
    """A ticket as its workflow keeps it: actions at their times, the timer loop's wakeups in
    between, and the journal and outcome it hands the store."""

    def __init__(
        self,
        snapshot: PolicySnapshot = RAN_UNDER,
        ticket_id: str = "T-1",
        priority: str = "P1",
        opened: datetime = T0,
        customer_id: str = "acme",
    ) -> None:
        self.ticket = open_ticket(priority, snapshot, ticket_id, opened, customer_id)
        state = self.ticket.state
        self.opening: TicketOpening = opening(
            state.ticket_id, state.customer_id, state.priority, state.created_at, snapshot
        )
        self.entries = []
        self.applied = opened

    def act(self, action: Action, when: datetime) -> None:
        repeated = self.ticket.seen(action)
        if not repeated:  # time is applied first, even to an action then refused
            self.applied = max(self.applied, when)
        self.ticket.apply(action, when)
        if not repeated and journaled(action):
            self.entries.append(action_entry(len(self.entries), when, action))

    def tick(self, when: datetime) -> None:
        self.ticket.on_time(when)
        self.applied = max(self.applied, when)

    def stored(self) -> JournaledTicket:
        return JournaledTicket(
            opening=self.opening,
            entries=list(self.entries),
            outcome=outcome_of(self.ticket.state),
            as_of=self.applied,
            journaled=len(self.entries),
        )


def test_a_worked_ticket_replays_to_its_outcome() -> None:
    desk = Desk()
    desk.act(Respond(agent_id="alice", message="on it"), at(20))  # 5 minutes late
    desk.act(Pause(reason="waiting for logs"), at(30))
    desk.tick(at(90))
    desk.act(Resume(), at(100))
    desk.act(ChangeTicket(priority=Priority.P2, assignee="bob"), at(110))
    desk.act(Comment(author="bob", body="a note"), at(111))
    desk.act(Resolve(agent_id="bob", resolution="replaced the toner"), at(200))
    desk.act(Reopen(reason="again"), at(210))
    desk.act(Resolve(agent_id="bob"), at(260))
    desk.act(Close(), at(270))
    stored = desk.stored()
    assert [e.kind for e in stored.entries] == [
        "respond", "pause", "resume", "change", "resolve", "reopen", "resolve", "close",
    ]  # fmt: skip
    assert stored.outcome.response_state == "breached" and stored.outcome.cycles == 2
    assert reproduces(stored)


def test_the_journal_keeps_no_free_text_and_rebuilds_each_action() -> None:
    paused = action_entry(3, at(1), Pause(reason="customer on holiday", request_id="r-1"))
    assert paused.payload == {}
    assert paused.action() == Pause(reason="(not kept)")
    resolved = action_entry(4, at(2), Resolve(agent_id="bob", resolution="fixed", sent_by="ops"))
    assert resolved.payload == {"agent_id": "bob", "sent_by": "ops"}
    assert resolved.action() == Resolve(agent_id="bob", sent_by="ops")
    assert not journaled(Comment(author="bob", body="x"))


moments = st.integers(min_value=0, max_value=600)
actions = st.sampled_from(
    [
        Respond(agent_id="alice"),
        Resolve(agent_id="alice"),
        Pause(reason="logs"),
        Resume(),
        Reopen(),
        Close(),
        ChangeTicket(priority=Priority.P1),
        ChangeTicket(priority=Priority.P3),
        ChangeTicket(assignee="carol"),
        # The promise repaired mid-ticket: tighter on office hours, looser around the clock.
        Repair(
            reason="config fixed",
            snapshot=policy(
                targets={p: {"response": "5m", "resolution": "30m"} for p in Priority}
            ).model_copy(update={"name": "tight", "calendar": OFFICE, "contract": ACME}),
        ),
        Repair(
            reason="config fixed",
            snapshot=policy(
                targets={p: {"response": "1h", "resolution": "8h"} for p in Priority}
            ).model_copy(update={"name": "loose", "contract": ACME}),
        ),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(moments, actions | st.none()), max_size=12),
    st.sampled_from([RAN_UNDER, RAN_UNDER.model_copy(update={"calendar": OFFICE})]),
    st.integers(min_value=0, max_value=900),
)
def test_any_ticket_replays_to_its_outcome_whatever_the_loop_did_between(
    steps: list[tuple[int, Action | None]], snapshot: PolicySnapshot, last: int
) -> None:
    """The workflow applies time at every wakeup it happens to have; the replay only at the
    actions and at the end: both must come to the same outcome."""
    desk = Desk(snapshot)
    for minute, action in sorted(steps, key=lambda step: step[0]):
        if action is None:
            desk.tick(at(minute))  # a timer, a delivery failure, a refused Update: no entry
            continue
        with contextlib.suppress(ActionRejected):
            desk.act(action, at(minute))
    desk.tick(max(at(last), desk.applied))
    assert reproduces(desk.stored())


def test_a_calendar_extended_mid_ticket_is_replayed_where_it_happened() -> None:
    # P3 on office hours from Monday 09:00: 24h of resolution is due Thursday 12:00, or
    # Friday 12:00 once the extension knows Tuesday is a holiday.
    desk = Desk(RAN_UNDER.model_copy(update={"calendar": OFFICE}), priority="P3")
    extended = Calendar.model_validate({**OFFICE.model_dump(), "holidays": [at(24 * 60).date()]})
    desk.ticket.change_calendar(extended)
    desk.entries.append(calendar_entry(0, at(5), extended))
    desk.tick(at(4 * 24 * 60))
    stored = desk.stored()
    assert stored.outcome.resolution_state == "running"
    assert reproduces(stored)
    # Without the extension the replay breaches on Thursday: the entry matters.
    assert not reproduces(stored.model_copy(update={"entries": [], "journaled": 0}))


def test_a_gap_in_the_journal_is_not_reproduced() -> None:
    desk = Desk()
    desk.act(Respond(agent_id="alice"), at(5))
    desk.act(Resolve(agent_id="alice"), at(30))
    stored = desk.stored()
    assert reproduces(stored)
    assert not reproduces(stored.model_copy(update={"entries": stored.entries[1:]}))


def tighter(response: str, **more: object) -> PolicySnapshot:
    targets = {"P1": {"response": response, "resolution": "2h"},
               "P2": {"response": "1h", "resolution": "8h"},
               "P3": {"response": "4h", "resolution": "24h"}}  # fmt: skip
    return policy(**{"targets": targets, "credits": CREDITS, **more}).model_copy(
        update={"name": "tight"}
    )


def early_and_late() -> list[JournaledTicket]:
    """T-1 answered after 10 minutes, T-2 after 20 (of 15), both resolved within the hour."""
    tickets = []
    for ticket_id, answered in (("T-1", 10), ("T-2", 20)):
        desk = Desk(ticket_id=ticket_id)
        desk.act(Respond(agent_id="alice"), at(answered))
        desk.act(Resolve(agent_id="alice"), at(60))
        tickets.append(desk.stored())
    return tickets


@dataclass
class Fixed:
    """A proposed policy as the edge resolves it, the same for every ticket."""

    snapshot: PolicySnapshot
    name: str = "tight"

    @property
    def cap(self) -> Decimal | None:
        return self.snapshot.credits.monthly_cap if self.snapshot.credits else None

    def snapshot_for(self, opening: TicketOpening) -> PolicySnapshot:
        return self.snapshot


def compare(tickets: list[JournaledTicket], proposed: PolicySnapshot) -> WhatIf:
    return what_if(tickets, [], Fixed(proposed), TERMS.__getitem__, T0, at(24 * 60), at(24 * 60))


def test_a_tighter_response_target_breaches_the_early_answer_too() -> None:
    answer = compare(early_and_late(), tighter("5m"))
    assert answer.reproduced and answer.tickets == 2
    assert (answer.actual.response.met, answer.actual.response.breached) == (1, 1)
    assert (answer.proposed.response.met, answer.proposed.response.breached) == (0, 2)
    assert answer.actual.response.compliance == 0.5 and answer.proposed.response.compliance == 0
    assert answer.actual.resolution == answer.proposed.resolution
    # 2% of 10,000 EUR per breached response: 200 then 400.
    [was] = answer.actual.credits
    [would] = answer.proposed.credits
    assert (was.currency, was.amount, would.amount) == ("EUR", Decimal("200.00"), Decimal("400.00"))
    assert [(c.ticket_id, c.metric, c.actual, c.proposed) for c in answer.changed] == [
        ("T-1", Metric.RESPONSE, "met", "breached")
    ]
    assert answer.by_customer["acme"].proposed.credits == answer.proposed.credits


def test_a_looser_target_and_a_cap_are_priced_as_the_statement_prices_them() -> None:
    looser = compare(early_and_late(), tighter("30m"))
    assert looser.proposed.response.breached == 0
    assert looser.proposed.credits[0].amount == Decimal("0.00")
    assert [(c.ticket_id, c.actual, c.proposed) for c in looser.changed] == [
        ("T-2", "breached", "met")
    ]
    capped = tighter("5m", credits={**CREDITS, "monthly_cap": "3%"})
    assert compare(early_and_late(), capped).proposed.credits[0].amount == Decimal("300.00")


def test_each_month_is_capped_on_its_own_statement() -> None:
    tickets = []
    for ticket_id, opened in (("T-1", T0), ("T-2", T0 + timedelta(days=40))):
        desk = Desk(ticket_id=ticket_id, opened=opened)
        desk.tick(opened + timedelta(days=1))  # both clocks breached: 2% + 5% each
        tickets.append(desk.stored())
    capped = tighter("15m", credits={**CREDITS, "monthly_cap": "6%"})
    answer = what_if(
        tickets, [], Fixed(capped), TERMS.__getitem__, T0, at(60 * 24 * 60), at(60 * 24 * 60)
    )
    assert answer.actual.credits[0].amount == Decimal("1400.00")
    assert answer.proposed.credits[0].amount == Decimal("1200.00")  # 600 in each month


def test_an_action_the_proposed_policy_refuses_is_reported() -> None:
    desk = Desk()
    desk.act(Resolve(agent_id="alice"), at(10))
    desk.act(Reopen(), at(5 * 60))
    desk.act(Resolve(agent_id="alice"), at(6 * 60))
    hasty = tighter("15m", auto_close_after="1h")  # closed before the reopen came
    answer = compare([desk.stored()], hasty)
    assert [(r.ticket_id, r.action) for r in answer.refused] == [
        ("T-1", "reopen"),
        ("T-1", "resolve"),
    ]
    assert replay(desk.stored(), at(24 * 60), hasty).state.status.value == "closed"


def test_tickets_without_a_journal_make_the_comparison_untrusted() -> None:
    answer = what_if(
        early_and_late(), ["T-0"], Fixed(tighter("5m")), TERMS.__getitem__, T0, at(60), at(60)
    )
    assert not answer.reproduced and answer.unjournaled == ["T-0"]


def test_the_csv_has_the_deltas() -> None:
    rows = list(csv.reader(io.StringIO(what_if_csv(compare(early_and_late(), tighter("5m"))))))
    assert rows[0] == ["scope", "name", "measure", "actual", "proposed", "delta"]
    assert ["all", "all", "response_breached", "1", "2", "+1"] in rows
    assert ["all", "acme", "credits_EUR", "200.00", "400.00", "+200.00"] in rows
    assert ["ticket", "T-1", "response", "met", "breached", ""] in rows
    assert rows[-1] == ["all", "all", "reproduced", "true", "", ""]


def test_journal_entries_wait_with_the_records_and_land_once() -> None:
    desk = Desk()
    desk.act(Respond(agent_id="alice"), at(5))
    first = TicketChanges(
        outcome=outcome_of(desk.ticket.state), opening=desk.opening,
        journal=desk.entries[:1], journaled=1,
    )  # fmt: skip
    desk.act(Resolve(agent_id="alice"), at(9))
    second = TicketChanges(
        outcome=outcome_of(desk.ticket.state), journal=desk.entries[1:], journaled=2
    )
    waiting = pending_after(pending_after(None, first), second)
    assert [e.seq for e in waiting.journal] == [0, 1] and waiting.opening == desk.opening
    assert waiting.journaled == 2
    # The activity took the first two; a third joined meanwhile: only it still waits.
    desk.act(Close(), at(12))
    third = TicketChanges(
        outcome=outcome_of(desk.ticket.state), journal=desk.entries[2:], journaled=3
    )
    left = recorded_from(pending_after(waiting, third), waiting)
    assert left is not None and [e.seq for e in left.journal] == [2] and left.opening is None
    assert recorded_from(left, left) is None
