"""Event times on the time-skipping server (docs/api.md, "Event times"): a ticket opened and
answered at the times they happened elsewhere, its clocks started and stopped then, its
journal replaying to the same outcome."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from sla.actions import ActionInvalid, Close, PastAction, Resolve, Respond
from sla.clock import ClockState
from sla.policy import PolicySnapshot
from sla.what_if import why_not_reproduced
from store import Store
from tests.support.workflows import act, open_ticket, state_of, ticket_worker


async def test_a_ticket_opened_twenty_minutes_back_breaches_at_once_dated_right(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store):
        now = await time_env.get_current_time()
        handle = await open_ticket(
            time_env.client, task_queue, standard_policy, opened_at=now - timedelta(minutes=20)
        )
        state = await state_of(handle)  # the first task has run by the query's answer

    assert state.created_at == now - timedelta(minutes=20)
    assert state.response.state is ClockState.BREACHED
    assert state.response.breached_at == now - timedelta(minutes=5)  # P1: 15 min to respond
    assert [(e.metric.value, e.level, e.at) for e in state.escalations] == [
        ("response", 1, now - timedelta(minutes=5))
    ]
    penalties = [e for e in store.events(state.ticket_id) if e["kind"] == "penalty"]
    assert [p["at"] for p in penalties] == [now - timedelta(minutes=5)]


async def test_actions_dated_in_the_past_stop_the_clocks_then_and_replay_to_the_outcome(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        opened = (await state_of(handle)).created_at
        await time_env.sleep(timedelta(minutes=12))
        # Heard of at +12, answered at +5 in the source desk: met, five minutes in.
        answered = await act(handle, Respond(agent_id="alice", at=opened + timedelta(minutes=5)))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, Resolve(agent_id="alice", at=opened + timedelta(minutes=4)))
        resolved = await act(handle, Resolve(agent_id="alice", at=opened + timedelta(minutes=9)))
        final = await act(handle, Close())
        await handle.result()

    assert answered.response.state is ClockState.MET
    assert answered.response.completed_at == opened + timedelta(minutes=5)
    entry = next(e for e in answered.timeline if e.kind == "responded")
    assert entry.at == opened + timedelta(minutes=5)
    assert entry.detail["received_at"] >= (opened + timedelta(minutes=12)).isoformat()
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ActionInvalid.__name__
    assert "before the ticket's last recorded event" in cause.message
    assert resolved.resolution.completed_at == opened + timedelta(minutes=9)

    window = (final.created_at - timedelta(days=1), final.created_at + timedelta(days=1))
    [kept], _ = store.journaled_tickets(*window)
    assert [(e.kind, e.at - opened) for e in kept.entries][:2] == [
        ("respond", timedelta(minutes=5)),
        ("resolve", timedelta(minutes=9)),
    ]
    assert why_not_reproduced(kept) is None


async def test_a_backfilled_ticket_opens_with_its_past_and_keeps_the_verdicts_it_earned(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    """Opened five days back, answered in 5 min and resolved in 30: its past comes with the
    opening, so no deadline that passed since is checked before it (no race, no breach)."""
    store = Store.at(tmp_path / "store.sqlite3")
    now = await time_env.get_current_time()
    opened = now - timedelta(days=5)
    past = [
        PastAction.of(Respond(agent_id="alice", at=opened + timedelta(minutes=5))),
        PastAction.of(Resolve(agent_id="alice", at=opened + timedelta(minutes=30))),
    ]
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(
            time_env.client,
            task_queue,
            standard_policy,
            opened_at=opened,
            received_at=now,
            past=past,
        )
        state = await state_of(handle)
        await act(handle, Close())
        await handle.result()

    assert state.response.state is ClockState.MET and state.resolution.state is ClockState.MET
    assert state.resolved_at == opened + timedelta(minutes=30)
    assert state.escalations == [] and not state.ever_breached
    responded = next(e for e in state.timeline if e.kind == "responded")
    assert responded.detail["received_at"] == now.isoformat()
    [kept], _ = store.journaled_tickets(opened - timedelta(days=1), now)
    assert [e.kind for e in kept.entries][:2] == ["respond", "resolve"]
    assert why_not_reproduced(kept) is None
