"""The store keeps each effect once, outcomes current and incidents straight, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sla.availability import Incident
from sla.clock import Metric
from sla.effects import Effect, EffectKind
from sla.outcome import TicketChanges, TicketOutcome
from sla.priorities import Priority
from sla.quality import Rated
from store import Store
from store.models import Base

AT = datetime(2026, 11, 3, 9, 15, tzinfo=UTC)


def penalty(ticket: str = "T-1", metric: Metric = Metric.RESPONSE, cycle: int = 1) -> Effect:
    return Effect(
        kind=EffectKind.PENALTY,
        ticket_id=ticket,
        customer_id="acme",
        priority=Priority.P1,
        metric=metric,
        cycle=cycle,
        at=AT,
        percent=Decimal("2"),
        amount=Decimal("200.000"),
        unit="EUR",
    )


def record(store: Store, effect: Effect) -> bool:
    """One effect as a workflow task records it; True where this call recorded it first."""
    [first] = store.record_changes(TicketChanges(effects=[effect], outcome=outcome()))
    return first


def test_a_credit_is_recorded_once_however_often_it_is_sent(store: Store) -> None:
    assert record(store, penalty()) is True
    assert record(store, penalty()) is False
    assert record(store, penalty(cycle=2)) is True
    rows = store.credits("acme", AT - timedelta(days=1), AT + timedelta(days=1))
    assert [(r.cycle, r.amount, r.unit) for r in rows] == [
        (1, "200.000", "EUR"),
        (2, "200.000", "EUR"),
    ]


def test_concurrent_retries_of_one_credit_record_it_once(store: Store) -> None:
    results: list[bool] = []

    def send() -> None:
        results.append(record(store, penalty(ticket="T-race")))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_times_come_back_as_aware_utc(store: Store) -> None:
    record(store, penalty())
    [row] = store.credits("acme", AT - timedelta(hours=1), AT + timedelta(hours=1))
    assert row.at == AT and row.at.utcoffset() == timedelta(0)


def outcome(**changes: object) -> TicketOutcome:
    opened = TicketOutcome(
        ticket_id="T-1", customer_id="acme", priority=Priority.P1, policy="standard",
        status="open", opened_at=AT, first_response_at=None, responded_by=None,
        resolved_at=None, resolved_by=None, closed_at=None, response_state="running",
        resolution_state="running", response_seconds=None, resolution_seconds=None,
        response_breached_at=None, resolution_breached_at=None, breaches=0,
        escalation_level=0, cycles=1,
    )  # fmt: skip
    return opened.model_copy(update=changes)


def test_ticket_outcome_is_kept_current(store: Store) -> None:
    store.record_changes(TicketChanges(outcome=outcome()))
    store.record_changes(TicketChanges(outcome=outcome(status="closed", closed_at=AT)))
    row = store.ticket("T-1")
    assert row is not None and (row.status, row.closed_at) == ("closed", AT)
    assert store.tickets_opened("acme", AT - timedelta(days=1), AT + timedelta(days=1)) == 1
    assert store.knows_customer("acme") and not store.knows_customer("globex")


def test_quality_facts_come_back_with_the_outcome(store: Store) -> None:
    rated = [Rated(cycle=1, score=5, at=AT), Rated(cycle=2, score=1, at=AT + timedelta(hours=1))]
    store.record_changes(TicketChanges(outcome=outcome(responses=2, cycles=2, ratings=rated)))
    [kept] = store.outcomes(AT - timedelta(days=1), AT + timedelta(days=1))
    assert (kept.responses, kept.ratings) == (2, rated)


def test_the_migrations_build_exactly_the_models_tables(store: Store) -> None:
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_tasks_changes_land_together_and_each_effect_once(store: Store) -> None:
    escalation = penalty().model_copy(update={"kind": EffectKind.ESCALATION, "level": 1})
    breached = outcome(breaches=1, escalation_level=1, response_breached_at=AT)
    changes = TicketChanges(effects=[escalation, penalty()], outcome=breached)
    assert store.record_changes(changes) == [True, True]
    # A retried local activity (its first attempt committed, its answer lost) changes nothing.
    assert store.record_changes(changes) == [False, False]
    kinds = [(e["kind"], e["key"]) for e in store.events("T-1")]
    assert sorted(kinds) == [
        ("escalation", "T-1:escalation:response:c1:l1"),
        ("penalty", "T-1:penalty:response:c1"),
    ]
    row = store.ticket("T-1")
    assert row is not None and (row.breaches, row.escalation_level) == (1, 1)


def test_a_failed_transaction_records_none_of_its_changes(store: Store) -> None:
    # The second effect is not one the store keeps: it fails after the penalty's insert.
    resolved = penalty().model_copy(update={"kind": EffectKind.RESOLVED})
    changes = TicketChanges(effects=[penalty(), resolved], outcome=outcome())
    with pytest.raises(ValueError, match="resolved effects are not recorded"):
        store.record_changes(changes)
    assert store.events("T-1") == []
    assert store.ticket("T-1") is None


def test_incidents_overlapping_a_window_are_found_and_can_be_ended(store: Store) -> None:
    store.add_incident(Incident(id="i1", started_at=AT, note="db"))
    store.add_incident(
        Incident(id="i2", started_at=AT - timedelta(days=40), ended_at=AT - timedelta(days=39))
    )
    window = store.incidents(AT - timedelta(days=1), AT + timedelta(days=1), "platform")
    assert [i.id for i in window] == ["i1"]
    ended = store.end_incident("i1", AT + timedelta(minutes=50))
    assert ended is not None and ended.ended_at == AT + timedelta(minutes=50)
    assert store.end_incident("nope", AT) is None
    assert store.open_incident("platform", "manual") is None


def test_migrating_again_changes_nothing(store: Store) -> None:
    record(store, penalty())
    store.migrate()
    assert len(store.events("T-1")) == 1
