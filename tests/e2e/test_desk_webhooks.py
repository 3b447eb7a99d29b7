"""Help desks in, on a real stack (worker, dev server, store, the API over HTTP): Jira's
published example bodies and the Zendesk template drive a ticket through open, respond and
resolve at the events' own times; a replayed delivery applies once; a bad signature is 401;
what the ticket does not allow is answered 200 and recorded as rejected, with why."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from store import Store
from tests.support.desks import (
    desks_config,
    iso,
    jira_body,
    jira_headers,
    minutes_ago,
    zendesk_body,
    zendesk_headers,
)
from tests.support.http import serve
from tests.support.ports import free_port


@pytest.fixture(scope="module")
async def desks(
    api_url: str,  # the session's worker runs the tickets
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with both desks configured, on the session's Temporal, task queue and store."""
    config: Path = desks_config(tmp_path_factory.mktemp("desks") / "sla.yaml")
    settings = Settings(
        config=config,
        data_dir=e2e_settings.data_dir,
        task_queue=e2e_settings.task_queue,
        api_port=free_port(),
        max_request_seconds=20,
    )
    async with (
        serve(create_app(settings, dev_env.client, store), settings.api_port) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as client,
    ):
        yield client


async def jira(
    http: httpx.AsyncClient, body: dict[str, Any], delivery: str, **headers: str
) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await http.post(
        "/integrations/jira", content=raw, headers=jira_headers(raw, delivery) | headers
    )


async def zendesk(http: httpx.AsyncClient, body: dict[str, Any], delivery: str) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await http.post(
        "/integrations/zendesk", content=raw, headers=zendesk_headers(raw, delivery)
    )


