"""On-call out through a real ticket workflow on the time-skipping server: a P1 ticket breaches
its response target, is answered, then resolved; Slack and Teams receivers get well-formed
messages for the breach and the resolution, and PagerDuty's incident for the ticket is
triggered, acknowledged and resolved (tests/support/services.py checks every body). And
PagerDuty's order: a trigger retried until after its ticket's resolve was dropped is followed
by the resolve again."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from sla.actions import Resolve, Respond
from sla.notifications import (
    Delivery,
    DeliveryOrder,
    Event,
    NotificationsConfig,
    delivery_id,
    delivery_workflow_id,
    event_id,
)
from sla.policy import PolicySnapshot
from store import Store
from store.deliveries import StoredDelivery, list_deliveries
from tests.support.receiver import Answer, Receiver
from tests.support.services import PagerDuty, Slack, Teams
from tests.support.workflows import act, open_ticket, ticket_worker
from worker import delivery_activities
from workflows.delivery import DeliveryWorkflow

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"
BASE = "https://slaflow.example.test"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store.sqlite3")


async def arrived(check: Callable[[], bool]) -> None:
    """Deliveries run beside the ticket, in real time: wait for what `check` looks for."""
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, "not delivered in 20 s"
        await asyncio.sleep(0.1)


def delivered(store: Store, ticket: str) -> list[StoredDelivery]:
    return list_deliveries(store, "delivered", ticket)[0]


def types(hook: Receiver) -> list[str]:
    return [r.headers["x-slaflow-event-type"] for r in hook.received]


async def test_a_breach_and_its_resolution_reach_slack_teams_and_pagerduty(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    pagerduty = PagerDuty()
    slack, teams = receiver(service=Slack()), receiver(service=Teams())
    oncall = receiver(service=pagerduty)
    chat = ["breach", "resolved"]
    notifications = NotificationsConfig.model_validate(
        {
            "link_base": BASE,
            "webhooks": [
                {"name": "chat", "format": "slack", "url": slack.url, "events": chat},
                {"name": "room", "format": "teams", "url": teams.url, "events": chat},
                {
                    "name": "oncall",
                    "format": "pagerduty",
                    "url": oncall.url,
                    "routing_key": ROUTING_KEY,
                },
            ],
        }
    )
    policy = standard_policy.model_copy(update={"routing": notifications.routing()})
    async with ticket_worker(time_env.client, task_queue, store, notifications):
        handle = await open_ticket(time_env.client, task_queue, policy)
        ticket = handle.id.removeprefix("ticket-")
        await time_env.sleep(timedelta(minutes=16))  # the P1 response target is 15m
        # The breach to all three and the escalation to PagerDuty delivered, and so written
        # down, before the response: its acknowledge then follows both triggers.
        await arrived(lambda: len(delivered(store, ticket)) == 4)
        await act(handle, Respond(agent_id="alice"))
        await arrived(lambda: ("acknowledge", ticket) in pagerduty.history)
        await act(handle, Resolve(agent_id="alice"))
        await arrived(lambda: pagerduty.incidents.get(ticket) == "resolved")
        await arrived(lambda: len(slack.received) == len(teams.received) == 2)

    for hook, ok in ((slack, 200), (teams, 202)):
        assert sorted(types(hook)) == ["breach", "resolved"]
        assert [r.status for r in hook.received] == [ok, ok]  # the service took each body
    [breach] = [r.json() for r in slack.received if r.headers["x-slaflow-event-type"] == "breach"]
    assert breach["blocks"][0]["text"]["text"] == f"Response SLA breached on {ticket}"
    assert f"<{BASE}/board/tickets/{ticket}|Open {ticket}>" in breach["text"]
    # The breach and its escalation (level 1 at once) trigger the ticket's one incident.
    assert sorted(pagerduty.history) == [
        ("acknowledge", ticket), ("resolve", ticket), ("trigger", ticket), ("trigger", ticket)
    ]  # fmt: skip
    assert {r.status for r in oncall.received} == {202}
    assert len({r.event_id for r in oncall.received}) == 4  # one delivery per event


class TriggersRefused:
    """PagerDuty answering 503 to every trigger while `down`, as an outage that lets the rest
    through would; then the real thing."""

    def __init__(self, pagerduty: PagerDuty) -> None:
        self.pagerduty = pagerduty
        self.down = True

    def __call__(self, headers: dict[str, str], body: bytes) -> Answer:
        if self.down and json.loads(body).get("event_action") == "trigger":
            return Answer(503, b'{"status": "unavailable"}', "application/json")
        return self.pagerduty(headers, body)


async def test_a_trigger_that_got_there_after_its_tickets_resolve_is_followed_by_the_resolve(
    time_env: WorkflowEnvironment,
    task_queue: str,
    store: Store,
    receiver: Callable[..., Receiver],
) -> None:
    pagerduty = PagerDuty()
    service = TriggersRefused(pagerduty)
    oncall = receiver(service=service)
    notifications = NotificationsConfig.model_validate(
        {
            "link_base": BASE,
            "webhooks": [
                {
                    "name": "oncall",
                    "format": "pagerduty",
                    "url": oncall.url,
                    "routing_key": ROUTING_KEY,
                },
            ],
        }
    )
    ticket = f"T-{uuid.uuid4().hex[:8]}"
    breached = datetime.now(UTC)

    def order(kind: str, at: datetime) -> DeliveryOrder:
        event = Event(
            id=event_id(f"{ticket}:{kind}"),
            type=kind,
            ticket_id=ticket,
            at=at,
            data={"metric": "response", "priority": "P1", "customer_id": "acme"},
        )
        return DeliveryOrder(delivery=Delivery(event=event, target="webhook:oncall"))

    async def start(the_order: DeliveryOrder) -> Any:
        return await time_env.client.start_workflow(
            DeliveryWorkflow.run,
            the_order,
            id=delivery_workflow_id(delivery_id(the_order.delivery)),
            task_queue=task_queue,
        )

    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[DeliveryWorkflow],
        activities=delivery_activities(store, notifications),
    ):
        trigger = await start(order("breach", breached))
        await arrived(lambda: len(oncall.received) >= 1)  # refused: retried with backoff
        resolve = await start(order("resolved", breached + timedelta(minutes=30)))
        assert (await resolve.result()).state == "delivered"
        assert pagerduty.history == [("resolve", ticket)]
        assert pagerduty.incidents == {}  # dropped: no open incident
        service.down = False
        outcome = await trigger.result()

    assert (outcome.state, outcome.attempts > 1) == ("delivered", True)
    # The late trigger opened an incident; the resolve said again closed it.
    assert pagerduty.history == [("resolve", ticket), ("trigger", ticket), ("resolve", ticket)]
    assert pagerduty.incidents == {ticket: "resolved"}
    again = oncall.received[-1]
    assert again.headers["x-slaflow-event-type"] == "resolved"
    assert again.event_id == event_id(f"{ticket}:resolved")  # the same event, repeated
