"""Access control (docs/api.md, "Access"): API keys with roles, against a real worker and Temporal.

A second app with a keys file runs in-process on the same task queue as the `api_url` fixture's
worker, so tickets really run. Tickets are opened with the admin key; acme-e2e is the customer
key's own customer, globex-e2e another customer (both in the API tests' config). What needs no
ticket is in tests/api/test_access.py; the table of endpoints is tests/support/access.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from sla.actions import REQUEST_ID_LIMIT
from store import Store
from tests.support.access import (
    INCIDENT,
    MINE,
    ROWS,
    THEIRS,
    WRONG_KEY,
    Keyed,
    Row,
    T,
    assert_answered,
    call,
    call_row,
    keyed_app,
    placeholders,
    role_cases,
    with_tickets,
)
from tests.support.http import API_CONFIG, open_ticket
from tests.support.ports import free_port
from tests.support.processes import SLAFLOW
from workflows.ticket import TicketWorkflow


@pytest.fixture(scope="module")
async def keyed(
    api_url: str,  # its worker serves the task queue this app starts tickets on
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Keyed]:
    def build(keys: Path) -> FastAPI:
        settings = e2e_settings.model_copy(update={"api_keys_file": keys})
        return create_app(settings, dev_env.client, store)

    async with keyed_app(build, tmp_path_factory.mktemp("access") / "keys.yaml") as keyed:
        yield keyed


async def new_ticket(k: Keyed, customer: str) -> str:
    auth = {"Authorization": f"Bearer {k.keys['admin']}"}
    ticket = await open_ticket(k.http, customer, priority="P3", headers=auth)
    ticket_id: str = ticket["ticket_id"]
    return ticket_id


GIVEN = {  # what an admin does to a fresh ticket first, so the action under test can apply
    "respond": ("/respond", {"agent_id": "ops"}),
    "resolve": ("/resolve", {"agent_id": "ops"}),
    "pause": ("/pause", {"reason": "waiting for logs"}),
}


@pytest.mark.parametrize(
    ("row", "caller", "expected"), role_cases([row for row in ROWS if with_tickets(row)])
)
async def test_each_role_gets_its_status_on_each_endpoint_and_a_refusal_changes_nothing(
    keyed: Keyed, row: Row, caller: str, expected: int
) -> None:
    values = await placeholders(keyed, caller, row[2])
    if "{tid}" in row[2]:
        values["tid"] = await new_ticket(keyed, values["customer"])
        for step in row[4]:
            suffix, step_body = GIVEN[step]
            done = await call(keyed, "admin", "POST", T.format(**values) + suffix, step_body)
            assert done.status_code == 200, done.text
    before = None
    if "tid" in values:
        before = (await call(keyed, "admin", "GET", T.format(**values))).json()

    response = await call_row(keyed, row, caller, values)

    assert_answered(response, expected)
    if expected >= 400 and before is not None:  # nothing happened to the ticket
        assert (await call(keyed, "admin", "GET", T.format(**values))).json() == before


@pytest.mark.parametrize("headers", [{}, {"Authorization": f"Bearer {WRONG_KEY}"}])
async def test_healthz_is_open_with_or_without_a_key(keyed: Keyed, headers: dict[str, str]) -> None:
    response = await keyed.http.get("/healthz", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


async def listed(k: Keyed, who: str, **params: str) -> list[dict[str, Any]]:
    """Every page of GET /tickets for this caller."""
    tickets: list[dict[str, Any]] = []
    token = None
    headers = {"Authorization": f"Bearer {k.keys[who]}"}
    while True:
        query = {**params, "page_size": "50", **({"page_token": token} if token else {})}
        response = await k.http.get("/tickets", params=query, headers=headers)
        assert response.status_code == 200, response.text
        tickets += response.json()["tickets"]
        token = response.json()["next_page_token"]
        if not token:
            return tickets


async def test_a_customer_lists_only_its_own_tickets_whatever_customer_id_it_asks_for(
    keyed: Keyed,
) -> None:
    mine, theirs = await new_ticket(keyed, MINE), await new_ticket(keyed, THEIRS)
    for _ in range(100):  # visibility is eventually consistent
        seen = {t["ticket_id"] for t in await listed(keyed, "admin")}
        if {mine, theirs} <= seen:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the tickets never became visible")

    own = await listed(keyed, "acme")
    assert mine in {t["ticket_id"] for t in own}
    assert {t["customer_id"] for t in own} == {MINE}
    assert await listed(keyed, "acme", customer_id=THEIRS) == []
    assert {t["customer_id"] for t in await listed(keyed, "acme", customer_id=MINE)} == {MINE}
    assert theirs in {t["ticket_id"] for t in await listed(keyed, "admin", customer_id=THEIRS)}


async def timeline_of(k: Keyed, who: str, tid: str) -> list[tuple[str, str | None]]:
    """(kind, actor) of each entry of the ticket's timeline after it was opened."""
    response = await call(k, who, "GET", f"/tickets/{tid}/timeline")
    assert response.status_code == 200, response.text
    return [(e["kind"], e["actor"]) for e in response.json()["entries"] if e["kind"] != "opened"]