def applied(response: httpx.Response, *steps: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["outcome"] == "applied", answer
    assert [s["do"] for s in answer["steps"]] == list(steps)
    return answer


def same_time(shown: str, at: datetime) -> bool:
    return datetime.fromisoformat(shown) == at


async def test_jiras_example_bodies_open_respond_and_resolve_at_their_times(
    desks: httpx.AsyncClient,
) -> None:
    key = f"JRA-{uuid.uuid4().hex[:8].upper()}"
    opened, answered, resolved = minutes_ago(10), minutes_ago(6), minutes_ago(2)
    created = jira_body("issue_created", key, opened)
    applied(await jira(desks, created, f"{key}-created"), "open")
    comment = jira_body("comment_created", key, answered)
    applied(await jira(desks, comment, f"{key}-comment"), "respond")
    resolve = jira_body("issue_updated_resolved", key, resolved)
    applied(await jira(desks, resolve, f"{key}-resolved"), "resolve")

    ticket = (await desks.get(f"/tickets/{key}")).json()
    assert (ticket["status"], ticket["priority"], ticket["customer_id"]) == (
        "resolved", "P2", "acme-e2e",
    )  # fmt: skip
    assert ticket["title"] == "I feel the need for speed"
    assert same_time(ticket["created_at"], opened)
    assert same_time(ticket["response"]["completed_at"], answered)
    assert same_time(ticket["resolution"]["completed_at"], resolved)
    assert ticket["response"]["state"] == ticket["resolution"]["state"] == "met"
    timeline = (await desks.get(f"/tickets/{key}/timeline")).json()["entries"]
    assert [(e["kind"], e["actor"]) for e in timeline] == [
        ("opened", "acme-e2e"), ("responded", "jira for brollins"),
        ("resolved", "jira for brollins"),
    ]  # fmt: skip
    assert all(e["detail"].get("received_at") for e in timeline)  # heard of later than done

    # Jira retries each delivery (same identifier): answered as before, nothing applied again.
    for body, delivery in [(created, "created"), (comment, "comment"), (resolve, "resolved")]:
        again = await jira(desks, body, f"{key}-{delivery}")
        assert again.status_code == 200 and again.json()["duplicate"] is True
    # The same comment in another delivery (an issue_updated carrying it) responds once.
    applied(await jira(desks, comment, f"{key}-comment-again"), "respond")
    after = (await desks.get(f"/tickets/{key}/timeline")).json()["entries"]
    assert [e["kind"] for e in after] == ["opened", "responded", "resolved"]

    # Signed with another secret, or not at all: 401, and the ticket is as it was.
    forged = jira_body("comment_created", key, minutes_ago(1))
    raw = json.dumps(forged).encode()
    bad = await desks.post(
        "/integrations/jira", content=raw, headers=jira_headers(raw, "x", secret="guess")
    )
    assert bad.status_code == 401
    unsigned = await desks.post(
        "/integrations/jira", content=raw, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert (await desks.get(f"/tickets/{key}/timeline")).json()["entries"] == after

    events = (await desks.get("/integrations/events", params={"ticket_id": key})).json()
    assert sorted(e["delivery_id"] for e in events["events"]) == sorted(
        f"{key}-{d}" for d in ("created", "comment", "resolved", "comment-again")
    )
    assert {e["outcome"] for e in events["events"]} == {"applied"}


async def test_what_a_ticket_does_not_allow_is_200_and_recorded_rejected(
    desks: httpx.AsyncClient,
) -> None:
    key = f"REJ-{uuid.uuid4().hex[:8].upper()}"
    applied(await jira(desks, jira_body("issue_created", key, minutes_ago(8)), f"{key}-c"), "open")
    applied(
        await jira(desks, jira_body("issue_updated_resolved", key, minutes_ago(4)), f"{key}-r"),
        "resolve",
    )
    # Resolved again (a second workflow's transition into Done): the ticket refuses it.
    again = jira_body("issue_updated_resolved", key, minutes_ago(3))
    again["changelog"]["items"][0] |= {"fromString": "Reopened", "toString": "Done"}
    refused = await jira(desks, again, f"{key}-r2")
    assert refused.status_code == 200, refused.text
    assert refused.json()["outcome"] == "rejected"
    assert "cannot resolve: the ticket is resolved" in refused.json()["reason"]
    # An event dated before what the ticket already recorded: refused, not reordered.
    late = jira_body("comment_created", key, minutes_ago(6))
    assert (await jira(desks, late, f"{key}-late")).json()["outcome"] == "rejected"
    # An issue slaflow never opened: ignored.
    other = jira_body("comment_created", f"NONE-{uuid.uuid4().hex[:6].upper()}", minutes_ago(1))
    unknown = (await jira(desks, other, f"{key}-unknown")).json()
    assert unknown["outcome"] == "ignored"
    listed = (await desks.get("/integrations/events", params={"outcome": "rejected"})).json()
    assert {f"{key}-r2", f"{key}-late"} <= {e["delivery_id"] for e in listed["events"]}


async def test_a_jira_issue_opened_long_ago_is_breached_at_once_dated_right(
    desks: httpx.AsyncClient,
) -> None:
    key = f"OLD-{uuid.uuid4().hex[:8].upper()}"
    opened = minutes_ago(20)
    body = jira_body("issue_created", key, opened)
    body["issue"]["fields"]["priority"] = {"name": "Highest", "id": "1"}  # P1: 15 min
    applied(await jira(desks, body, f"{key}-c"), "open")
    ticket = (await desks.get(f"/tickets/{key}")).json()
    assert (ticket["priority"], ticket["response"]["state"]) == ("P1", "breached")
    assert same_time(ticket["response"]["breached_at"], opened + timedelta(minutes=15))
    assert ticket["escalation_level"] == 1


async def test_zendesks_trigger_bodies_open_respond_and_resolve_at_their_times(
    desks: httpx.AsyncClient,
) -> None:
    number = str(uuid.uuid4().int % 10**9)
    tid = f"zendesk-{number}"
    opened, answered, solved = minutes_ago(10), minutes_ago(6), minutes_ago(2)
    created = zendesk_body("ticket_created", number, opened, opened)
    applied(await zendesk(desks, created, f"{number}-1"), "open")
    replied = zendesk_body("agent_replied", number, opened, answered)
    applied(await zendesk(desks, replied, f"{number}-2"), "respond")
    solve = zendesk_body("ticket_solved", number, opened, solved)
    applied(await zendesk(desks, solve, f"{number}-3"), "resolve")  # the reply was taken

    ticket = (await desks.get(f"/tickets/{tid}")).json()
    assert (ticket["status"], ticket["priority"], ticket["customer_id"]) == (
        "resolved", "P1", "acme-e2e",
    )  # fmt: skip
    assert same_time(ticket["created_at"], opened)
    assert same_time(ticket["response"]["completed_at"], answered)
    assert same_time(ticket["resolution"]["completed_at"], solved)
    timeline = (await desks.get(f"/tickets/{tid}/timeline")).json()["entries"]
    assert [(e["kind"], e["actor"]) for e in timeline] == [
        ("opened", "acme-e2e"), ("responded", "zendesk for 1903375"),
        ("resolved", "zendesk for 1903375"),
    ]  # fmt: skip

    # A replayed invocation: answered as before, nothing applied again.
    again = await zendesk(desks, replied, f"{number}-2")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    # The same state in a new invocation: nothing to do.
    same = (await zendesk(desks, solve, f"{number}-4")).json()
    assert same["outcome"] == "ignored" and same["steps"] == []
    assert len((await desks.get(f"/tickets/{tid}/timeline")).json()["entries"]) == 3

    # Reopened in Zendesk, then waiting on the customer: reopen and pause, at that time.
    reopened_at = minutes_ago(1)
    pending = zendesk_body("ticket_solved", number, opened, reopened_at)
    pending["ticket"]["status"] = "Pending"
    steps = applied(await zendesk(desks, pending, f"{number}-5"), "reopen", "pause")["steps"]
    assert [s["at"] for s in steps] == [iso(reopened_at)] * 2
    assert (await desks.get(f"/tickets/{tid}")).json()["status"] == "waiting_on_customer"

    raw = json.dumps(solve).encode()
    forged = await desks.post(
        "/integrations/zendesk",
        content=raw,
        headers=zendesk_headers(raw, f"{number}-6", secret="guess"),
    )
    assert forged.status_code == 401
