"""The lifecycle over HTTP, and the same tickets seen and driven by the stock `temporal` CLI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from tests.support.http import open_ticket
from tests.support.processes import BIN


async def temporal_cli(env: WorkflowEnvironment, *args: str) -> str:
    address = env.client.service_client.config.target_host
    process = await asyncio.create_subprocess_exec(
        str(BIN / "temporal"),
        *args,
        "--address",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_pause_resume_reopen_assign_and_comment_over_http(
    http: httpx.AsyncClient, customer: str
) -> None:
    tid = (await open_ticket(http, customer, priority="P2"))["ticket_id"]
    paused = (await http.post(f"/tickets/{tid}/pause", json={"reason": "need logs"})).json()
    assert (paused["status"], paused["response"]["state"]) == ("waiting_on_customer", "paused")
    resumed = (await http.post(f"/tickets/{tid}/resume", json={})).json()
    assert (resumed["status"], resumed["response"]["state"]) == ("open", "running")
    assigned = await http.patch(f"/tickets/{tid}", json={"assignee": "bob"})
    assert assigned.json()["assignee"] == "bob"
    empty = await http.patch(f"/tickets/{tid}", json={})
    assert empty.status_code == 409 and "nothing to change" in empty.json()["detail"]
    commented = await http.post(
        f"/tickets/{tid}/comments", json={"author": "bob", "body": "Found it"}
    )
    assert commented.json()["comments"][0]["body"] == "Found it"
    too_long = await http.post(
        f"/tickets/{tid}/comments", json={"author": "bob", "body": "x" * 10_001}
    )
    assert too_long.status_code == 422
    await http.post(f"/tickets/{tid}/resolve", json={"agent_id": "bob"})
    reopened = (await http.post(f"/tickets/{tid}/reopen", json={"reason": "back"})).json()
    assert reopened["status"] == "responded"  # the resolution answered the customer
    assert reopened["resolution"]["cycle"] == 2
    assert [c["cycle"] for c in reopened["earlier_resolutions"]] == [1]
    timeline = (await http.get(f"/tickets/{tid}/timeline")).json()["entries"]
    assert [e["kind"] for e in timeline] == [
        "opened", "paused", "resumed", "assigned", "commented", "resolved", "reopened",
    ]  # fmt: skip


async def test_stock_cli_lists_queries_and_signals_tickets(
    http: httpx.AsyncClient, customer: str, dev_env: WorkflowEnvironment
) -> None:
    tid = (await open_ticket(http, customer))["ticket_id"]
    query = f"TicketPriority='P1' AND CustomerId='{customer}'"
    listed = ""
    for _ in range(50):
        listed = await temporal_cli(dev_env, "workflow", "list", "--query", query)
        if f"ticket-{tid}" in listed:
            break
        await asyncio.sleep(0.1)
    assert f"ticket-{tid}" in listed

    await temporal_cli(
        dev_env, "workflow", "signal", "--workflow-id", f"ticket-{tid}",
        "--name", "respond", "--input", json.dumps({"agent_id": "cli-agent"}),
    )  # fmt: skip
    state: dict[str, Any] = {}
    for _ in range(50):
        state = (await http.get(f"/tickets/{tid}")).json()
        if state["status"] == "responded":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "responded"
    assert state["assignee"] == "cli-agent"

    queried = await temporal_cli(
        dev_env, "workflow", "query", "--workflow-id", f"ticket-{tid}", "--name", "state",
        "--output", "json",
    )  # fmt: skip
    assert '"status": "responded"' in queried or '"status":"responded"' in queried
