"""Dead letters, end to end: a real worker and the real API (with keys) over HTTP on the local dev
server, a real receiver that answers 503, and a store of their own. A month closes and a ticket
runs on without waiting for a receiver; each delivery is dead after `give_up_after`, listed by
`GET /deliveries` for staff, on the ticket's timeline, and sent again by an admin with the same
event id and a valid signature."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from sla.notifications import (
    Delivery,
    DeliveryOrder,
    Event,
    delivery_id,
    delivery_workflow_id,
    event_id,
    verify,
)
from sla.schedules import ClosedMonth, CloseMonth
from store import Store
from store.deliveries import DeliveryRecord, DeliveryState, record_delivery
from store.models import DeliveryRow
from telemetry import DELIVERIES
from tests.support.access import MINE, write_keys
from tests.support.http import serve
from tests.support.ports import free_port
from tests.support.receiver import Receiver
from worker import build_worker
from workflows.contracts import MonthlyStatementsWorkflow
from workflows.delivery import DeliveryWorkflow

SECRET = "whsec-dead-letters"
CUSTOMER = MINE  # the customer of write_keys's "acme" key
# 503 is retried at 0, 2 and 6 s; the next try (14 s) would be past the window: dead at ~6 s.
GIVE_UP_AFTER = "10s"


def config(hook: str, slow: str) -> str:
    return f"""
default_policy: standard
customers:
  {CUSTOMER}: {{policy: standard, monthly_fee: 1000, currency: EUR}}
notifications:
  give_up_after: {GIVE_UP_AFTER}
  webhooks:
    - {{name: ops, url: "{hook}", secret: "{SECRET}", events: [breach, statement]}}
    - {{name: slow, url: "{slow}", secret: "{SECRET}", events: [test]}}
