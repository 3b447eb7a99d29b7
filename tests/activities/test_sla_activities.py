"""SLA activities run for real (ActivityEnvironment) against a real SQLite store."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from temporalio.testing import ActivityEnvironment

from activities.sla import SlaActivities
from sla.clock import Metric
from sla.effects import Effect, EffectKind, InvalidEffect
from sla.outcome import TicketChanges, outcome_of
from sla.priorities import Priority
from store import Store
from telemetry import StructuredFormatter
from tests.support.rules import open_ticket
from workflows import retries

AT = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)


def effect(kind: EffectKind, level: int = 0, cycle: int = 1) -> Effect:
    return Effect(
        kind=kind,
        ticket_id="T-1",
        customer_id="acme",
        priority=Priority.P1,
        metric=Metric.RESPONSE,
        cycle=cycle,
        level=level,
        at=AT,
        notify=["team-lead"] if kind is EffectKind.ESCALATION else [],
        percent=Decimal("2") if kind is EffectKind.PENALTY else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store.sqlite3")


def changes(*effects: Effect) -> TicketChanges:
    return TicketChanges(effects=list(effects), outcome=outcome_of(open_ticket().state))


async def record(store: Store, *effects: Effect) -> None:
    await ActivityEnvironment().run(SlaActivities(store).record_changes, changes(*effects))


async def test_a_retried_penalty_is_recorded_once(store: Store) -> None:
    await record(store, effect(EffectKind.PENALTY))
    await record(store, effect(EffectKind.PENALTY))
    [row] = store.events("T-1")
    assert (row["kind"], row["metric"], row["percent"]) == ("penalty", "response", "2")


async def test_each_escalation_level_and_cycle_is_its_own_record(store: Store) -> None:
    for level, cycle in [(1, 1), (2, 1), (1, 2), (1, 1)]:
        await record(store, effect(EffectKind.ESCALATION, level, cycle))
    keys = [row["key"] for row in store.events("T-1")]
    assert keys == [
        "T-1:escalation:response:c1:l1",
        "T-1:escalation:response:c1:l2",
        "T-1:escalation:response:c2:l1",
    ]


async def test_the_ledger_outlives_the_process(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    await record(Store.at(path), effect(EffectKind.WARNING))
    reopened = Store.at(path)
    await record(reopened, effect(EffectKind.WARNING))
    assert len(reopened.events()) == 1


async def test_each_effect_logs_one_structured_line_without_ticket_text(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="slaflow.activities")
    await record(store, effect(EffectKind.ESCALATION, 1))
    [record_line] = caplog.records
    line = json.loads(StructuredFormatter(as_json=True).format(record_line))
    assert line["message"] == "escalated"
    assert line["workflow_id"] == "test"  # ActivityEnvironment's workflow id
    assert line["ticket_id"] == "T-1"
    assert line["key"] == "T-1:escalation:response:c1:l1"
    assert line["duplicate"] is False
    assert "title" not in line and "description" not in line


async def test_an_effect_the_store_does_not_keep_fails_without_retry(store: Store) -> None:
    """A `resolved` effect is only announced; recording one is a bug the retry policy must
    not retry forever: the activity fails with the type the policy names non-retryable."""
    with pytest.raises(InvalidEffect):
        await record(store, effect(EffectKind.RESOLVED))
    assert InvalidEffect.__name__ in retries.RECORD.non_retryable_error_types
    assert store.events("T-1") == []


async def test_a_tasks_changes_are_recorded_and_logged_once_each(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="slaflow.activities")
    both = (effect(EffectKind.ESCALATION, 1), effect(EffectKind.PENALTY))
    await record(store, *both)
    await record(store, *both)  # a retry
    assert sorted(row["kind"] for row in store.events("T-1")) == ["escalation", "penalty"]
    lines = [json.loads(StructuredFormatter(as_json=True).format(r)) for r in caplog.records]
    assert [(line["message"], line["duplicate"]) for line in lines] == [
        ("escalated", False),
        ("penalty_recorded", False),
        ("escalated", True),
        ("penalty_recorded", True),
    ]
    assert store.ticket("T-1") is not None


async def test_an_escalation_is_timed_against_its_due_moment_once(store: Store) -> None:
    """slaflow_escalation_lateness_seconds: recorded minus due, observed where it is first
    recorded (a retry adds nothing)."""

    def observed() -> list[float]:
        name = "slaflow_escalation_lateness_seconds"
        count = REGISTRY.get_sample_value(f"{name}_count")
        buckets = [
            REGISTRY.get_sample_value(f"{name}_bucket", {"le": le}) for le in ("60.0", "120.0")
        ]
        return [value or 0.0 for value in (count, *buckets)]

    before = observed()
    due = datetime.now(UTC) - timedelta(seconds=90)
    late = effect(EffectKind.ESCALATION, 1).model_copy(update={"at": due})
    await record(store, late)
    await record(store, late)  # a retry
    # Once, 90 s late: within two minutes, not within one.
    assert observed() == [before[0] + 1, before[1], before[2] + 1]
