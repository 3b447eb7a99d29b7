"""The ticket API over HTTP against a real Temporal dev server and a real worker (what needs no
Temporal is in tests/api/test_tickets.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from store import Store
from tests.support.http import asgi_client, open_ticket


async def test_ticket_lives_from_open_to_close(http: httpx.AsyncClient, customer: str) -> None:
    ticket = await open_ticket(http, customer)
    tid = ticket["ticket_id"]
    created = datetime.fromisoformat(ticket["created_at"])
    assert created.utcoffset() == timedelta(0) and ticket["created_at"].endswith("+00:00")
    assert ticket["status"] == "open"
    assert ticket["response"]["target_seconds"] == 15 * 60
    assert datetime.fromisoformat(ticket["response"]["due_at"]) == created + timedelta(minutes=15)
    assert datetime.fromisoformat(ticket["resolution"]["due_at"]) == created + timedelta(hours=2)

    read = (await http.get(f"/tickets/{tid}")).json()
    assert read["created_at"] == ticket["created_at"]
    assert read["response"]["due_at"] == ticket["response"]["due_at"]

    responded = await http.post(f"/tickets/{tid}/respond", json={"agent_id": "alice"})
    assert responded.status_code == 200, responded.text
    assert responded.json()["status"] == "responded"
    assert responded.json()["response"]["state"] == "met"
    resolved = await http.post(f"/tickets/{tid}/resolve", json={"agent_id": "alice"})
    assert resolved.json()["status"] == "resolved"
    closed = await http.post(f"/tickets/{tid}/close", json={})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"

    again = await http.post(f"/tickets/{tid}/respond", json={"agent_id": "alice"})
    assert again.status_code == 409
    assert "closed" in again.json()["detail"]
    final = (await http.get(f"/tickets/{tid}")).json()
    assert final["status"] == "closed"
    assert final["resolution"]["state"] == "met"


async def test_close_before_resolve_is_refused_with_the_reason(
    http: httpx.AsyncClient, customer: str
) -> None:
    ticket = await open_ticket(http, customer)
    response = await http.post(f"/tickets/{ticket['ticket_id']}/close", json={})
    assert response.status_code == 409
    assert response.json() == {"detail": "cannot close (resolve it first): the ticket is open"}


async def test_same_ticket_id_opens_one_ticket(http: httpx.AsyncClient, customer: str) -> None:
    tid = f"T-{uuid.uuid4().hex[:8]}"
    first = await open_ticket(http, customer, ticket_id=tid)
    second = await http.post(
        "/tickets", json={"title": "VPN down", "priority": "P1", "customer_id": customer,
                          "ticket_id": tid}
    )  # fmt: skip
    assert second.status_code == 200
    assert second.json()["created_at"] == first["created_at"]
    other = await http.post(
        "/tickets", json={"title": "x", "priority": "P2", "customer_id": "someone-else",
                          "ticket_id": tid}
    )  # fmt: skip
    assert other.status_code == 409


async def test_same_idempotency_key_opens_one_ticket(
    http: httpx.AsyncClient, customer: str
) -> None:
    body = {"title": "Mail bounces", "priority": "P3", "customer_id": customer}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await http.post("/tickets", json=body, headers=key)
    second = await http.post("/tickets", json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["ticket_id"] == second.json()["ticket_id"]
    assert first.json()["created_at"] == second.json()["created_at"]


async def test_unknown_ticket_is_404_everywhere(http: httpx.AsyncClient) -> None:
    for method, path, body in [
        ("GET", "/tickets/nope-404", None),
        ("GET", "/tickets/nope-404/history", None),
        ("GET", "/tickets/nope-404/timeline", None),
        ("POST", "/tickets/nope-404/respond", {"agent_id": "a"}),
        ("POST", "/tickets/nope-404/close", {}),
    ]:
        response = await http.request(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
        assert "nope-404" in response.json()["detail"]


async def test_history_has_every_event_with_decoded_payloads(
    http: httpx.AsyncClient, customer: str
) -> None:
    ticket = await open_ticket(http, customer)
    tid = ticket["ticket_id"]
    await http.post(f"/tickets/{tid}/respond", json={"agent_id": "alice", "message": "on it"})
    history = (await http.get(f"/tickets/{tid}/history")).json()
    assert history["ticket_id"] == tid
    [run] = history["runs"]
    started = run["events"][0]
    assert started["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    opened = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    assert opened["ticket_id"] == tid
    assert opened["policy"]["targets"]["P1"]["response"] == "PT15M"
    updates = [e for e in run["events"] if e["eventType"].endswith("UPDATE_ACCEPTED")]
    accepted = updates[0]["workflowExecutionUpdateAcceptedEventAttributes"]
    assert accepted["acceptedRequest"]["input"]["args"]["payloads"][0]["message"] == "on it"


async def test_timeline_tells_the_story(http: httpx.AsyncClient, customer: str) -> None:
    tid = (await open_ticket(http, customer))["ticket_id"]
    await http.post(f"/tickets/{tid}/respond", json={"agent_id": "alice"})
    await http.post(f"/tickets/{tid}/resolve", json={"agent_id": "bob"})
    timeline = (await http.get(f"/tickets/{tid}/timeline")).json()
    assert [(e["kind"], e["actor"]) for e in timeline["entries"]] == [
        ("opened", customer),
        ("responded", "alice"),
        ("resolved", "bob"),
    ]


async def test_list_finds_tickets_by_filters(http: httpx.AsyncClient, customer: str) -> None:
    ids = {(await open_ticket(http, customer, priority=p))["ticket_id"] for p in ("P1", "P3")}
    page: dict[str, Any] = {}
    for _ in range(100):  # visibility is eventually consistent
        page = (await http.get("/tickets", params={"customer_id": customer})).json()
        if len(page["tickets"]) == 2:
            break
        await asyncio.sleep(0.1)
    assert {t["ticket_id"] for t in page["tickets"]} == ids
    p3 = (await http.get("/tickets", params={"customer_id": customer, "priority": "P3"})).json()
    assert [t["priority"] for t in p3["tickets"]] == ["P3"]
    first = (await http.get("/tickets", params={"customer_id": customer, "page_size": 1})).json()
    assert len(first["tickets"]) == 1 and first["next_page_token"]
    rest = await http.get(
        "/tickets",
        params={"customer_id": customer, "page_size": 1, "page_token": first["next_page_token"]},
    )
    assert {t["ticket_id"] for t in first["tickets"] + rest.json()["tickets"]} == ids


@pytest.mark.parametrize("key", ["comment-1", "k" * 255])
async def test_duplicate_action_with_the_same_idempotency_key_applies_once(
    http: httpx.AsyncClient, customer: str, key: str
) -> None:
    """Any key the header accepts (up to 255 characters) is the action's request id."""
    tid = (await open_ticket(http, customer))["ticket_id"]
    for _ in range(2):
        response = await http.post(
            f"/tickets/{tid}/comments",
            json={"author": "alice", "body": "hi"},
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 200
    assert len(response.json()["comments"]) == 1


async def test_healthz_is_ok_while_a_worker_polls(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["workers"] >= 1
    # The store answers and nothing waits for it.
    assert health.json()["store"] == "ok"
    assert health.json()["pending_effects"] == 0


async def test_priority_change_while_paused_applies_new_targets_to_paused_clocks(
    http: httpx.AsyncClient, customer: str, store: Store
) -> None:
    tid = (await open_ticket(http, customer, priority="P3"))["ticket_id"]
    paused = await http.post(f"/tickets/{tid}/pause", json={"reason": "waiting for logs"})
    assert paused.json()["status"] == "waiting_on_customer"
    assert paused.json()["response"]["due_at"] is None
    changed = await http.patch(f"/tickets/{tid}", json={"priority": "P1"})
    assert changed.status_code == 200
    body = changed.json()
    assert body["priority"] == "P1"
    assert (body["response"]["state"], body["response"]["target_seconds"]) == ("paused", 900)
    assert store.events(tid) == []  # seconds elapsed, far from the P1 targets: no breach
    twice = await http.post(f"/tickets/{tid}/pause", json={"reason": "again"})
    assert twice.status_code == 409
    assert "already waiting on the customer" in twice.json()["detail"]


async def test_healthz_is_503_while_no_worker_polls(
    dev_env: WorkflowEnvironment, e2e_settings: Settings
) -> None:
    """Readiness needs a worker, not only Temporal: an API on an unserved queue is not ready."""
    settings = e2e_settings.model_copy(update={"task_queue": f"nobody-{uuid.uuid4().hex[:6]}"})
    async with asgi_client(create_app(settings, dev_env.client)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "starting"
    assert "no worker" in response.json()["detail"]


async def test_comments_page_through_every_comment_and_the_ticket_counts_them(
    http: httpx.AsyncClient, customer: str
) -> None:
    tid = (await open_ticket(http, customer))["ticket_id"]
    await open_ticket(http, customer)  # two at least, so the listing has a next page
    for n in range(3):
        await http.post(f"/tickets/{tid}/comments", json={"author": "bob", "body": f"c{n}"})
    ticket = (await http.get(f"/tickets/{tid}")).json()
    first = (await http.get(f"/tickets/{tid}/comments", params={"page_size": 2})).json()
    rest = await http.get(
        f"/tickets/{tid}/comments", params={"page_size": 2, "page_token": first["next_page_token"]}
    )
    listing = (await http.get("/tickets", params={"page_size": 1})).json()["next_page_token"]
    foreign = await http.get(f"/tickets/{tid}/comments", params={"page_token": listing})
    mangled = await http.get(f"/tickets/{tid}/comments", params={"page_token": "abc"})

    assert ticket["comment_count"] == 3
    assert [c["body"] for c in first["comments"]] == ["c0", "c1"]
    assert [c["body"] for c in rest.json()["comments"]] == ["c2"]
    assert rest.json()["next_page_token"] is None and rest.json()["comment_count"] == 3
    assert foreign.status_code == 422 and mangled.status_code == 422