policies:
  standard:
    targets:
      P1: {{response: 2s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
"""


@dataclass
class Stack:
    http: httpx.AsyncClient
    keys: dict[str, str]
    hook: Receiver  # webhook:ops
    slow: Receiver  # webhook:slow: takes a request and never answers
    store: Store
    client: Client
    task_queue: str

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def get(self, path: str, who: str = "agent", **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.auth(who))

    async def post(self, path: str, who: str = "admin", body: Any = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(who))

    async def close_month(self, month: str) -> WorkflowHandle[Any, ClosedMonth]:
        """Starts the monthly statements workflow for `month`, as the schedule does."""
        return await self.client.start_workflow(
            MonthlyStatementsWorkflow.run,
            CloseMonth(month=month),
            id=f"close-{month}-{uuid.uuid4().hex[:6]}",
            task_queue=self.task_queue,
        )


@pytest.fixture(scope="module")
async def stack(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("dead-letters")
    with Receiver(503) as hook, Receiver(200, hang=True) as slow:
        (tmp / "sla.yaml").write_text(config(hook.url, slow.url))
        keys = write_keys(tmp / "keys.yaml")
        settings = Settings(
            config=tmp / "sla.yaml",
            data_dir=tmp,
            api_keys_file=tmp / "keys.yaml",
            task_queue=f"dead-letters-{uuid.uuid4().hex[:8]}",
            max_request_seconds=20,
        )
        store = Store.at(tmp / "slaflow.sqlite3")
        worker = build_worker(dev_env.client, settings, store)
        running = asyncio.create_task(worker.run())
        app = create_app(settings, dev_env.client, store)
        try:
            async with (
                serve(app, free_port()) as url,
                httpx.AsyncClient(base_url=url, timeout=60) as http,
            ):
                yield Stack(http, keys, hook, slow, store, dev_env.client, settings.task_queue)
        finally:
            await worker.shutdown()
            await running


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 60) -> Any:
    """The first truthy value of `check()`, polled; fails the test past `seconds`."""
    for _ in range(int(seconds * 5)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def listed(s: Stack, **params: Any) -> list[dict[str, Any]]:
    response = await s.get("/deliveries", **params)
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["deliveries"]
    return deliveries


async def dead_statement(s: Stack, month: str) -> dict[str, Any]:
    """Close `month` while the receiver answers 503; its statement's delivery, once dead."""
    s.hook.answer(503)
    closed = await (await s.close_month(month)).result()
    [delivery] = closed.deliveries
    id = delivery_id(delivery)

    async def dead() -> dict[str, Any] | None:
        rows = [d for d in await listed(s, state="dead", target="webhook:ops") if d["id"] == id]
        return rows[0] if rows else None

    found: dict[str, Any] = await until(dead)
    return found


async def test_a_month_closes_while_its_receiver_is_down_and_the_delivery_dies_on_its_own(
    stack: Stack,
) -> None:
    stack.hook.answer(503)
    dead_before = DELIVERIES.labels("dead")._value.get()
    statements = await stack.close_month("2026-09")
    closed = await asyncio.wait_for(statements.result(), timeout=30)
    assert closed.customers == [CUSTOMER]
    assert closed.give_up_after == timedelta(seconds=10)
    [delivery] = closed.deliveries
    id = delivery_id(delivery)
    child = stack.client.get_workflow_handle(delivery_workflow_id(id))
    await child.result()  # the delivery ran on after the month closed, and ended by itself

    month, delivered = await statements.describe(), await child.describe()
    assert month.close_time is not None and delivered.close_time is not None
    assert month.close_time < delivered.close_time  # the month did not wait for it
    assert all(r.status == 503 for r in stack.hook.received if r.event_id == delivery.event.id)

    [row] = [d for d in await listed(stack, state="dead") if d["id"] == id]
    assert (row["event_type"], row["ticket_id"], row["target"]) == (
        "statement", None, "webhook:ops"
    )  # fmt: skip
    assert row["attempts"] >= 2  # at 0, 2 and (unless the box is slow) 6 s
    assert row["detail"].startswith("given up after 10s; last: webhook:ops: HTTP 503")
    assert DELIVERIES.labels("dead")._value.get() == dead_before + 1


async def test_a_dead_delivery_is_sent_again_by_an_admin_with_the_same_event_id_and_signature(
    stack: Stack,
) -> None:
    dead = await dead_statement(stack, "2026-08")
    first = [r for r in stack.hook.received if r.event_id == dead["event_id"]]
    assert first and all(r.status == 503 for r in first)
    stack.hook.answer(204)  # the receiver is back

    assert (await stack.post(f"/deliveries/{dead['id']}/retry", who="agent")).status_code == 403
    retried = await stack.post(f"/deliveries/{dead['id']}/retry")
    assert retried.status_code == 202, retried.text
    assert {k: retried.json()[k] for k in ("id", "state", "attempts")} == {
        "id": dead["id"], "state": "pending", "attempts": 0
    }  # fmt: skip

    async def delivered() -> bool:
        return [d["state"] for d in await listed(stack, target="webhook:ops")
                if d["id"] == dead["id"]] == ["delivered"]  # fmt: skip

    await until(delivered)
    again = [r for r in stack.hook.received if r.event_id == dead["event_id"]]
    last = again[-1]
    assert last.status == 204 and len(again) == len(first) + 1
    assert last.body == first[0].body  # the same event
    assert verify(last.body, SECRET, last.headers["x-slaflow-signature"])
    assert last.headers["x-slaflow-attempt"] == "1"  # a new run's first attempt
    [row] = [d for d in await listed(stack, state="delivered") if d["id"] == dead["id"]]
    assert (row["attempts"], row["detail"]) == (1, "HTTP 204 No Content")

    refused = await stack.post(f"/deliveries/{dead['id']}/retry")
    assert refused.status_code == 409 and "delivered" in refused.json()["detail"]


async def test_a_ticket_runs_on_past_a_dead_delivery_which_shows_on_its_timeline(
    stack: Stack,
) -> None:
    stack.hook.answer(503)
    opened = await stack.post(
        "/tickets", body={"title": "Down", "priority": "P1", "customer_id": CUSTOMER}
    )
    assert opened.status_code == 201, opened.text
    tid = opened.json()["ticket_id"]
    timeline = f"/tickets/{tid}/timeline"

    async def failed() -> list[dict[str, Any]]:
        entries = (await stack.get(timeline)).json()["entries"]
        return [e for e in entries if e["kind"] == "delivery_failed"]

    [entry] = await until(failed)  # breach at 2 s, dead at ~8 s
    assert (entry["detail"]["event"], entry["detail"]["target"]) == ("breach", "webhook:ops")
    assert "HTTP 503" in entry["detail"]["reason"]
    [row] = await listed(stack, ticket_id=tid)
    assert (row["state"], row["event_type"]) == ("dead", "breach")
    # The ticket still runs and takes actions.
    responded = await stack.post(f"/tickets/{tid}/respond", body={"agent_id": "alice"})
    assert responded.status_code == 200, responded.text
    mine = (await stack.get(timeline, who="acme")).json()["entries"]
    assert [e for e in mine if e["kind"] == "delivery_failed"] == []  # staff only


def stored(s: Stack, ticket: str, n: int, state: DeliveryState, target: str, at: datetime) -> str:
    """A delivery row written straight to the store; its id."""
    event = Event(id=event_id(f"{ticket}:warning:{n}"), type="warning", ticket_id=ticket, at=at)
    order = DeliveryOrder(delivery=Delivery(event=event, target=target))
    record_delivery(s.store, DeliveryRecord(order=order, state=state, at=at))
    return delivery_id(order.delivery)


async def test_the_list_is_for_staff_newest_first_filtered_and_paged(stack: Stack) -> None:
    ticket = f"T-page-{uuid.uuid4().hex[:6]}"
    at = datetime(2026, 11, 1, tzinfo=UTC)
    states: list[DeliveryState] = ["pending", "delivered", "dead", "dead", "pending"]
    targets = ["webhook:ops", "webhook:ops", "webhook:slow", "webhook:ops", "webhook:slow"]
    ids = [stored(stack, ticket, n, states[n], targets[n], at + timedelta(minutes=n))
           for n in range(5)]  # fmt: skip

    pages: list[list[str]] = []
    token = None
    while True:
        params: dict[str, Any] = {"ticket_id": ticket, "page_size": 2}
        if token:
            params["page_token"] = token
        body = (await stack.get("/deliveries", **params)).json()
        pages.append([d["id"] for d in body["deliveries"]])
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    [item] = await listed(stack, ticket_id=ticket, state="dead", target="webhook:ops")
    assert set(item) == {"id", "event_id", "event_type", "ticket_id", "target", "state",
                         "attempts", "detail", "created_at", "updated_at"}  # fmt: skip
    assert (item["id"], item["created_at"]) == (ids[3], "2026-11-01T00:03:00+00:00")
    assert [d["id"] for d in await listed(stack, ticket_id=ticket, state="pending")] == [
        ids[4], ids[0]
    ]  # fmt: skip

    admin = await stack.get("/deliveries", who="admin", ticket_id=ticket)
    assert admin.status_code == 200
    customer = await stack.get("/deliveries", who="acme")
    assert customer.status_code == 403 and customer.json()["detail"]
    nobody = await stack.http.get("/deliveries")
    assert nobody.status_code == 401


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"state": "lost"}, "state"),
        ({"page_token": "bm9wZQ=="}, "page_token"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"target": "pager:ops"}, "target"),
        ({"ticket_id": "bad id"}, "ticket_id"),
    ],
)
async def test_a_bad_query_is_422_naming_what_is_wrong(
    stack: Stack, params: dict[str, Any], why: str
) -> None:
    response = await stack.get("/deliveries", **params)
    assert response.status_code == 422
    assert why in response.text


