"""Revisions: what a ticket's workflow tasks cost under the current revision, and how a
worker treats a ticket started under a revision it does not know (docs/versioning.md).

A ticket pays no patch marker and no redundant search-attribute upsert, and records a
breach's effects and outcome in one local activity.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from sla.actions import ACTIONS, Respond
from sla.policy import PolicySnapshot
from sla.priorities import Priority
from sla.ticket import Ticket
from store import Store
from tests.support.workflows import act, new_ticket, open_ticket, state_of, ticket_worker
from workflows.search_attributes import initial_search_attributes
from workflows.ticket import REVISION, TicketWorkflow


def tasks(history: WorkflowHistory) -> list[list[str]]:
    """The commands each completed workflow task produced, as short names: event types,
    `patch` for a patch marker and the activity type for a local activity's marker."""
    completed: list[list[str]] = []
    current: list[str] | None = None
    for event in history.events:
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        if kind == "WORKFLOW_TASK_COMPLETED":
            current = []
            completed.append(current)
        elif kind in ("WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED"):
            current = None
        elif current is not None:
            current.append(_name(event, kind))
    return completed


def commands_of(history: WorkflowHistory) -> list[str]:
    return [command for task in tasks(history) for command in task]


def _name(event: HistoryEvent, kind: str) -> str:
    if kind != "MARKER_RECORDED":
        return kind
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name == "core_patch":
        return "patch"
    data = json.loads(attributes.details["data"].payloads[0].data)
    return f"local:{data['activity_type']}"


async def test_a_new_ticket_first_task_only_records_it_and_starts_its_timer(
    dev_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    new = new_ticket(standard_policy, priority=Priority.P2, opened_at=datetime.now(UTC))
    state = Ticket.open(new, new.opened_at or datetime.now(UTC)).state
    async with ticket_worker(dev_env.client, task_queue, Store.at(tmp_path / "l.db")):
        handle = await dev_env.client.start_workflow(
            TicketWorkflow.run,
            new,
            id=f"ticket-{new.ticket_id}",
            task_queue=task_queue,
            search_attributes=initial_search_attributes(state),
        )
        # Polled, not queried: a query that races a task still waiting on its local activity
        # makes the SDK complete that task early, empty, and carry on in a second one.
        for _ in range(100):
            history = await handle.fetch_history()
            if "TIMER_STARTED" in commands_of(history):
                break
            await asyncio.sleep(0.1)
        await handle.terminate("test over")

    # The start indexed it already: no upsert, and no patch marker with its own upsert.
    assert tasks(history)[0] == ["local:record_changes", "TIMER_STARTED"]


async def test_a_breach_costs_one_task_with_one_local_activity(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    store = Store.at(tmp_path / "l.db")
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy, Priority.P1)
        await time_env.sleep(timedelta(minutes=16))  # P1 response target: 15 min
        state = await state_of(handle)
        history = await handle.fetch_history()
        ticket_id = state.ticket_id

    assert state.response.breached_at is not None
    breach = next(t for t in tasks(history) if "local:record_changes" in t and len(t) > 2)
    assert [c for c in breach if c.startswith("local:")] == ["local:record_changes"]
    assert "patch" not in commands_of(history)
    # Escalation, penalty and outcome all landed (and the warning, from an earlier task).
    kinds = sorted((e["kind"], e["metric"]) for e in store.events(ticket_id))
    assert kinds == [("escalation", "response"), ("penalty", "response"), ("warning", "response")]
    row = store.ticket(ticket_id)
    assert row is not None and row.breaches == 1


async def test_a_ticket_of_a_newer_revision_waits_for_a_worker_that_knows_it(
    dev_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    """Started by a newer API than this worker: its first task fails (and is retried) rather
    than run the ticket under commands it was not started for."""
    new = new_ticket(standard_policy, revision=REVISION + 1)
    async with ticket_worker(dev_env.client, task_queue, Store.at(tmp_path / "l.db")):
        handle = await dev_env.client.start_workflow(
            TicketWorkflow.run, new, id=f"ticket-{new.ticket_id}", task_queue=task_queue
        )
        kinds: list[str] = []
        for _ in range(100):
            history = await handle.fetch_history()
            kinds = [EventType.Name(e.event_type) for e in history.events]
            if "EVENT_TYPE_WORKFLOW_TASK_FAILED" in kinds:
                break
            await asyncio.sleep(0.1)
        description = await handle.describe()
        await handle.terminate("test over")

    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" in kinds
    assert "EVENT_TYPE_WORKFLOW_TASK_COMPLETED" not in kinds  # no command ran
    assert description.status is not None and description.status.name == "RUNNING"


async def test_every_action_of_the_registry_is_an_update_and_a_signal_by_its_name(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    """The names saved histories and the stock CLI use; the Web UI lists them from this."""
    async with ticket_worker(time_env.client, task_queue, Store.at(tmp_path / "l.db")):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)

    names = sorted(kind.name for kind in ACTIONS)
    assert sorted(u.name for u in metadata.definition.update_definitions) == names
    # Plus the one a Delivery workflow sends when it gives up on an event.
    signals = sorted([*names, "delivery_failed"])
    assert sorted(s.name for s in metadata.definition.signal_definitions) == signals
    assert "state" in [q.name for q in metadata.definition.query_definitions]


async def test_a_respond_is_its_update_alone_and_its_record_rides_the_alarm(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    """The respond moves the next SLA moment later (to the resolution's): its task is the
    update alone, no timer cancelled or started, no store write before the answer. The
    alarm set at the opening rings early, once: that task records the respond's outcome and
    sets the next alarm; the resolution still breaches on time."""
    store = Store.at(tmp_path / "l.db")
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy, Priority.P1)
        responded = await act(handle, Respond(agent_id="alice"))
        rang = len(tasks(await handle.fetch_history()))
        before_ring = store.ticket(responded.ticket_id)
        await time_env.sleep(timedelta(hours=2, minutes=1))  # P1 resolution target: 2 h
        state = await state_of(handle)
        history = await handle.fetch_history()
        after_ring = store.ticket(responded.ticket_id)

    # The commands of each task (a timer's firing is the event that wakes the next).
    sent = [[c for c in task if c != "TIMER_FIRED"] for task in tasks(history)]
    respond = next(t for t in sent if "WORKFLOW_EXECUTION_UPDATE_ACCEPTED" in t)
    # (The time-skipping server keeps no search attributes: no upsert here.)
    assert respond == ["WORKFLOW_EXECUTION_UPDATE_ACCEPTED", "WORKFLOW_EXECUTION_UPDATE_COMPLETED"]
    assert "TIMER_CANCELED" not in commands_of(history)
    # The early ring: the respond's record, and the next alarm.
    assert sent[rang] == ["local:record_changes", "TIMER_STARTED"]
    assert before_ring is not None and before_ring.first_response_at is None
    assert (
        after_ring is not None and after_ring.first_response_at == responded.response.completed_at
    )
    assert state.response.breached_at is None
    assert state.resolution.breached_at == state.resolution.due_at
