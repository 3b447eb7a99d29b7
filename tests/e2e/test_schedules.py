"""The schedules slaflow keeps on Temporal: monthly statements and the availability probe."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cluster import PROBE_SCHEDULE, STATEMENTS_SCHEDULE, ensure_schedules
from settings import Settings
from sla.schedules import CloseMonth, ProbeCheck, previous_month
from store import Store
from tests.support.receiver import Receiver
from workflows.contracts import AvailabilityProbeWorkflow, MonthlyStatementsWorkflow


async def test_statement_schedule_closes_the_month_before_for_every_customer(
    dev_env: WorkflowEnvironment, e2e_settings: Settings, store: Store, api_url: str
) -> None:
    await ensure_schedules(dev_env.client, e2e_settings)
    handle = dev_env.client.get_schedule_handle(STATEMENTS_SCHEDULE)
    described = await handle.describe()
    [calendar] = described.schedule.spec.calendars  # the server keeps cron as a calendar
    assert [(r.start, r.end) for r in calendar.day_of_month] == [(1, 1)]
    assert [(r.start, r.end) for r in calendar.hour] == [(0, 0)]
    assert [(r.start, r.end) for r in calendar.minute] == [(5, 5)]
    await handle.trigger()
    month = previous_month(datetime.now(UTC))
    for _ in range(100):
        closed = store.closed_statements(month)
        if len(closed) == 2:
            break
        await asyncio.sleep(0.1)
    assert [(s.customer_id, s.currency) for s in closed] == [
        ("acme-e2e", "EUR"),
        ("globex-e2e", "JPY"),
    ]
    # Closing the same month again freezes nothing twice.
    again = await dev_env.client.execute_workflow(
        MonthlyStatementsWorkflow.run,
        CloseMonth(month=month),
        id=f"close-again-{uuid.uuid4().hex[:6]}",
        task_queue=e2e_settings.task_queue,
    )
    assert again.customers == []
    assert len(store.closed_statements(month)) == 2


async def test_probe_opens_an_incident_after_consecutive_failures_and_ends_it(
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    api_url: str,
    receiver: Callable[..., Receiver],
) -> None:
    flaky = receiver(200, path="/healthz")  # a real HTTP server whose health answer we set
    service = f"svc-{uuid.uuid4().hex[:6]}"
    check = ProbeCheck(url=flaky.url, service=service, failures=3, timeout_seconds=2)

    async def probe() -> str:
        outcome = await dev_env.client.execute_workflow(
            AvailabilityProbeWorkflow.run,
            check,
            id=f"probe-{uuid.uuid4().hex[:8]}",
            task_queue=e2e_settings.task_queue,
        )
        return outcome.happened

    assert await probe() == "up"
    flaky.answer(503)
    before_first_failure = datetime.now(UTC)
    assert await probe() == "down"
    after_first_failure = datetime.now(UTC)
    assert [await probe() for _ in range(2)] == ["down", "opened"]
    [incident] = store.incidents(before_first_failure, datetime.now(UTC), service)
    assert incident.source == "probe" and incident.ended_at is None
    # The outage is dated from the first failed check, not from when the threshold was met.
    assert before_first_failure <= incident.started_at <= after_first_failure
    assert await probe() == "down"
    flaky.answer(200)
    assert await probe() == "ended"
    ended = store.incident(incident.id)
    assert ended is not None and ended.ended_at is not None


def config_with_probe(source: Path, target: Path) -> Path:
    probe = "availability:\n  probe: {url: 'http://127.0.0.1:9/healthz', every: 30s}\n"
    target.write_text(source.read_text() + probe)
    return target


async def test_probe_schedule_follows_the_config(
    dev_env: WorkflowEnvironment, e2e_settings: Settings, tmp_path: Path
) -> None:
    config = config_with_probe(Path(e2e_settings.config), tmp_path / "probe.yaml")
    with_probe = Settings(config=config, task_queue=e2e_settings.task_queue)
    await ensure_schedules(dev_env.client, with_probe)
    described = await dev_env.client.get_schedule_handle(PROBE_SCHEDULE).describe()
    [interval] = described.schedule.spec.intervals
    assert interval.every.total_seconds() == 30
    await ensure_schedules(dev_env.client, e2e_settings)  # no probe configured: removed
    with pytest.raises(RPCError, match=r"not found|NotFound|not exist"):
        await dev_env.client.get_schedule_handle(PROBE_SCHEDULE).describe()
