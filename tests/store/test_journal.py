"""The journal in the store: the opening and each entry once however often they are sent, read
back with the outcome they come to, and replayed to it (sla/what_if.py), on both databases."""

from __future__ import annotations

import copy
from datetime import timedelta

from sla.actions import Close, Pause, Resolve, Respond, Resume
from sla.outcome import TicketChanges, outcome_of
from sla.priorities import Priority
from sla.what_if import reproduces
from store import Store
from store.what_if import not_reproduced
from tests.sla.test_what_if import Desk
from tests.support.rules import T0, at

WEEK = (T0 - timedelta(days=1), T0 + timedelta(days=7))


def changes(desk: Desk, start: int, *, opening: bool = False) -> TicketChanges:
    """What the workflow hands the store after entry `start`: the entries since, the outcome."""
    return TicketChanges(
        outcome=outcome_of(desk.ticket.state),
        request="fingerprint",
        as_of=desk.applied,
        opening=desk.opening if opening else None,
        journal=desk.entries[start:],
        journaled=len(desk.entries),
    )


def test_the_journal_lands_once_and_replays_to_the_stored_outcome(store: Store) -> None:
    desk = Desk()
    desk.act(Respond(agent_id="alice"), at(20))
    first = changes(desk, 0, opening=True)
    desk.act(Pause(reason="logs"), at(30))
    desk.act(Resume(), at(40))
    desk.act(Resolve(agent_id="alice"), at(50))
    rest = changes(desk, 1)
    store.record_changes(first)
    store.record_changes(rest)
    # Retried (a fast path that committed but lost its answer), and the pending list that
    # carried both: nothing lands twice.
    store.record_changes(first)
    store.record_changes(rest.model_copy(update={"journal": desk.entries, "opening": desk.opening}))
    [kept], missing = store.journaled_tickets(*WEEK)
    assert missing == []
    assert kept.opening == desk.opening
    assert [(e.seq, e.kind, e.at) for e in kept.entries] == [
        (0, "respond", at(20)), (1, "pause", at(30)), (2, "resume", at(40)), (3, "resolve", at(50)),
    ]  # fmt: skip
    assert kept.journaled == 4 and kept.as_of == at(50)
    assert kept.outcome == outcome_of(desk.ticket.state)
    assert reproduces(kept)
    assert not_reproduced(store, *WEEK) == []


def test_an_older_outcome_never_overwrites_one_of_more_entries(store: Store) -> None:
    desk = Desk()
    desk.act(Respond(agent_id="alice"), at(5))
    older = changes(desk, 0, opening=True)
    desk.act(Resolve(agent_id="alice"), at(5))  # the same ticket time, one entry more
    newer = changes(desk, 1)
    store.record_changes(newer.model_copy(update={"opening": desk.opening}))
    store.record_changes(older)  # a late retry of the first
    row = store.ticket("T-1")
    assert row is not None and (row.status, row.journaled) == ("resolved", 2)
    [kept], _ = store.journaled_tickets(*WEEK)
    assert reproduces(kept)


def test_the_outcome_is_replayed_from_the_entries_it_reflects_only(store: Store) -> None:
    desk = Desk()
    desk.act(Respond(agent_id="alice"), at(5))
    store.record_changes(changes(desk, 0, opening=True))
    # An entry whose outcome did not land (an older one's time, say) is not replayed.
    desk.act(Resolve(agent_id="alice"), at(6))
    store.record_changes(changes(desk, 1).model_copy(update={"as_of": at(1)}))
    [kept], _ = store.journaled_tickets(*WEEK)
    assert [e.kind for e in kept.entries] == ["respond"] and reproduces(kept)


def test_tickets_are_found_by_window_customer_and_priority(store: Store) -> None:
    for ticket_id, priority, opened in (("A", "P1", T0), ("B", "P2", T0), ("C", "P1", at(-3000))):
        desk = Desk(ticket_id=ticket_id, priority=priority, opened=opened)
        store.record_changes(changes(desk, 0, opening=True))
    # Outcomes recorded before the journal was kept: no opening, no entries.
    old = Desk(ticket_id="D")
    store.record_changes(TicketChanges(outcome=outcome_of(old.ticket.state)))
    found, missing = store.journaled_tickets(*WEEK)
    assert [t.opening.ticket_id for t in found] == ["A", "B"] and missing == ["D"]
    found, _ = store.journaled_tickets(*WEEK, customer_id="acme", priority=Priority.P2.value)
    assert [t.opening.ticket_id for t in found] == ["B"]
    assert not_reproduced(store, *WEEK) == ["D"]


def test_a_task_that_completed_replaces_the_records_of_one_that_never_did(store: Store) -> None:
    """A workflow task's local activity wrote, then the task never completed (its worker died,
    or it timed out); run again, the task applied its messages in another order. Its later
    records replace the entries and the outcome, though they count fewer entries."""
    desk = Desk()
    desk.act(Respond(agent_id="alice"), at(5))
    store.record_changes(changes(desk, 0, opening=True))
    never = copy.deepcopy(desk)
    never.act(Resolve(agent_id="alice"), at(6))
    never.act(Close(), at(6))
    store.record_changes(changes(never, 1))
    desk.act(Pause(reason="logs"), at(7))  # what the ticket really did, in the task again
    store.record_changes(changes(desk, 1))
    [kept], _ = store.journaled_tickets(*WEEK)
    assert [e.kind for e in kept.entries] == ["respond", "pause"]
    assert kept.outcome.status == "waiting_on_customer" and kept.journaled == 2
    assert reproduces(kept)
