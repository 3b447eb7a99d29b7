"""Deliveries from the ticket workflow (time-skipping): a rejected one lands on the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from sla.actions import Resolve, Respond
from sla.clock import ClockState
from sla.notifications import NotificationsConfig
from sla.policy import PolicySnapshot
from store import Store
from tests.support.receiver import Receiver
from tests.support.workflows import act, open_ticket, state_of, ticket_worker


def event_types(hook: Receiver) -> list[str]:
    return [r.headers["x-slaflow-event-type"] for r in hook.received]


async def test_a_rejected_delivery_stops_after_five_attempts_and_shows_on_the_timeline(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    tmp_path: Path,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(404)  # the hook was removed: a rejection, not an outage
    notifications = NotificationsConfig.model_validate(
        {"webhooks": [{"name": "ops", "url": hook.url, "secret": "x", "events": ["breach"]}]}
    )
    policy = standard_policy.model_copy(update={"routing": notifications.routing()})
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store, notifications):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await time_env.sleep(timedelta(minutes=20))  # breach at 15 min, then five attempts
        state = await state_of(handle)

    assert state.response.state is ClockState.BREACHED  # the timers did not wait
    failed = [e for e in state.timeline if e.kind == "delivery_failed"]
    assert [(e.detail["event"], e.detail["target"]) for e in failed] == [("breach", "webhook:ops")]
    assert event_types(hook) == ["breach"] * 5


async def test_every_event_of_a_breached_and_resolved_ticket_is_delivered_once(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    tmp_path: Path,
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(204)
    events = ["warning", "breach", "escalation", "resolved"]  # no credits in the policy
    notifications = NotificationsConfig.model_validate(
        {"webhooks": [{"name": "ops", "url": hook.url, "secret": "x", "events": events}]}
    )
    policy = standard_policy.model_copy(update={"routing": notifications.routing()})
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store, notifications):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await time_env.sleep(timedelta(minutes=16))  # P1: warned at 75%, breached at 15 min
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Resolve(agent_id="alice"))
        for _ in range(50):
            if len(hook.received) >= len(events):
                break
            await time_env.sleep(timedelta(seconds=10))

    assert sorted(event_types(hook)) == sorted(events)
