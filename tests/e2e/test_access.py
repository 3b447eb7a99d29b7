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
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
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


async def test_a_customer_comment_and_reopen_are_recorded_under_the_customers_id(
    keyed: Keyed,
) -> None:
    tid = await new_ticket(keyed, MINE)
    comment = {"author": "alice", "body": "it is still down"}  # posing as an agent
    commented = await call(keyed, "acme", "POST", f"/tickets/{tid}/comments", comment)
    assert commented.status_code == 200, commented.text
    last = commented.json()["comments"][-1]
    assert (last["author"], last["body"]) == (MINE, "it is still down")
    await call(keyed, "admin", "POST", f"/tickets/{tid}/resolve", {"agent_id": "ops"})
    reopen = {"reason": "no", "actor": "alice"}
    assert (await call(keyed, "acme", "POST", f"/tickets/{tid}/reopen", reopen)).status_code == 200
    timeline = (await call(keyed, "acme", "GET", f"/tickets/{tid}/timeline")).json()["entries"]
    actors = {e["kind"]: e["actor"] for e in timeline}
    assert (actors["commented"], actors["reopened"], actors["resolved"]) == (MINE, MINE, "ops")


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
        await call(keyed, "acme", "POST", f"/tickets/{tid}/comments", {"author": "x", "body": "y"}),
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
