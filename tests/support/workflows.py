"""Helpers for workflow tests: a real worker on a unique task queue, and ticket starters."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.archive import ArchiveActivities
from activities.handoff import HandOffActivities
from sla.actions import Action, kind_of
from sla.notifications import (
    DeliveryOrder,
    NotificationsConfig,
    delivery_id,
    delivery_workflow_id,
)
from sla.policy import PolicySnapshot, SlaConfig
from sla.priorities import Priority
from sla.schedules import ArchiveRequest, archive_workflow_id
from sla.ticket import OpenTicket, Ticket, TicketState
from store import Store
from store.archive import Archive
from worker import delivery_activities, repair_activities, ticket_activities
from workflows.archive import ArchiveTicketWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.repairs import RepairPolicyWorkflow
from workflows.search_attributes import initial_search_attributes
from workflows.ticket import REVISION, TicketWorkflow

# Tickets opened per task queue, so the worker context can clean up after its test.
_opened: dict[str, list[WorkflowHandle[TicketWorkflow, TicketState]]] = {}
# The workflows tickets handed off per task queue (archiving, deliveries), for the same.
_handed_off: dict[str, list[str]] = {}


@asynccontextmanager
async def ticket_worker(
    client: Client,
    task_queue: str,
    store: Store,
    notifications: NotificationsConfig | None = None,
    config: Callable[[], SlaConfig] | None = None,
) -> AsyncIterator[Worker]:
    """A worker for the test; tickets it leaves open are terminated when it stops.

    On the time-skipping server a ticket left running without a worker holds a workflow task
    open forever, and that stalls time (and updates) for every later test. With `config` (the
    config in force), it runs bulk repairs too.
    """
    repairs = repair_activities(client, config) if config is not None else []
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, ArchiveTicketWorkflow, DeliveryWorkflow, RepairPolicyWorkflow],
        activities=[
            *ticket_activities(store),
            *repairs,
            *_archiving(client),
            *delivery_activities(store, notifications or NotificationsConfig()),
            _TrackedHandOff(client).start_deliveries,
            _TrackedHandOff(client).start_archiving_run,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=2),
    ) as worker:
        try:
            yield worker
        finally:
            for handle in _opened.pop(task_queue, []):
                await _stop(handle)
            await _stop_handed_off(client, task_queue)


def _archiving(client: Client) -> list[Any]:
    archive = ArchiveActivities(client, Archive(Path(tempfile.mkdtemp())))
    return [archive.archive_ticket]


class _TrackedHandOff(HandOffActivities):
    """The real hand-offs, remembering what they started per task queue for the cleanup."""

    @activity.defn(name="start_deliveries")
    async def start_deliveries(self, orders: list[DeliveryOrder]) -> int:
        ids = [delivery_workflow_id(delivery_id(order.delivery)) for order in orders]
        _handed_off.setdefault(activity.info().task_queue, []).extend(ids)
        return await super().start_deliveries(orders)

    @activity.defn(name="start_archiving_run")
    async def start_archiving_run(self, request: ArchiveRequest) -> None:
        archive_id = archive_workflow_id(request.workflow_id, request.run_id)
        _handed_off.setdefault(activity.info().task_queue, []).append(archive_id)
        await super().start_archiving_run(request)


async def _stop_handed_off(client: Client, task_queue: str) -> None:
    """What tickets handed off (a run's archiving, deliveries) must end too, or it stalls
    time: archiving gets a moment to finish (its run has ended), the rest is stopped."""
    for workflow_id in dict.fromkeys(_handed_off.pop(task_queue, [])):
        with contextlib.suppress(RPCError):
            handle = client.get_workflow_handle(workflow_id)
            if workflow_id.startswith("archive-"):
                with contextlib.suppress(TimeoutError, WorkflowFailureError):
                    await asyncio.wait_for(handle.result(), timeout=10)
            await _stop(handle)


async def _stop(handle: WorkflowHandle[Any, Any]) -> None:
    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        await handle.terminate("test over")


def new_ticket(policy: PolicySnapshot, **fields: Any) -> OpenTicket:
    """A ticket's start input: acme's printer on fire, P1, a fresh id; `fields` change any."""
    values: dict[str, Any] = {
        "ticket_id": f"t-{uuid.uuid4().hex[:10]}",
        "customer_id": "acme",
        "title": "Printer on fire",
        "priority": Priority.P1,
        "policy": policy,
    }
    return OpenTicket(**(values | fields))


async def open_ticket(
    client: Client,
    task_queue: str,
    policy: PolicySnapshot,
    priority: Priority = Priority.P1,
    opened_at: datetime | None = None,
    revision: int = REVISION,
    indexed: bool = False,
    **fields: Any,
) -> WorkflowHandle[TicketWorkflow, TicketState]:
    """A ticket started as the API starts it; `indexed`, with its search attributes (a dev
    server's: the time-skipping one has none); `fields`, more of its start input."""
    new = new_ticket(policy, priority=priority, opened_at=opened_at, revision=revision, **fields)
    attributes = None
    if indexed:
        attributes = initial_search_attributes(Ticket.open(new, datetime.now(UTC)).state)
    handle = await client.start_workflow(
        TicketWorkflow.run,
        new,
        id=f"ticket-{new.ticket_id}",
        task_queue=task_queue,
        search_attributes=attributes,
    )
    _opened.setdefault(task_queue, []).append(handle)
    # The time-skipping server can lose an Update that races the first workflow task;
    # a query returns only once that task is done.
    await state_of(handle)
    return handle


async def state_of(handle: WorkflowHandle[TicketWorkflow, TicketState]) -> TicketState:
    return await handle.query(TicketWorkflow.state)


async def act(handle: WorkflowHandle[Any, Any], action: Action) -> TicketState:
    """The action as the Update of its kind (its Temporal name from the registry)."""
    state: TicketState = await handle.execute_update(
        kind_of(action).name, action, result_type=TicketState
    )
    return state


async def signal(handle: WorkflowHandle[Any, Any], action: Action) -> None:
    """The action as the Signal of its kind: not answered, and not refused."""
    await handle.signal(kind_of(action).name, action)
