"""Deliveries from the ticket workflow (time-skipping): a rejected one lands on the timeline."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from sla.actions import Resolve, Respond
from sla.clock import ClockState
from sla.notifications import NotificationsConfig
from sla.policy import PolicySnapshot
from store import Store
from tests.workflows.helpers import act, open_ticket, state_of, ticket_worker


def _receiver(status: int) -> Iterator[tuple[str, list[str]]]:
    """A webhook receiver answering `status` to every delivery; yields its URL and the event
    types it saw, in order."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["X-Slaflow-Event-Type"])
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", seen
    server.shutdown()


@pytest.fixture
def accepting_receiver() -> Iterator[tuple[str, list[str]]]:
    yield from _receiver(204)


@pytest.fixture
def gone_receiver() -> Iterator[tuple[str, list[str]]]:
    """Answers 404 (the hook was removed): a rejection, not an outage."""
    yield from _receiver(404)


async def test_a_rejected_delivery_stops_after_five_attempts_and_shows_on_the_timeline(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    tmp_path: Path,
    gone_receiver: tuple[str, list[str]],
) -> None:
    url, seen = gone_receiver
    notifications = NotificationsConfig.model_validate(
        {"webhooks": [{"name": "ops", "url": url, "secret": "x", "events": ["breach"]}]}
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
    assert seen == ["breach"] * 5


async def test_every_event_of_a_breached_and_resolved_ticket_is_delivered_once(
    time_env: WorkflowEnvironment,
    task_queue: str,
    standard_policy: PolicySnapshot,
    tmp_path: Path,
    accepting_receiver: tuple[str, list[str]],
) -> None:
    url, seen = accepting_receiver
    events = ["warning", "breach", "escalation", "resolved"]  # no credits in the policy
    notifications = NotificationsConfig.model_validate(
        {"webhooks": [{"name": "ops", "url": url, "secret": "x", "events": events}]}
    )
    policy = standard_policy.model_copy(update={"routing": notifications.routing()})
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store, notifications):
        handle = await open_ticket(time_env.client, task_queue, policy)
        await time_env.sleep(timedelta(minutes=16))  # P1: warned at 75%, breached at 15 min
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Resolve(agent_id="alice"))
        for _ in range(50):
            if len(seen) >= len(events):
                break
            await time_env.sleep(timedelta(seconds=10))

    assert sorted(seen) == sorted(events)
