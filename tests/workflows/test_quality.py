"""Quality in the ticket's own workflow, on the time-skipping server: the survey on resolve, the
follow-up after `follow_up_after` as a durable timer, ratings once per cycle inside the window,
a closed ticket that keeps its window open, and the resolution note a policy may require."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from sla.actions import Close, Rate, Reopen, Resolve, Respond
from sla.notifications import NotificationsConfig
from sla.policy import PolicySnapshot
from sla.quality import QualityPolicy
from sla.ticket import TicketStatus
from store import Store
from tests.support.receiver import Receiver
from tests.support.workflows import act, open_ticket, state_of, ticket_worker


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store.sqlite3")


def quality(**section: object) -> QualityPolicy:
    return QualityPolicy.model_validate(
        {"survey": True, "rating_window": "7d", "follow_up_after": "2d", **section}
    )


def routed(
    policy: PolicySnapshot, notifications: NotificationsConfig, **section: object
) -> PolicySnapshot:
    return policy.model_copy(
        update={"quality": quality(**section), "routing": notifications.routing()}
    )


def hooks(team: Receiver, customer: Receiver) -> NotificationsConfig:
    """The team's webhook hears follow-ups (as escalation level 1's audience); the customer's
    hears surveys (as the `customer` audience)."""
    return NotificationsConfig.model_validate(
        {
            "webhooks": [
                {"name": "team", "url": team.url, "secret": "s" * 16, "events": ["breach"]},
                {"name": "acme", "url": customer.url, "secret": "c" * 16, "events": ["rating"]},
            ],
            "audiences": {"team-lead": ["webhook:team"], "customer": ["webhook:acme"]},
        }
    )


async def received(hook: Receiver, kind: str, count: int = 1) -> list[dict[str, object]]:
    """The events of `kind` the receiver got, once `count` of them have arrived (deliveries run
    beside the ticket, in real time)."""
    deadline = time.monotonic() + 20
    while True:
        events = [r.json() for r in hook.received if r.json()["type"] == kind]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.1)


async def stored_ratings(store: Store, ticket_id: str, count: int) -> list[tuple[int, int]]:
    """The ratings in the ticket's store row, once `count` are there (the record of a change
    lands just after the Update has answered)."""
    deadline = time.monotonic() + 10
    while True:
        row = store.ticket(ticket_id)
        ratings = json.loads(row.ratings or "[]") if row else []
        if len(ratings) >= count or time.monotonic() > deadline:
            return [(r["cycle"], r["score"]) for r in ratings]
        await asyncio.sleep(0.1)


async def test_a_resolve_sends_the_survey_and_a_silent_customer_brings_one_follow_up(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    team, customer = receiver(200), receiver(200)
    notifications = hooks(team, customer)
    policy = routed(standard_policy, notifications)
    async with ticket_worker(time_env.client, task_queue, store, notifications):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await act(handle, Resolve(agent_id="alice", resolution="restarted the sync job"))
        surveys = await received(customer, "survey")
        await time_env.sleep(timedelta(days=2, minutes=1))
        state = await state_of(handle)
        follow_ups = await received(team, "follow_up")
        await time_env.sleep(timedelta(days=1))
        again = await received(team, "follow_up", count=2)

    [survey] = surveys
    assert survey["ticket_id"] == state.ticket_id
    data = survey["data"]
    assert isinstance(data, dict)
    assert (data["customer_id"], data["cycle"], data["resolution"]) == (
        state.customer_id, 1, "restarted the sync job"
    )  # fmt: skip
    assert [e["data"]["cycle"] for e in follow_ups] == [1]
    assert len(again) == 1  # once per cycle
    assert [e.kind for e in state.timeline][-2:] == ["surveyed", "followed_up"]
    assert state.timeline[-1].at == state.resolved_at + timedelta(days=2)  # type: ignore[operator]
    assert customer.received and all(r.json()["type"] != "follow_up" for r in customer.received)


async def test_a_rating_within_the_window_is_taken_once_per_cycle(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    policy = standard_policy.model_copy(update={"quality": quality(survey=False)})
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, policy)
        with pytest.raises(WorkflowUpdateFailedError) as before:
            await act(handle, Rate(score=5))
        await act(handle, Resolve(agent_id="alice", resolution="fixed"))
        rated = await act(handle, Rate(score=5, comment="quick", by="acme-portal"))
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await act(handle, Rate(score=4))
        await act(handle, Reopen(reason="it broke again"))
        await act(handle, Resolve(agent_id="alice", resolution="fixed for good"))
        second = await act(handle, Rate(score=1))

    assert "not resolved" in str(before.value.cause)
    assert "cycle 1 is rated already" in str(twice.value.cause)
    assert [(r.cycle, r.score, r.comment) for r in rated.ratings] == [(1, 5, "quick")]
    assert [(r.cycle, r.score) for r in second.ratings] == [(1, 5), (2, 1)]
    assert [e.kind for e in second.timeline].count("rated") == 2
    assert await stored_ratings(store, second.ticket_id, 2) == [(1, 5), (2, 1)]


async def test_a_closed_ticket_keeps_its_rating_window_then_ends(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    policy = standard_policy.model_copy(
        update={"quality": quality(survey=False, follow_up_after=None)}
    )
    async with ticket_worker(time_env.client, task_queue, store):
        late = await open_ticket(time_env.client, task_queue, policy)
        await act(late, Resolve(agent_id="alice", resolution="fixed"))
        await act(late, Close())
        kept = await open_ticket(time_env.client, task_queue, policy)
        await act(kept, Resolve(agent_id="alice", resolution="fixed"))
        await act(kept, Close())
        await time_env.sleep(timedelta(days=3))
        rated = await act(kept, Rate(score=4))  # closed, still inside its window
        ended = await kept.result()  # rated: nothing left to wait for
        await time_env.sleep(timedelta(days=5))
        final = await late.result()  # the window ran out: the run ends

    assert rated.status is TicketStatus.CLOSED and [r.score for r in rated.ratings] == [4]
    assert ended.ratings == rated.ratings
    assert final.ratings == [] and final.rating_closes_at is not None


async def test_a_rating_after_the_window_is_refused_with_when_it_closed(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    # Auto-close after 30 days: the ticket is still resolved, and running, past its window.
    policy = standard_policy.model_copy(
        update={"quality": quality(survey=False, follow_up_after=None, rating_window="1d"),
                "auto_close_after": timedelta(days=30)}
    )  # fmt: skip
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, policy)
        resolved = await act(handle, Resolve(agent_id="alice", resolution="fixed"))
        await time_env.sleep(timedelta(days=1, minutes=1))
        with pytest.raises(WorkflowUpdateFailedError) as late:
            await act(handle, Rate(score=5))

    assert resolved.rating_closes_at is not None
    assert f"the rating window closed at {resolved.rating_closes_at.isoformat()}" in str(
        late.value.cause
    )


async def test_a_policy_that_requires_the_note_refuses_a_resolve_without_one(
    time_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, store: Store
) -> None:
    policy = standard_policy.model_copy(
        update={
            "quality": quality(require_resolution_note=True, survey=False, follow_up_after=None)
        }
    )
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await act(handle, Respond(agent_id="alice"))
        with pytest.raises(WorkflowUpdateFailedError) as blank:
            await act(handle, Resolve(agent_id="alice", resolution="   "))
        resolved = await act(handle, Resolve(agent_id="alice", resolution="replaced the disk"))

    cause = blank.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ActionInvalid"
    assert "resolution note" in cause.message
    assert resolved.resolution_note == "replaced the disk" and resolved.responses == 1
