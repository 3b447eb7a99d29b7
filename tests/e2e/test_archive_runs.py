"""Every run is archived (issue 15, point 4): each run of a ticket on its own as it ends, so
retention, which deletes each run on its own, never takes a part of a ticket's history the
archive lacks; `/history` returns every run, from Temporal or the archive.

On a dev server of this module's own that deletes at once: `temporal workflow delete` stands
in for retention (the dev server otherwise waits up to 30 s for its queues' ack levels).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.archive import ArchiveActivities
from api.app import create_app
from settings import Settings
from sla.actions import Close, Comment, Resolve, Respond
from sla.schedules import ARCHIVE_WORKFLOW, ArchiveRequest, archive_workflow_id
from store import Store
from store.archive import Archive
from store.history import fetch_runs
from tests.support.http import API_CONFIG, asgi_client, open_ticket, wait_until
from tests.support.processes import SLAFLOW
from tests.support.workflows import signal
from worker import build_worker
from workflows.archive import ArchiveTicketWorkflow
from workflows.search_attributes import ALL_KEYS

TEMPORAL = Path(sys.executable).parent / "temporal"


async def start_forgetful_server(*extra: str) -> WorkflowEnvironment:
    """A dev server whose `temporal workflow delete` takes effect at once; `extra`: more
    dynamic config values."""
    values = ['history.transferProcessorUpdateAckInterval="1s"', *extra]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            arg for value in values for arg in ("--dynamic-config-value", value)
        ],
    )


async def delete(client: Client, workflow_id: str, run_id: str | None = None) -> None:
    """What retention does, with the stock CLI: the run (or the whole workflow) deleted."""
    args = ["workflow", "delete", "--yes", "--workflow-id", workflow_id]
    args += ["--address", client.service_client.config.target_host]
    args += ["--namespace", client.namespace, *(["--run-id", run_id] if run_id else [])]
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()

    async def gone() -> bool:
        try:
            await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
        except RPCError:
            return True
        return False

    await wait_until(gone, seconds=20)


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    # Continue-as-new suggested after 60 events, so a ticket has several runs in seconds.
    env = await start_forgetful_server("limit.historyCount.suggestContinueAsNew=60")
    yield env
    await env.shutdown()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        config=API_CONFIG,
        data_dir=tmp_path,
        task_queue=f"archive-runs-{uuid.uuid4().hex[:8]}",
        max_request_seconds=20,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(None, settings.data_dir)
    yield opened
    opened.close()


@pytest.fixture
async def http(
    server: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(settings, server.client, store)) as client:
        yield client


# -- the archive workflow on a chain of runs of its own ---------------------------------------


@workflow.defn(name="ThreeRuns", sandboxed=False)  # the sandbox cannot import a test module
class ThreeRuns:
    """A workflow of three runs (two continue-as-new), the last one waiting to be finished."""

    def __init__(self) -> None:
        self._finished = False

    @workflow.signal
    def finish(self) -> None:
        self._finished = True

    @workflow.run
    async def run(self, runs_left: int) -> dict[str, str]:
        if runs_left > 1:
            workflow.continue_as_new(runs_left - 1)
        await workflow.wait_condition(lambda: self._finished)
        return {"status": "closed"}


@pytest.fixture
async def chain_worker(server: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Archive]:
    """A worker of ThreeRuns and the archiving workflow, into the settings' archive."""
    archive = Archive(settings.data_dir / "archive")
    activities = ArchiveActivities(server.client, archive)
    async with Worker(
        server.client,
        task_queue=settings.task_queue,
        workflows=[ThreeRuns, ArchiveTicketWorkflow],
        activities=[activities.archive_ticket],
        activity_executor=ThreadPoolExecutor(max_workers=2),
    ):
        yield archive


