"""A ticket with hundreds of comments continues as new, keeping all its state and history."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from sla.actions import Comment, Pause, Respond, Resume
from sla.policy import PolicySnapshot, Targets
from sla.priorities import Priority
from sla.state import COMMENTS_SHOWN, CommentsWanted
from sla.ticket import OpenTicket, Ticket
from sla.what_if import reproduces
from store import Store
from store.history import fetch_runs
from tests.support import postgres
from tests.support.http import wait_until
from tests.support.workflows import act, signal, state_of, ticket_worker
from workflows.search_attributes import ALL_KEYS, initial_search_attributes
from workflows.ticket import REVISION, TicketWorkflow


def _patch_markers(events: list[dict[str, Any]]) -> int:
    return sum(
        1
        for e in events
        if e.get("markerRecordedEventAttributes", {}).get("markerName") == "core_patch"
    )


@pytest.fixture(scope="module")
async def small_history_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after 60 events instead of thousands."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=60",
        ],
    )
    yield env
    await env.shutdown()


async def test_ticket_with_hundreds_of_comments_continues_as_new_with_all_its_state(
    small_history_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    tmp_path: Path,
) -> None:
    client = small_history_env.client
    # Started without naming a revision, as the stock CLI would: it runs the first.
    new = OpenTicket(
        ticket_id="chatty",
        customer_id="chatty-customer",
        title="Long thread",
        priority=Priority.P2,
        policy=standard_policy,
    )
    async with ticket_worker(client, task_queue, Store.at(tmp_path / "l.db")):
        handle = await client.start_workflow(
            TicketWorkflow.run,
            new,
            id="ticket-chatty",
            task_queue=task_queue,
            search_attributes=initial_search_attributes(Ticket.open(new, datetime.now(UTC)).state),
        )
        await act(handle, Respond(agent_id="alice"))
        for n in range(300):
            await signal(handle, Comment(author="bob", body=f"comment {n}"))
        state = await state_of(handle)
        every = await handle.query(TicketWorkflow.comments, CommentsWanted(size=1000))
        runs = await fetch_runs(client, "ticket-chatty")
        raw = [
            await client.get_workflow_handle("ticket-chatty", run_id=run_id).fetch_history()
            for run_id, _ in runs
        ]
        listed = []
        for _ in range(50):  # visibility is eventually consistent
            listed = [
                e async for e in client.list_workflows(
                    "CustomerId = 'chatty-customer' AND ExecutionStatus != 'ContinuedAsNew'"
                )
            ]  # fmt: skip
            if listed and listed[0].typed_search_attributes:
                break
            await asyncio.sleep(0.1)

    # How often depends on how the signals batch into tasks (a run ends only once it is
    # settled, with no signal waiting); more than one run is what the state must survive.
    assert len(runs) >= 2, "the ticket should have continued as new"
    assert [c.body for c in every.comments] == [f"comment {n}" for n in range(300)]
    assert state.comment_count == 300 and len(state.comments) == COMMENTS_SHOWN
    assert state.status.value == "responded"
    assert state.response.state.value == "met"
    assert [e.kind for e in state.timeline].count("commented") == 300
    assert state.timeline[0].kind == "opened"
    last_input = runs[-1][1][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    carried = last_input["carried"]
    assert carried["ticket_id"] == "chatty"
    assert datetime.fromisoformat(carried["created_at"]) == state.created_at
    assert sum(len(events) for _, events in runs) > 300
    assert all(events[0]["eventType"].endswith("STARTED") for _, events in runs)
    assert len(listed) == 1  # one ticket, however many runs
    assert last_input["revision"] == REVISION  # a continue-as-new starts the current revision
    assert all(_patch_markers(events) == 0 for _, events in runs)
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=pydantic_data_converter)
    for history in raw:
        assert isinstance(history, WorkflowHistory)
        await replayer.replay_workflow(history)


def recorded(read: Callable[[str], Any]) -> Callable[[], Awaitable[bool]]:
    """A store read of the test's ticket as a wait_until predicate (off the event loop)."""

    async def check() -> bool:
        return bool(await asyncio.to_thread(read, "patient"))

    return check


@pytest.mark.skipif(not postgres.installed(), reason="PostgreSQL server binaries not installed")
async def test_records_waiting_for_a_stopped_store_cross_continue_as_new_and_land_once(
    small_history_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot
) -> None:
    client = small_history_env.client
    fast = Targets(response=timedelta(seconds=3), resolution=timedelta(hours=1))
    policy = standard_policy.model_copy(
        update={"targets": {**standard_policy.targets, Priority.P1: fast}}
    )
    new = OpenTicket(
        ticket_id="patient",
        customer_id="patient-customer",
        title="Waits for the store",
        priority=Priority.P1,
        policy=policy,
        revision=REVISION,
    )
    with postgres.stoppable_postgres() as database:
        store = Store(database.url)
        db = store.engine
        async with ticket_worker(client, task_queue, store):
            handle = await client.start_workflow(
                TicketWorkflow.run,
                new,
                id="ticket-patient",
                task_queue=task_queue,
                search_attributes=initial_search_attributes(
                    Ticket.open(new, datetime.now(UTC)).state
                ),
            )
            await wait_until(recorded(store.ticket))  # the first record, on the fast path
            database.stop()

            async def breached() -> bool:  # the clock goes on without the store
                return (await state_of(handle)).response.breached_at is not None

            await wait_until(breached, seconds=60)
            state = await state_of(handle)
            assert state.escalation_level == 1
            # Journaled while the store is down, on either side of continue-as-new.
            await signal(handle, Pause(reason="waiting for logs"))
            for n in range(120):  # a history long enough to continue as new meanwhile
                await signal(handle, Comment(author="bob", body=f"comment {n}"))
            await signal(handle, Resume())
            runs = await fetch_runs(client, "ticket-patient")
            assert len(runs) >= 2, "the ticket should have continued as new"
            carried = [
                events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
                for _, events in runs[1:]
            ]
            assert any(c.get("pending") for c in carried), "what waits crosses continue-as-new"

            database.start()
            await wait_until(recorded(lambda t: len(store.events(t)) >= 3), seconds=120)
            await wait_until(
                recorded(lambda t: (row := store.ticket(t)) and row.response_state == "breached")
            )
            await wait_until(recorded(lambda t: (row := store.ticket(t)) and row.journaled == 2))
            events = store.events("patient")
            window = (state.created_at - timedelta(days=1), state.created_at + timedelta(days=1))
            [journaled], _ = store.journaled_tickets(*window)
            await handle.terminate("test over")
        db.dispose()

    kinds = sorted(e["kind"] for e in events)
    assert kinds == ["escalation", "penalty", "warning"], kinds  # each once, by key
    # The journal too: the opening and each action once, numbered across the runs.
    assert [(e.seq, e.kind) for e in journaled.entries] == [(0, "pause"), (1, "resume")]
    assert reproduces(journaled)
    for kind in ("escalation", "penalty"):  # recorded late, each at its own time
        at = next(e for e in events if e["kind"] == kind)["at"]
        assert pydantic.TypeAdapter(datetime).validate_python(at) == state.response.breached_at
