"""The ticket's journal on the time-skipping server: every action that applied lands once in
the store with its workflow time, and replays to the outcome the ticket recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from sla.actions import (
    ChangeTicket,
    Close,
    Comment,
    Pause,
    Reopen,
    Resolve,
    Respond,
    Resume,
)
from sla.policy import PolicySnapshot
from sla.priorities import Priority
from sla.what_if import reproduces
from store import Store
from tests.support.workflows import act, open_ticket, signal, ticket_worker


async def test_every_applied_action_is_journaled_once_and_replays_to_the_outcome(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, standard_policy)
        await time_env.sleep(timedelta(minutes=20))  # the response breaches at 15
        await act(handle, Respond(agent_id="alice", message="looking", request_id="r-1"))
        await act(handle, Respond(agent_id="alice", request_id="r-1"))  # a retry: no entry
        await act(handle, Pause(reason="waiting for logs"))
        await signal(handle, Pause(reason="again"))  # refused quietly: no entry
        await time_env.sleep(timedelta(hours=3))
        await act(handle, Resume())
        await act(handle, ChangeTicket(priority=Priority.P2))
        await act(handle, Comment(author="alice", body="not journaled"))
        with pytest.raises(WorkflowUpdateFailedError):
            await act(handle, Close())  # refused by the validator: never reaches history
        await act(handle, Resolve(agent_id="alice", resolution="replaced the disk"))
        await act(handle, Reopen(reason="it broke again"))
        await time_env.sleep(timedelta(hours=9))  # P2 resolution: 8h, breached
        await act(handle, Resolve(agent_id="bob"))
        final = await act(handle, Close())
        await handle.result()

    window = (final.created_at - timedelta(days=1), final.created_at + timedelta(days=1))
    [kept], missing = store.journaled_tickets(*window)
    assert missing == []
    assert [e.kind for e in kept.entries] == [
        "respond", "pause", "resume", "change", "resolve", "reopen", "resolve", "close",
    ]  # fmt: skip
    assert [e.seq for e in kept.entries] == list(range(8))
    times = [e.at for e in kept.entries]
    assert times == sorted(times)
    assert timedelta(minutes=20) <= times[0] - final.created_at < timedelta(minutes=21)
    assert kept.entries[0].payload == {"agent_id": "alice"}  # no message, no request id
    assert kept.opening.policy.name == standard_policy.name
    assert kept.opening.opened_at == final.created_at
    assert (kept.outcome.status, kept.outcome.breaches) == ("closed", 2)
    assert reproduces(kept)