async def three_runs(client: Client, ticket_id: str, task_queue: str) -> list[str]:
    """Starts ThreeRuns as the ticket's workflow; its run ids, oldest first, once the third
    waits (its history stays as it is until it is finished)."""
    await client.start_workflow(ThreeRuns.run, 3, id=f"ticket-{ticket_id}", task_queue=task_queue)
    runs: list[str] = []

    async def third_waits() -> bool:
        nonlocal runs
        fetched = await fetch_runs(client, f"ticket-{ticket_id}")
        runs = [run_id for run_id, _ in fetched]
        kinds = [event["eventType"] for event in fetched[-1][1]]
        return len(runs) == 3 and kinds[-1] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"

    await wait_until(third_waits)
    return runs


async def archive_run(
    client: Client, ticket_id: str, run_id: str, task_queue: str
) -> WorkflowHandle[Any, str]:
    """As a ticket's run does when it ends: the archiving workflow of that run."""
    request = ArchiveRequest(
        ticket_id=ticket_id, workflow_id=f"ticket-{ticket_id}", run_id=run_id, task_queue=task_queue
    )
    return await client.start_workflow(
        ARCHIVE_WORKFLOW,
        request,
        id=archive_workflow_id(request.workflow_id, run_id),
        task_queue=task_queue,
        result_type=str,
    )


