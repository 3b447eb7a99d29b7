"""The whole lifecycle on the time-skipping server: pause, priority, reopen, warnings, chains."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from sla.actions import ChangeTicket, Comment, Pause, Reopen, Resolve, Respond, Resume
from sla.clock import ClockState
from sla.policy import EscalationLevel, PolicySnapshot
from sla.priorities import Priority
from sla.ticket import TicketStatus
from store import Store
from tests.support.workflows import act, open_ticket, signal, state_of, ticket_worker


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store.sqlite3")


@pytest.fixture
def chained_policy(standard_policy: PolicySnapshot) -> PolicySnapshot:
    chain = [
        EscalationLevel(after=timedelta(0), notify=["team-lead"]),
        EscalationLevel(after=timedelta(minutes=30), notify=["support-manager"]),
        EscalationLevel(after=timedelta(hours=2), notify=["director"]),
    ]
    return standard_policy.model_copy(update={"escalation": chain})


async def test_pause_stops_the_clocks_and_resume_moves_due_times_by_the_paused_time(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        opened = await state_of(handle)
        await time_env.sleep(timedelta(minutes=5))
        paused = await act(handle, Pause(reason="need logs"))
        # Three hours waiting on the customer: far past both P1 targets, yet no breach.
        await time_env.sleep(timedelta(hours=3))
        still = await state_of(handle)
        resumed = await act(handle, Resume())

    assert paused.status is TicketStatus.WAITING_ON_CUSTOMER
    assert paused.response.due_at is None and paused.resolution.due_at is None
    assert still.response.state is ClockState.PAUSED and not still.ever_breached
    assert store.events(opened.ticket_id) == []
    assert resumed.status is TicketStatus.OPEN
    assert resumed.response.due_at is not None and opened.response.due_at is not None
    paused_for = resumed.updated_at - paused.updated_at
    assert resumed.response.due_at == opened.response.due_at + paused_for
    assert resumed.resolution.due_at == opened.resolution.due_at + paused_for  # type: ignore[operator]


async def test_pausing_twice_or_resuming_a_running_ticket_is_refused(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        with pytest.raises(WorkflowUpdateFailedError) as running:
            await act(handle, Resume())
        await act(handle, Pause(reason="logs"))
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await act(handle, Pause(reason="logs"))

    assert "not waiting on the customer" in str(running.value.cause)
    assert "already waiting on the customer" in str(twice.value.cause)


async def test_priority_change_keeps_paused_time_out_of_the_elapsed_time(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    """P3 -> P1 after 10 min running and 2 h paused: 10 min elapsed, 5 min left of P1's 15."""
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy, Priority.P3)
        await time_env.sleep(timedelta(minutes=10))
        await act(handle, Pause(reason="logs"))
        await time_env.sleep(timedelta(hours=2))
        resumed = await act(handle, Resume())
        changed = await act(handle, ChangeTicket(priority=Priority.P1, actor="lead"))

    assert changed.priority is Priority.P1
    assert changed.response.state is ClockState.RUNNING
    assert changed.response.target == timedelta(minutes=15)
    assert changed.response.due_at is not None
    left = changed.response.due_at - changed.updated_at
    assert timedelta(minutes=4) < left <= timedelta(minutes=5)
    assert resumed.response.elapsed <= timedelta(minutes=10, seconds=1)
    kinds = [e.kind for e in changed.timeline]
    assert kinds[-1] == "priority_changed"
    assert changed.timeline[-1].detail == {"previous": "P3", "to": "P1"}


async def test_priority_change_past_the_new_target_breaches_at_once_with_a_penalty(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy, Priority.P3)
        await time_env.sleep(timedelta(minutes=30))
        changed = await act(handle, ChangeTicket(priority=Priority.P1))
        await time_env.sleep(timedelta(seconds=1))
        state = await state_of(handle)

    assert changed.response.state is ClockState.BREACHED
    assert changed.response.breached_at == changed.updated_at
    assert state.escalation_level == 1
    kinds = sorted(e["kind"] for e in store.events(state.ticket_id))
    assert kinds == ["escalation", "penalty"]


