"""The audit trail outlives Temporal: archive on close, read after deletion, replay, report."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cluster import prepare, retention_of
from settings import Settings
from tests.support.http import open_ticket, wait_until
from tests.support.processes import SLAFLOW


async def test_closed_ticket_deleted_from_temporal_keeps_history_timeline_report_and_replays(
    http: httpx.AsyncClient, customer: str, dev_env: WorkflowEnvironment, e2e_settings: Settings
) -> None:
    tid = (await open_ticket(http, customer, priority="P2"))["ticket_id"]
    await http.post(f"/tickets/{tid}/respond", json={"agent_id": "alice"})
    await http.post(f"/tickets/{tid}/comments", json={"author": "alice", "body": "fixed it"})
    await http.post(f"/tickets/{tid}/resolve", json={"agent_id": "bob"})
    closed = (await http.post(f"/tickets/{tid}/close", json={})).json()
    live_history = (await http.get(f"/tickets/{tid}/history")).json()
    live_timeline = (await http.get(f"/tickets/{tid}/timeline")).json()

    archive = e2e_settings.data_dir / "archive" / str(tid)  # its runs and its final state

    async def archived() -> bool:
        return (archive / "final.json").exists()

    await wait_until(archived)

    # What retention does: the execution is deleted from Temporal.
    client = dev_env.client
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=f"ticket-{tid}"),
        )
    )

    async def gone() -> bool:
        try:
            await client.get_workflow_handle(f"ticket-{tid}").describe()
        except RPCError:
            return True
        return False

    await wait_until(gone, seconds=90)  # the dev server deletes a closed run in about 30 s

    ticket = await http.get(f"/tickets/{tid}")
    assert ticket.status_code == 200
    assert ticket.json()["status"] == "closed"
    assert ticket.json()["closed_at"] == closed["closed_at"]
    history = (await http.get(f"/tickets/{tid}/history")).json()
    [run] = history["runs"]
    assert (
        run["events"][: len(live_history["runs"][0]["events"])] == live_history["runs"][0]["events"]
    )
    assert run["events"][-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    assert (await http.get(f"/tickets/{tid}/timeline")).json() == live_timeline
    refused = await http.post(f"/tickets/{tid}/reopen", json={})
    assert refused.status_code == 409

    replay = await asyncio.create_subprocess_exec(
        SLAFLOW, "replay", str(archive),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await replay.communicate()
    assert replay.returncode == 0, out.decode()
    assert "every run replays cleanly" in out.decode()

    today = datetime.now(UTC).date().isoformat()
    report = (
        await http.get("/reports/sla", params={"from": today, "to": today, "customer_id": customer})
    ).json()
    assert report["tickets"] == 1
    assert (report["response"]["met"], report["resolution"]["met"]) == (1, 1)
    assert report["by_agent"]["alice"]["response"]["met"] == 1
    assert report["by_agent"]["bob"]["resolution"]["met"] == 1
    assert report["by_priority"]["P2"]["tickets"] == 1
    csv = await http.get(
        "/reports/sla",
        params={"from": today, "to": today, "customer_id": customer},
        headers={"Accept": "text/csv"},
    )
    assert csv.text.splitlines()[0].startswith("group,name,tickets,metric")


async def test_slaflow_replay_reports_a_history_that_would_break(tmp_path: Path) -> None:
    # A saved history that schedules an activity (the names change as histories are recorded).
    saved = next(
        path
        for path in sorted((Path(__file__).parents[1] / "histories").glob("*.json"))
        if "activityTaskScheduledEventAttributes" in path.read_text()
    )
    document = json.loads(saved.read_text())
    # Tamper: the ticket's first activity becomes another activity type.
    for event in document["events"]:
        scheduled = event.get("activityTaskScheduledEventAttributes")
        if scheduled:
            scheduled["activityType"]["name"] = "something_else"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    process = await asyncio.create_subprocess_exec(
        SLAFLOW, "replay", str(saved), str(broken),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 1
    assert "ok    " in out.decode() and "BREAK" in out.decode()


async def test_retention_is_set_from_settings(
    dev_env: WorkflowEnvironment, e2e_settings: Settings
) -> None:
    await prepare(dev_env.client, e2e_settings.model_copy(update={"retention": timedelta(days=9)}))
    assert await retention_of(dev_env.client) == timedelta(days=9)
    await prepare(dev_env.client, e2e_settings)
    assert await retention_of(dev_env.client) == timedelta(days=30)


async def test_metrics_count_requests_by_route_and_tickets_opened(
    http: httpx.AsyncClient, customer: str
) -> None:
    tid = (await open_ticket(http, customer, priority="P3"))["ticket_id"]
    await http.get(f"/tickets/{tid}")
    await http.get("/tickets/does-not-exist")
    text = (await http.get("/metrics")).text
    assert 'slaflow_tickets_opened_total{priority="P3"}' in text
    assert 'route="/tickets/{ticket_id}",status="200"' in text
    assert 'route="/tickets/{ticket_id}",status="404"' in text
    assert "does-not-exist" not in text
    assert "slaflow_http_request_duration_seconds_bucket" in text
