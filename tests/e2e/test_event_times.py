"""Event times over HTTP on a real stack (docs/api.md, "Event times"): a ticket opened with the
time it opened in the source desk is breached at once, dated right, and escalated; answers
dated in the past stop its clocks then; a time before its last recorded event is 422."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.http import open_ticket


async def settled(http: httpx.AsyncClient, tid: str) -> dict[str, Any]:
    """The ticket once its workflow has run its first task (the breach it owes is applied)."""
    for _ in range(100):
        ticket: dict[str, Any] = (await http.get(f"/tickets/{tid}")).json()
        if ticket["escalation_level"] > 0:
            return ticket
        await asyncio.sleep(0.1)
    raise AssertionError(f"ticket {tid} never escalated: {ticket}")


async def test_a_ticket_opened_twenty_minutes_back_breaches_at_once_dated_right(
    http: httpx.AsyncClient, customer: str
) -> None:
    opened_at = (datetime.now(UTC) - timedelta(minutes=20)).replace(microsecond=0)
    ticket = await open_ticket(http, customer, at=opened_at.isoformat())  # P1: 15 min
    assert datetime.fromisoformat(ticket["created_at"]) == opened_at
    # The answer already applies what came due since `at`.
    assert ticket["response"]["state"] == "breached"
    due = opened_at + timedelta(minutes=15)
    assert datetime.fromisoformat(ticket["response"]["breached_at"]) == due

    ran = await settled(http, ticket["ticket_id"])
    assert [(e["metric"], e["level"]) for e in ran["escalations"]] == [("response", 1)]
    assert datetime.fromisoformat(ran["escalations"][0]["at"]) == due
    timeline = (await http.get(f"/tickets/{ticket['ticket_id']}/timeline")).json()["entries"]
    opened = timeline[0]
    assert opened["kind"] == "opened" and datetime.fromisoformat(opened["at"]) == opened_at
    assert datetime.fromisoformat(opened["detail"]["received_at"]) > opened_at


async def test_answers_dated_in_the_past_stop_the_clocks_then(
    http: httpx.AsyncClient, customer: str
) -> None:
    opened_at = datetime.now(UTC) - timedelta(minutes=10)
    ticket = await open_ticket(http, customer, at=opened_at.isoformat())
    tid = ticket["ticket_id"]
    answered_at = opened_at + timedelta(minutes=3)
    responded = await http.post(
        f"/tickets/{tid}/respond", json={"agent_id": "alice", "at": answered_at.isoformat()}
    )
    assert responded.status_code == 200, responded.text
    assert responded.json()["response"]["state"] == "met"
    assert datetime.fromisoformat(responded.json()["response"]["completed_at"]) == answered_at

    early = await http.post(
        f"/tickets/{tid}/resolve",
        json={"agent_id": "alice", "at": (answered_at - timedelta(minutes=1)).isoformat()},
    )
    assert early.status_code == 422
    assert "before the ticket's last recorded event" in early.json()["detail"]

    resolved_at = answered_at + timedelta(minutes=2)
    resolved = await http.post(
        f"/tickets/{tid}/resolve", json={"agent_id": "alice", "at": resolved_at.isoformat()}
    )
    assert resolved.status_code == 200, resolved.text
    assert datetime.fromisoformat(resolved.json()["resolved_at"]) == resolved_at
    assert resolved.json()["resolution"]["elapsed_seconds"] == 5 * 60


async def test_a_backfilled_ticket_opens_with_its_past_and_earns_its_own_verdicts(
    http: httpx.AsyncClient, customer: str
) -> None:
    opened_at = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    events = [
        {"action": "respond", "at": (opened_at + timedelta(minutes=5)).isoformat(),
         "agent_id": "alice"},
        {"action": "resolve", "at": (opened_at + timedelta(minutes=50)).isoformat(),
         "agent_id": "alice", "resolution": "replaced the disk"},
    ]  # fmt: skip
    ticket = await open_ticket(http, customer, at=opened_at.isoformat(), events=events)
    assert ticket["status"] == "resolved"
    assert ticket["response"]["state"] == "met" and ticket["resolution"]["state"] == "met"
    assert datetime.fromisoformat(ticket["resolved_at"]) == opened_at + timedelta(minutes=50)
    await asyncio.sleep(0.5)  # the workflow's first task: nothing breached, nothing escalated
    read = (await http.get(f"/tickets/{ticket['ticket_id']}")).json()
    assert read["status"] == "resolved" and read["escalations"] == []
    assert read["response"]["completed_at"] == ticket["response"]["completed_at"]

    refused = await http.post(
        "/tickets",
        json={"title": "x", "priority": "P1", "customer_id": customer,
              "at": opened_at.isoformat(), "events": list(reversed(events))},
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("events[1] (respond): at ")  # out of order
    assert "before the ticket's last recorded event" in refused.json()["detail"]
