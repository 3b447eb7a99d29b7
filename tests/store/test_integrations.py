"""Help desks' deliveries in the store, on SQLite and PostgreSQL: kept once per (source,
delivery id), listed newest first by outcome, and the reporter read back from a creation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store import Store
from store.integrations import (
    IntegrationEvent,
    StepOutcome,
    integration_event,
    integration_events,
    record_integration_event,
    reporter_of,
)

AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def delivery(n: int, outcome: str = "applied", **fields: object) -> IntegrationEvent:
    step = StepOutcome(do="open", at=AT, outcome="applied")
    values: dict[str, object] = {
        "source": "jira", "delivery_id": f"d-{n}", "event": "jira:issue_created",
        "ticket_id": "SUP-1", "outcome": outcome, "reason": None, "steps": [step],
        "event_at": AT, "received_at": AT + timedelta(seconds=n),
    }  # fmt: skip
    return IntegrationEvent.model_validate(values | fields)


def test_a_delivery_is_kept_once_and_the_first_one_wins(store: Store) -> None:
    first = record_integration_event(store, delivery(1, reporter="jsmith"))
    again = record_integration_event(store, delivery(1, outcome="rejected", reason="late"))
    assert again == first and first.outcome == "applied" and first.steps[0].at == AT
    assert integration_event(store, "jira", "d-1") == first
    assert integration_event(store, "zendesk", "d-1") is None  # another desk's ids are its own


def test_deliveries_are_listed_newest_first_by_outcome_and_ticket(store: Store) -> None:
    for n, outcome in enumerate(["applied", "ignored", "rejected", "ignored"], start=1):
        record_integration_event(store, delivery(n, outcome, ticket_id=f"SUP-{n % 2}"))
    ignored = integration_events(store, outcome="ignored")
    assert [e.delivery_id for e in ignored] == ["d-4", "d-2"]
    assert [e.delivery_id for e in integration_events(store, ticket_id="SUP-1")] == ["d-3", "d-1"]
    assert [e.delivery_id for e in integration_events(store, offset=1, limit=2)] == ["d-3", "d-2"]
    assert integration_events(store, source="zendesk") == []


def test_the_reporter_is_the_one_its_creation_named(store: Store) -> None:
    assert reporter_of(store, "jira", "SUP-1") is None
    record_integration_event(store, delivery(1, reporter="jsmith"))
    record_integration_event(store, delivery(2, event="comment_created"))
    assert reporter_of(store, "jira", "SUP-1") == "jsmith"
    assert reporter_of(store, "zendesk", "SUP-1") is None