async def test_a_retry_is_refused_clearly_for_what_cannot_be_retried(stack: Stack) -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    pending = stored(stack, f"T-r-{uuid.uuid4().hex[:6]}", 1, "pending", "webhook:ops", at)
    answers = {
        "unknown": await stack.post(f"/deliveries/{'0' * 32}/retry"),
        "malformed": await stack.post("/deliveries/not-an-id/retry"),
        "pending": await stack.post(f"/deliveries/{pending}/retry"),
        "customer": await stack.post(f"/deliveries/{pending}/retry", who="acme"),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {"unknown": 404, "malformed": 422, "pending": 409, "customer": 403}
    assert "still being tried" in answers["pending"].json()["detail"]
    assert "no delivery" in answers["unknown"].json()["detail"]


async def test_a_retry_of_a_delivery_whose_run_is_still_going_is_409_and_changes_nothing(
    stack: Stack,
) -> None:
    ticket = f"T-run-{uuid.uuid4().hex[:6]}"
    at = datetime.now(UTC)
    event = Event(id=event_id(f"{ticket}:warning:1"), type="warning", ticket_id=ticket, at=at)
    order = DeliveryOrder(
        delivery=Delivery(event=event, target="webhook:slow"), give_up_after=timedelta(minutes=5)
    )
    id = delivery_id(order.delivery)
    handle = await stack.client.start_workflow(
        DeliveryWorkflow.run, order, id=delivery_workflow_id(id), task_queue=stack.task_queue
    )

    async def in_flight() -> bool:
        return any(r.event_id == event.id for r in stack.slow.received)

    try:
        await until(in_flight)
        # A row that says dead while a run is going (written by hand: a stale state).
        record_delivery(stack.store, DeliveryRecord(order=order, state="dead", detail="x", at=at))
        refused = await stack.post(f"/deliveries/{id}/retry")
        assert refused.status_code == 409
        assert "already being delivered" in refused.json()["detail"]
        [row] = await listed(stack, ticket_id=ticket)
        assert (row["state"], row["detail"]) == ("dead", "x")  # as it was
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        await handle.terminate("test over")


async def test_with_the_store_down_the_routes_answer_503_saying_so(stack: Stack) -> None:
    table = DeliveryRow.__table__
    table.drop(stack.store.engine)
    try:
        listing = await stack.get("/deliveries")
        retry = await stack.post(f"/deliveries/{'a' * 32}/retry")
    finally:
        table.create(stack.store.engine)
    for response in (listing, retry):
        assert response.status_code == 503
        assert "store" in response.json()["detail"]
