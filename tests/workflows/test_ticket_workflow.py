"""TicketWorkflow on the time-skipping server: every SLA path of a ticket's life."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from sla.actions import TEXT_LIMIT, Close, Comment, Resolve, Respond
from sla.clock import ClockState
from sla.policy import PolicySnapshot
from sla.state import COMMENT_TEXT_LIMIT, COMMENTS_SHOWN, CommentsWanted
from sla.ticket import TicketStatus, encoded_size
from store import Store
from tests.support.workflows import act, new_ticket, open_ticket, signal, state_of, ticket_worker
from workflows.ticket import TicketWorkflow


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store.sqlite3")


async def test_ticket_handled_in_time_meets_both_clocks_and_escalates_nothing(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        await time_env.sleep(timedelta(minutes=5))
        state = await act(handle, Respond(agent_id="alice"))
        assert state.status is TicketStatus.RESPONDED
        assert state.response.state is ClockState.MET
        await time_env.sleep(timedelta(minutes=30))
        await act(handle, Resolve(agent_id="alice"))
        closed = await act(handle, Close())
        final = await handle.result()

    assert closed.status is TicketStatus.CLOSED
    assert final.response.state is ClockState.MET
    assert final.resolution.state is ClockState.MET
    assert final.escalations == []
    assert final.escalation_level == 0
    assert store.events(final.ticket_id) == []


async def test_response_deadline_breaches_at_its_due_time_and_escalates_with_a_penalty(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        await time_env.sleep(timedelta(minutes=16))
        state = await state_of(handle)

    assert state.response.state is ClockState.BREACHED
    assert state.response.breached_at == state.created_at + timedelta(minutes=15)
    assert state.resolution.state is ClockState.RUNNING
    assert state.escalation_level == 1
    assert [(e.metric.value, e.level) for e in state.escalations] == [("response", 1)]
    kinds = sorted((e["kind"], e["metric"]) for e in store.events(state.ticket_id))
    assert kinds == [("escalation", "response"), ("penalty", "response"), ("warning", "response")]


async def test_resolution_deadline_breaches_after_a_timely_response(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        await act(handle, Respond(agent_id="alice"))
        await time_env.sleep(timedelta(hours=2, minutes=1))
        state = await state_of(handle)
        late = await act(handle, Resolve(agent_id="bob"))

    assert state.response.state is ClockState.MET
    assert state.resolution.state is ClockState.BREACHED
    assert state.resolution.breached_at == state.created_at + timedelta(hours=2)
    assert state.ever_breached
    # A breached clock completed later stays breached and says when it was completed.
    assert late.resolution.state is ClockState.BREACHED
    assert late.resolution.completed_at is not None
    penalties = [e for e in store.events(state.ticket_id) if e["kind"] == "penalty"]
    assert [p["metric"] for p in penalties] == ["resolution"]


async def test_penalty_carries_the_policy_credit_percentage(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    from sla.policy import CreditRules

    policy = standard_policy.model_copy(
        update={"credits": CreditRules.model_validate({"response_breach": {"P1": "2%"}})}
    )
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await time_env.sleep(timedelta(minutes=20))
        state = await state_of(handle)

    assert [(c.kind, c.metric.value, str(c.amount), c.unit) for c in state.credits] == [
        ("penalty", "response", "2", "percent")
    ]
    penalty = next(e for e in store.events(state.ticket_id) if e["kind"] == "penalty")
    assert penalty["percent"] == "2"


async def test_actions_after_close_are_rejected(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        with pytest.raises(WorkflowUpdateFailedError) as not_yet:
            await act(handle, Close())
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        final = await handle.result()
        with pytest.raises(RPCError):
            await act(handle, Respond(agent_id="alice"))
        after = await state_of(handle)

    assert "resolve it first" in str(not_yet.value.cause)
    assert final.status is TicketStatus.CLOSED
    assert after.status is TicketStatus.CLOSED
    assert [e.kind for e in after.timeline] == ["opened", "resolved", "closed"]


async def test_duplicate_signals_change_the_ticket_once(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        for _ in range(2):
            await signal(handle, Respond(agent_id="a", request_id="r1"))
            await signal(handle, Comment(author="a", body="hi", request_id="c1"))
            await signal(handle, Resolve(agent_id="a"))
        state = await state_of(handle)

    assert state.status is TicketStatus.RESOLVED
    assert [e.kind for e in state.timeline] == ["opened", "responded", "commented", "resolved"]
    assert len(state.comments) == 1


async def test_signals_sent_before_the_first_task_are_applied_in_the_order_they_came(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    """Signals already waiting in the ticket's first workflow task (sent before any worker ran
    it) are applied in the order they came, whatever their kinds' order in the registry."""
    new = new_ticket(standard_policy)
    handle = await time_env.client.start_workflow(
        TicketWorkflow.run, new, id=f"ticket-{new.ticket_id}", task_queue=task_queue
    )
    try:
        await signal(handle, Comment(author="bob", body="first!"))
        await signal(handle, Respond(agent_id="alice"))
        async with ticket_worker(time_env.client, task_queue, store):
            state = await state_of(handle)
            await handle.terminate("test over")
    finally:
        with contextlib.suppress(RPCError):
            await handle.terminate("test over")

    assert [c.body for c in state.comments] == ["first!"]
    assert [e.kind for e in state.timeline] == ["opened", "commented", "responded"]


async def test_at_its_comment_caps_a_ticket_refuses_comments_answers_small_and_keeps_working(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    """Filled to 1 MiB of comment text by the longest comments a client may send: one more is
    refused with the reason, every answer stays far below Temporal's 2 MB payload limit, and
    the comments query pages through all of them."""
    body = "x" * TEXT_LIMIT
    fits = COMMENT_TEXT_LIMIT // encoded_size(body)
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        for n in range(fits):
            await signal(handle, Comment(author="bob", body=body, request_id=f"c{n}"))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, Comment(author="bob", body=body))
        answer = await act(handle, Respond(agent_id="alice"))
        pages = [
            await handle.query(TicketWorkflow.comments, CommentsWanted(start=start, size=40))
            for start in range(0, fits, 40)
        ]
        await act(handle, Resolve(agent_id="alice"))
        final = await act(handle, Close())

    assert "1 MiB of text" in str(refused.value.cause)
    assert answer.comment_count == fits and len(answer.comments) == COMMENTS_SHOWN
    assert len(answer.model_dump_json()) < 700_000  # the last 50 of 10,000 characters each
    assert sum(len(p.comments) for p in pages) == fits and pages[0].total == fits
    assert final.status is TicketStatus.CLOSED