async def assert_by_agent(k: Keyed, customer: str, expected: dict[str, tuple[int, int]]) -> None:
    """Today's SLA report of `customer` counts, by agent, (responses met, resolutions met) as
    `expected`, and no one else: once the store has the ticket's outcome, a moment after."""
    today = datetime.now(UTC).date().isoformat()
    query = {"from": today, "to": today, "customer_id": customer}
    counted: dict[str, tuple[int, int]] = {}
    for _ in range(200):
        report = await call(k, "agent", "GET", "/reports/sla?" + urlencode(query))
        assert report.status_code == 200, report.text
        counted = {
            agent: (stats["response"]["met"], stats["resolution"]["met"])
            for agent, stats in report.json()["by_agent"].items()
        }
        if counted == expected:
            return
        await asyncio.sleep(0.1)
    assert counted == expected


async def test_an_agent_key_acts_as_itself_whatever_the_body_names(
    keyed: Keyed, customer: str
) -> None:
    """Per-agent reports can be trusted: an agent key is recorded under its own name."""
    tid = await new_ticket(keyed, customer)
    path = f"/tickets/{tid}"
    before = (await call(keyed, "admin", "GET", path)).json()

    posing = await call(keyed, "agent", "POST", path + "/respond", {"agent_id": "bob"})

    assert posing.status_code == 403, posing.text
    assert posing.json()["detail"] == (
        "an agent key acts as itself: agent_id must be 'alice' (its key's name) or left out"
    )
    assert (await call(keyed, "admin", "GET", path)).json() == before
    responded = await call(keyed, "agent", "POST", path + "/respond", {"message": "on it"})
    assert responded.status_code == 200, responded.text
    assert responded.json()["assignee"] == "alice"
    resolved = await call(keyed, "agent", "POST", path + "/resolve", {"agent_id": "alice"})
    assert resolved.status_code == 200, resolved.text
    assert await timeline_of(keyed, "agent", tid) == [
        ("responded", "alice"),
        ("resolved", "alice"),
    ]
    await assert_by_agent(keyed, customer, {"alice": (1, 1)})


async def test_an_admin_key_acts_for_whom_it_names_and_the_timeline_says_so(
    keyed: Keyed, customer: str
) -> None:
    tid = await new_ticket(keyed, customer)
    path = f"/tickets/{tid}"

    responded = await call(keyed, "admin", "POST", path + "/respond", {"agent_id": "alice"})
    commented = await call(
        keyed, "admin", "POST", path + "/comments", {"author": "alice", "body": "on it"}
    )

    assert (responded.status_code, commented.status_code) == (200, 200)
    assert responded.json()["assignee"] == "alice"
    assert commented.json()["comments"][-1]["author"] == "alice"
    expected = [("responded", "ops for alice"), ("commented", "ops for alice")]
    assert await timeline_of(keyed, "admin", tid) == expected
    resolved = await call(keyed, "admin", "POST", path + "/resolve", {})  # for itself
    assert resolved.status_code == 200, resolved.text
    assert await timeline_of(keyed, "agent", tid) == [*expected, ("resolved", "ops")]
    # The agent named counts, not "ops for alice".
    await assert_by_agent(keyed, customer, {"alice": (1, 0), "ops": (0, 1)})


async def test_a_customer_key_acts_as_itself_and_may_still_send_its_customer_id(
    keyed: Keyed,
) -> None:
    tid = await new_ticket(keyed, MINE)
    path = f"/tickets/{tid}"
    posing = await call(keyed, "acme", "POST", path + "/comments", {"author": "alice", "body": "x"})
    assert posing.status_code == 403, posing.text
    assert posing.json()["detail"] == (
        "a customer key acts as itself: author must be 'acme-portal' (its key's name) or left out"
    )
    for body in ({"author": MINE, "body": "still down"}, {"body": "any news?"}):  # older, newer
        commented = await call(keyed, "acme", "POST", path + "/comments", body)
        assert commented.status_code == 200, commented.text
        assert commented.json()["comments"][-1]["author"] == "acme-portal"
    await call(keyed, "admin", "POST", path + "/resolve", {"agent_id": "ops"})
    reopen = await call(keyed, "acme", "POST", path + "/reopen", {"actor": "alice"})
    assert reopen.status_code == 403, reopen.text
    reopen = await call(keyed, "acme", "POST", path + "/reopen", {"reason": "no"})
    assert reopen.status_code == 200, reopen.text
    assert await timeline_of(keyed, "acme", tid) == [
        ("commented", "acme-portal"),
        ("commented", "acme-portal"),
        ("resolved", "ops"),
        ("reopened", "acme-portal"),
    ]


