"""The Delivery workflow against real receivers and real Temporal servers: retried with backoff
for at most give_up_after, then dead (the row, the metric once, the ticket's timeline); a 3xx is
dead at once; a store outage never delays the delivery itself."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from sla.notifications import (
    Delivery,
    DeliveryOrder,
    Event,
    NotificationsConfig,
    delivery_id,
    delivery_workflow_id,
    event_id,
    verify,
)
from sla.policy import PolicySnapshot
from store import Store
from store.deliveries import DeliveryOutcome, StoredDelivery, delivery
from store.models import DeliveryRow
from telemetry import DELIVERIES
from tests.support.ports import free_port
from tests.support.receiver import Receiver
from tests.support.workflows import open_ticket, state_of, ticket_worker
from worker import delivery_activities
from workflows.delivery import DeliveryWorkflow

SECRET = "whsec-deliveries"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store.sqlite3")


def webhook(url: str) -> NotificationsConfig:
    return NotificationsConfig.model_validate(
        {"webhooks": [{"name": "ops", "url": url, "secret": SECRET}]}
    )


def order(give_up_after: timedelta, ticket_workflow_id: str | None = None) -> DeliveryOrder:
    ticket = f"T-{uuid.uuid4().hex[:8]}"
    event = Event(
        id=event_id(f"{ticket}:breach:response:c1"),
        type="breach",
        ticket_id=ticket,
        at=datetime.now(UTC),
        data={"metric": "response", "priority": "P1"},
    )
    return DeliveryOrder(
        delivery=Delivery(event=event, target="webhook:ops"),
        give_up_after=give_up_after,
        ticket_workflow_id=ticket_workflow_id,
    )


@asynccontextmanager
async def delivery_worker(
    client: Client, task_queue: str, store: Store, notifications: NotificationsConfig
) -> AsyncIterator[Worker]:
    """What a slaflow worker runs for deliveries (sandboxed, as the workflow tests run it)."""
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[DeliveryWorkflow],
        activities=delivery_activities(store, notifications),
    ) as worker:
        yield worker


async def start(
    client: Client, task_queue: str, the_order: DeliveryOrder
) -> WorkflowHandle[DeliveryWorkflow, DeliveryOutcome]:
    return await client.start_workflow(
        DeliveryWorkflow.run,
        the_order,
        id=delivery_workflow_id(delivery_id(the_order.delivery)),
        task_queue=task_queue,
    )


def row(store: Store, the_order: DeliveryOrder) -> StoredDelivery:
    found = delivery(store, delivery_id(the_order.delivery))
    assert found is not None
    return found


def dead_count() -> float:
    return DELIVERIES.labels("dead")._value.get()


async def test_a_receiver_answering_503_is_retried_with_backoff_then_dead_after_the_window(
    time_env: WorkflowEnvironment,
    task_queue: str,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(503)
    the_order = order(timedelta(hours=1))
    dead_before = dead_count()
    async with delivery_worker(time_env.client, task_queue, store, webhook(hook.url)):
        handle = await start(time_env.client, task_queue, the_order)
        outcome = await handle.result()
        described = await handle.describe()

    assert outcome.state == "dead"
    # Backoff 2 s doubling to 10 min: attempts at 0, 2, 6, 14, ... 1022 s, then every 10 min
    # up to 3422 s; the next would fall past the hour, so that was the last.
    assert 12 <= len(hook.received) <= 16
    assert outcome.attempts == len(hook.received)
    assert {r.event_id for r in hook.received} == {the_order.delivery.event.id}
    assert all(verify(r.body, SECRET, r.headers["x-slaflow-signature"]) for r in hook.received)
    assert described.close_time is not None
    took = described.close_time - described.start_time
    assert timedelta(minutes=50) <= took <= timedelta(hours=1)  # at most the window
    assert outcome.detail is not None
    assert outcome.detail.startswith("given up after 1h; last: webhook:ops: HTTP 503")
    stored = row(store, the_order)
    assert (stored.state, stored.attempts, stored.detail) == ("dead", outcome.attempts,
                                                               outcome.detail)  # fmt: skip
    assert dead_count() == dead_before + 1


async def test_a_redirect_is_dead_at_once_without_a_retry(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(301)
    the_order = order(timedelta(hours=1))
    dead_before = dead_count()
    async with delivery_worker(dev_env.client, task_queue, store, webhook(hook.url)):
        began = time.monotonic()
        outcome = await (await start(dev_env.client, task_queue, the_order)).result()
        took = time.monotonic() - began

    assert (outcome.state, outcome.attempts) == ("dead", 1)
    assert outcome.detail is not None and "HTTP 301" in outcome.detail
    assert "redirects are not followed" in outcome.detail
    assert len(hook.received) == 1
    assert took < 30  # not the hour of the window
    assert row(store, the_order).state == "dead"
    assert dead_count() == dead_before + 1


async def test_a_closed_port_is_dead_after_the_window(
    dev_env: WorkflowEnvironment, task_queue: str, store: Store
) -> None:
    the_order = order(timedelta(seconds=3))
    async with delivery_worker(
        dev_env.client, task_queue, store, webhook(f"http://127.0.0.1:{free_port()}/hook")
    ):
        began = time.monotonic()
        outcome = await (await start(dev_env.client, task_queue, the_order)).result()
        took = time.monotonic() - began

    assert outcome.state == "dead"
    assert outcome.detail is not None and "given up after 3s" in outcome.detail
    assert "ConnectError" in outcome.detail
    assert outcome.attempts == 2  # at 0 s and 2 s; the next, at 6 s, would be past the window
    assert 2 <= took < 20
    assert row(store, the_order).state == "dead"


async def test_a_receiver_that_never_answers_is_dead_after_the_window(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(200, hang=True)  # takes the request, never answers (within 10 s)
    the_order = order(timedelta(seconds=2))
    async with delivery_worker(dev_env.client, task_queue, store, webhook(hook.url)):
        began = time.monotonic()
        outcome = await (await start(dev_env.client, task_queue, the_order)).result()
        took = time.monotonic() - began

    assert outcome.state == "dead"
    assert outcome.detail is not None and outcome.detail.startswith("given up after 2s")
    assert 2 <= took < 9  # the window, not the 10 s of the attempt's own HTTP timeout
    assert len(hook.received) == 1
    assert row(store, the_order).state == "dead"


async def test_a_dead_delivery_lands_on_its_running_tickets_timeline(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(308)
    notifications = webhook(hook.url)
    async with ticket_worker(time_env.client, task_queue, store, notifications):
        ticket = await open_ticket(time_env.client, task_queue, standard_policy)
        the_order = order(timedelta(hours=1), ticket_workflow_id=ticket.id)
        outcome = await (await start(time_env.client, task_queue, the_order)).result()
        state = await state_of(ticket)

    assert outcome.state == "dead"
    failed = [e for e in state.timeline if e.kind == "delivery_failed"]
    assert len(failed) == 1
    assert failed[0].detail["target"] == "webhook:ops"
    assert "HTTP 308" in str(failed[0].detail)


async def test_a_dead_delivery_of_a_ticket_that_is_gone_still_ends_dead(
    time_env: WorkflowEnvironment,
    task_queue: str,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(301)
    the_order = order(timedelta(hours=1), ticket_workflow_id="ticket-never-opened")
    async with delivery_worker(time_env.client, task_queue, store, webhook(hook.url)):
        outcome = await (await start(time_env.client, task_queue, the_order)).result()

    assert outcome.state == "dead"
    assert row(store, the_order).state == "dead"


async def test_a_store_outage_delays_the_record_never_the_delivery(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(204)
    the_order = order(timedelta(hours=1))
    delivered_before = DELIVERIES.labels("delivered")._value.get()
    table = DeliveryRow.__table__
    table.drop(store.engine)  # every write fails, and is retried, until it is back
    async with delivery_worker(dev_env.client, task_queue, store, webhook(hook.url)):
        handle = await start(dev_env.client, task_queue, the_order)
        for _ in range(100):
            if hook.received:
                break
            await asyncio.sleep(0.1)
        assert len(hook.received) == 1  # delivered within seconds, the store still down
        await asyncio.sleep(1)
        assert (await handle.describe()).status.name == "RUNNING"  # its record waits
        table.create(store.engine)
        outcome = await asyncio.wait_for(handle.result(), timeout=60)

    assert (outcome.state, outcome.attempts) == ("delivered", 1)
    stored = row(store, the_order)
    assert (stored.state, stored.attempts, stored.detail) == ("delivered", 1, "HTTP 204 No Content")
    assert DELIVERIES.labels("delivered")._value.get() == delivered_before + 1
