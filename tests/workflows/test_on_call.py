"""On-call out through a real ticket workflow on the time-skipping server: a P1 ticket breaches
its response target, is answered, then resolved; Slack and Teams receivers get well-formed
messages for the breach and the resolution, and PagerDuty's incident for the ticket is
triggered, acknowledged and resolved (tests/support/services.py checks every body)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from sla.actions import Resolve, Respond
from sla.notifications import NotificationsConfig
from sla.policy import PolicySnapshot
from store import Store
from tests.support.receiver import Receiver
from tests.support.services import PagerDuty, Slack, Teams
from tests.support.workflows import act, open_ticket, ticket_worker

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
        await arrived(lambda: ("trigger", ticket) in pagerduty.history)
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