async def test_each_run_is_archived_on_its_own_and_the_last_leaves_the_final_state(
    server: WorkflowEnvironment, settings: Settings, chain_worker: Archive
) -> None:
    client, queue = server.client, settings.task_queue
    runs = await three_runs(client, "chain", queue)
    live = await fetch_runs(client, "ticket-chain")
    # All three at once, the last while its run still runs: it waits for the run to end.
    archiving = [await archive_run(client, "chain", run_id, queue) for run_id in runs]
    ended = await asyncio.gather(*(handle.result() for handle in archiving[:2]))
    assert all(
        Path(where).name.endswith(f"-{run_id}.json")
        for where, run_id in zip(ended, runs, strict=False)
    )
    assert [run["run_id"] for run in chain_worker.runs("chain")] == runs[:2]
    assert chain_worker.final("chain") is None  # continued as new: no final state
    still = await client.get_workflow_handle(archiving[2].id).describe()
    assert still.status == WorkflowExecutionStatus.RUNNING

    await client.get_workflow_handle("ticket-chain").signal(ThreeRuns.finish)
    await archiving[2].result()
    document = chain_worker.read("chain")
    assert document is not None
    assert [(run["run_id"], run["events"]) for run in document["runs"]] == [
        *live[:2],
        *(await fetch_runs(client, "ticket-chain"))[2:],
    ]
    assert document["final_state"] == {"status": "closed"}
    assert document["workflow_id"] == "ticket-chain"
    final = chain_worker.final("chain")
    assert final is not None and final["run_id"] == runs[2]
    last = document["runs"][2]
    assert last["events"][-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    assert last["raw"]["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


async def test_archiving_a_run_again_writes_the_same_run(
    server: WorkflowEnvironment, settings: Settings, chain_worker: Archive
) -> None:
    client, queue = server.client, settings.task_queue
    runs = await three_runs(client, "again", queue)
    first = await archive_run(client, "again", runs[0], queue)
    await first.result()
    before = chain_worker.runs("again")
    # A second archiving workflow of the same run (a retried start, a rerun by hand).
    request = ArchiveRequest(
        ticket_id="again", workflow_id="ticket-again", run_id=runs[0], task_queue=queue
    )
    await client.execute_workflow(
        ArchiveTicketWorkflow.run, request, id=f"archive-again-{uuid.uuid4().hex}", task_queue=queue
    )
    after = chain_worker.runs("again")
    assert len(after) == 1 and after[0]["events"] == before[0]["events"]
    await client.get_workflow_handle("ticket-again").terminate("test over")


async def test_history_of_a_live_ticket_whose_first_run_was_deleted_has_every_run(
    server: WorkflowEnvironment,
    settings: Settings,
    chain_worker: Archive,
    http: httpx.AsyncClient,
) -> None:
    client, queue = server.client, settings.task_queue
    runs = await three_runs(client, "long", queue)
    for run_id in runs[:2]:
        await (await archive_run(client, "long", run_id, queue)).result()
    before = (await http.get("/tickets/long/history")).json()
    assert [run["run_id"] for run in before["runs"]] == runs

    await delete(client, "ticket-long", runs[0])
    after = await http.get("/tickets/long/history")
    assert after.status_code == 200, after.text
    assert after.json() == before  # the first run from the archive, the others from Temporal

    # A middle run gone too: still every run, oldest first.
    await delete(client, "ticket-long", runs[1])
    assert (await http.get("/tickets/long/history")).json() == before
    await client.get_workflow_handle("ticket-long").terminate("test over")


async def test_history_of_a_ticket_never_archived_and_not_in_temporal_is_404(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/tickets/nothing-here/history")).status_code == 404


# -- a real ticket ------------------------------------------------------------------------------


async def test_a_ticket_that_continued_as_new_archives_every_run_and_history_outlives_them(
    server: WorkflowEnvironment, settings: Settings, store: Store, http: httpx.AsyncClient
) -> None:
    client = server.client
    worker = build_worker(client, settings, store)
    async with worker:
        ticket = await open_ticket(http, "acme-e2e", priority="P3")
        tid = ticket["ticket_id"]
        handle = client.get_workflow_handle(f"ticket-{tid}")
        await signal(handle, Respond(agent_id="alice"))
        for n in range(80):  # enough for two runs at least
            await signal(handle, Comment(author="bob", body=f"comment {n}"))
        archive = Archive(settings.data_dir / "archive")
        live: list[Any] = []

        async def quiet_and_archived() -> bool:
            """Every comment taken, the latest run waiting (for a timer: nothing else comes),
            and every ended run archived."""
            nonlocal live
            if (await http.get(f"/tickets/{tid}")).json()["comment_count"] < 80:
                return False
            live = await fetch_runs(client, f"ticket-{tid}")
            latest = live[-1][1]
            tasks = [e["eventType"] for e in latest if "_WORKFLOW_TASK_" in e["eventType"]]
            waiting = bool(tasks) and tasks[-1] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
            ended = [run_id for run_id, _ in live[:-1]]
            archived = await asyncio.to_thread(archive.runs, tid)
            return waiting and [run["run_id"] for run in archived] == ended

        await wait_until(quiet_and_archived)
        assert len(live) >= 2, "the ticket should have continued as new"
        assert await asyncio.to_thread(archive.final, tid) is None  # it still runs

        await delete(client, f"ticket-{tid}", live[0][0])
        history = await http.get(f"/tickets/{tid}/history")
        assert history.status_code == 200, history.text
        runs = history.json()["runs"]
        assert [run["run_id"] for run in runs] == [run_id for run_id, _ in live]
        # Every ended run as it was (the first from the archive); the live one goes on.
        assert [run["events"] for run in runs[:-1]] == [events for _, events in live[:-1]]
        assert runs[-1]["events"][: len(live[-1][1])] == live[-1][1]

        await signal(handle, Resolve(agent_id="alice"))
        await signal(handle, Close())

        async def closed_and_archived() -> bool:
            return await asyncio.to_thread(archive.final, tid) is not None

        await wait_until(closed_and_archived)
        in_temporal = await fetch_runs(client, f"ticket-{tid}")
    document = archive.read(tid)
    assert document is not None
    assert document["final_state"]["status"] == "closed"
    assert [(run["run_id"], run["events"]) for run in document["runs"]] == [
        (live[0][0], runs[0]["events"]),
        *in_temporal,
    ]
    final = archive.final(tid)
    assert final is not None
    assert final["opened_with"] == {
        "customer_id": "acme-e2e",
        "title": "VPN down",
        "priority": "P3",
    }

    # `slaflow replay` of the ticket's archive directory replays every run of it, oldest
    # first, and each replays cleanly: continued as new or completed.
    replay = await asyncio.create_subprocess_exec(
        SLAFLOW, "replay", str(settings.data_dir / "archive" / tid),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await replay.communicate()
    replayed = [
        line.split(" run ")[1].split(":")[0]
        for line in out.decode().splitlines()
        if line.startswith(("ok    ", "BREAK "))
    ]
    assert replayed == [run["run_id"] for run in document["runs"]], out.decode()
    assert replay.returncode == 0 and "BREAK" not in out.decode(), out.decode()