async def test_reopen_starts_a_new_resolution_cycle_and_keeps_the_old_one(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        await act(handle, Respond(agent_id="a"))
        await time_env.sleep(timedelta(hours=3))  # resolution breached
        await act(handle, Resolve(agent_id="a"))
        reopened = await act(handle, Reopen(reason="again"))
        await time_env.sleep(timedelta(hours=1))
        state = await state_of(handle)

    assert reopened.status is TicketStatus.RESPONDED
    assert reopened.resolution.cycle == 2
    assert reopened.resolution.state is ClockState.RUNNING
    assert reopened.resolution.due_at == reopened.updated_at + timedelta(hours=2)
    [earlier] = reopened.earlier_resolutions
    assert (earlier.cycle, earlier.state) == (1, ClockState.BREACHED)
    assert state.ever_breached
    assert state.resolution.state is ClockState.RUNNING  # 1 h into a fresh 2 h target


async def test_closed_ticket_cannot_be_reopened(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        with pytest.raises(WorkflowUpdateFailedError) as open_one:
            await act(handle, Reopen())
        await act(handle, Resolve(agent_id="a"))
        # auto_close_after (7 days) closes it by itself.
        final = await handle.result()

    assert "not resolved" in str(open_one.value.cause)
    assert final.status is TicketStatus.CLOSED
    assert final.closed_at == final.resolved_at + timedelta(days=7)  # type: ignore[operator]
    assert final.timeline[-1].kind == "closed"
    assert final.timeline[-1].detail == {"automatic": True}


async def test_warnings_fire_once_per_fraction_and_cycle(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    policy = standard_policy.model_copy(update={"warn_at": [0.5, 0.75]})
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await time_env.sleep(timedelta(minutes=13))
        await signal(handle, Comment(author="a", body="nudge"))
        await time_env.sleep(timedelta(minutes=1))
        state = await state_of(handle)

    warnings = [e for e in store.events(state.ticket_id) if e["kind"] == "warning"]
    assert sorted(w["fraction"] for w in warnings) == [0.5, 0.75]
    assert {w["metric"] for w in warnings} == {"response"}
    assert state.response.warned_fractions == [0.5, 0.75]
    assert state.response.state is ClockState.RUNNING


async def test_every_escalation_level_fires_until_the_clock_is_met(
    time_env: WorkflowEnvironment, task_queue: str, chained_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, chained_policy)
        await time_env.sleep(timedelta(minutes=50))  # response breached at 15, level 2 at 45
        await act(handle, Respond(agent_id="a"))
        await time_env.sleep(timedelta(hours=5))  # resolution breached at 2 h; all 3 levels
        state = await state_of(handle)

    by_metric = [(e.metric.value, e.level, e.notify) for e in state.escalations]
    assert by_metric == [
        ("response", 1, ["team-lead"]),
        ("response", 2, ["support-manager"]),
        ("resolution", 1, ["team-lead"]),
        ("resolution", 2, ["support-manager"]),
        ("resolution", 3, ["director"]),
    ]
    created = state.created_at
    assert [e.at - created for e in state.escalations] == [
        timedelta(minutes=15),
        timedelta(minutes=45),
        timedelta(hours=2),
        timedelta(hours=2, minutes=30),
        timedelta(hours=4),
    ]
    assert state.escalation_level == 3
    escalations = [e for e in store.events(state.ticket_id) if e["kind"] == "escalation"]
    assert len(escalations) == 5


async def test_assignment_and_comments_are_in_state_and_timeline(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        await act(handle, ChangeTicket(assignee="bob", actor="lead"))
        state = await act(handle, Comment(author="bob", body="Checking the logs"))

    assert state.assignee == "bob"
    assert [(c.author, c.body) for c in state.comments] == [("bob", "Checking the logs")]
    assert [(e.kind, e.actor) for e in state.timeline] == [
        ("opened", "acme"),
        ("assigned", "lead"),
        ("commented", "bob"),
    ]