async def test_an_idempotency_key_of_an_action_is_each_api_keys_own(
    keyed: Keyed, dev_env: WorkflowEnvironment
) -> None:
    """The same Idempotency-Key (or body request_id) from two keys is two actions, from one key
    again is the same action; the ticket remembers, and Temporal dedups the Update by, the
    same scoped id, within REQUEST_ID_LIMIT."""
    tid = await new_ticket(keyed, MINE)
    path = f"/tickets/{tid}/comments"
    longest = "k" * REQUEST_ID_LIMIT

    async def comment(who: str, author: str, key: str, header: bool = True) -> dict[str, Any]:
        body = {"author": author, "body": f"deployed, says {who}"}
        if header:
            response = await call(keyed, who, "POST", path, body, **{"Idempotency-Key": key})
        else:
            response = await call(keyed, who, "POST", path, body | {"request_id": key})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    first = await comment("agent", "alice", "deploy-4711")
    assert await comment("agent", "alice", "deploy-4711") == first  # a retry: the same result
    await comment("admin", "ops", "deploy-4711")
    await comment("acme", MINE, "deploy-4711", header=False)
    await comment("acme", MINE, "deploy-4711", header=False)
    await comment("agent", "alice", longest)
    last = await comment("agent", "alice", longest)

    authors = [c["author"] for c in last["comments"]]
    assert authors == ["alice", "ops", "acme-portal", "alice"]
    handle = dev_env.client.get_workflow_handle_for(TicketWorkflow.run, f"ticket-{tid}")
    state = await handle.query(TicketWorkflow.state)
    scoped = ["alice:deploy-4711", "ops:deploy-4711", "acme-portal:deploy-4711"]
    assert state.request_ids[:3] == scoped
    assert state.request_ids[3].startswith("alice:") and len(state.request_ids[3]) <= 255
    update_ids = [
        event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        async for event in handle.fetch_history_events()
        if event.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert update_ids == state.request_ids


async def test_one_idempotency_key_from_two_customers_opens_two_tickets(keyed: Keyed) -> None:
    """Idempotency keys are scoped to the caller: one client's key never finds another's ticket."""
    opened = []
    for who, customer in (("acme", MINE), ("globex", THEIRS)):
        body = {"title": "VPN down", "priority": "P3", "customer_id": customer}
        headers = {"Idempotency-Key": "order-4711"}
        response = await call(keyed, who, "POST", "/tickets", body, **headers)
        assert response.status_code == 201, response.text
        assert response.json()["customer_id"] == customer
        opened.append(response.json()["ticket_id"])
    assert opened[0] != opened[1]


async def test_a_taken_ticket_id_is_refused_without_telling_whose_it_is(keyed: Keyed) -> None:
    theirs = await new_ticket(keyed, THEIRS)
    body = {"title": "mine now", "priority": "P1", "customer_id": MINE, "ticket_id": theirs}
    response = await call(keyed, "acme", "POST", "/tickets", body)
    assert response.status_code == 409, response.text
    assert THEIRS not in response.text and "VPN down" not in response.text


async def test_keys_never_appear_in_responses_or_logs(
    keyed: Keyed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tid = await new_ticket(keyed, MINE)
    responses = [
        await call(keyed, "acme", "GET", f"/tickets/{tid}"),
        await call(keyed, "acme", "POST", f"/tickets/{tid}/comments", {"body": "y"}),
        await call(keyed, "acme", "POST", f"/tickets/{tid}/respond", {"agent_id": "x"}),
        await call(keyed, "agent", "POST", "/availability/incidents", INCIDENT),
        await call(keyed, "admin", "GET", f"/tickets/{tid}/history"),
        await call(keyed, "globex", "GET", f"/tickets/{tid}"),
        await keyed.http.get("/tickets", headers={"Authorization": f"Bearer {WRONG_KEY}"}),
        await keyed.http.get("/tickets", headers={"Authorization": f"Basic {keyed.keys['agent']}"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 403, 403, 200, 404, 401, 401]
    secret_values = [*keyed.keys.values(), WRONG_KEY]
    for response in responses:
        seen = response.text + repr(response.headers.multi_items())
        assert not [s for s in secret_values if s in seen]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert not [s for s in secret_values if s in logged]


async def test_ticket_history_holds_webhook_names_but_no_webhook_secret_or_url(
    keyed: Keyed,
) -> None:
    tid = await new_ticket(keyed, MINE)
    history = await call(keyed, "agent", "GET", f"/tickets/{tid}/history")
    assert history.status_code == 200
    assert "webhook:e2e-receiver" in history.text  # the routing is frozen into the ticket by name
    assert "e2e-secret" not in history.text and "127.0.0.1:18765" not in history.text


def test_slaflow_up_on_all_interfaces_without_keys_exits_before_starting_anything(
    tmp_path: Path,
) -> None:
    data_dir, temporal_port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    env.pop("SLAFLOW_API_KEYS_FILE", None)
    done = subprocess.run(
        [
            SLAFLOW, "up",
            "--config", str(API_CONFIG),
            "--data-dir", str(data_dir), "--api-host", "0.0.0.0",
            "--api-port", str(free_port()), "--temporal-port", str(temporal_port),
            "--ui-port", str(free_port()),
        ],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "refusing to serve the API on 0.0.0.0" in done.stderr
    assert "--api-keys" in done.stderr
    assert not data_dir.exists()  # no dev server, no store: it stopped before either
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", temporal_port)) != 0
