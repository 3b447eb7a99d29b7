"""A ticket id is taken forever (issue 15, point 3): `POST /tickets` with the id of a ticket
slaflow ever opened, running, closed, or deleted from Temporal by retention, answers 409
`ticket id already used` for any other request, and 200 with that ticket for the very same
request; the old ticket's store rows, credits and archive stay as they were.

`temporal workflow delete` stands in for retention, on a dev server of this module's own that
deletes at once. The store's row (its opening request's fingerprint) decides; without a store
that answers, Temporal's REJECT_DUPLICATE and the ticket's start input decide.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.desk import ALREADY_USED, REGISTRY_SECONDS, Desk
from api.errors import ApiError
from api.schemas import TicketCreate
from settings import Settings
from sla.actions import ChangeTicket
from sla.priorities import Priority
from store import Store
from store.archive import Archive
from store.models import TicketRow
from tests.e2e.test_archive_runs import delete, start_forgetful_server
from tests.support.http import asgi_client, wait_until
from worker import build_worker

# Breaches in seconds, with credits, for a customer with a contract.
CONFIG = """
default_policy: quick
policies:
  quick:
    calendar: always
    warn_at: [0.5]
    targets:
      P1: {response: 2s, resolution: 1h}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 24h}
    credits:
      response_breach: {P1: 2%, P2: 1%, P3: 0.5%}
      resolution_breach: {P1: 5%, P2: 2%, P3: 1%}
      monthly_cap: 30%
customers:
  acme: {policy: quick, monthly_fee: 1000, currency: EUR}
"""


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_forgetful_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("ticket-ids")
    (data_dir / "sla.yaml").write_text(CONFIG)
    return Settings(
        config=data_dir / "sla.yaml",
        data_dir=data_dir,
        task_queue=f"ticket-ids-{uuid.uuid4().hex[:8]}",
        max_request_seconds=20,
    )


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(None, settings.data_dir)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
async def http(
    server: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    """The API and a worker, as `slaflow up` wires them: one store, one archive directory."""
    async with (
        build_worker(server.client, settings, store),
        asgi_client(create_app(settings, server.client, store)) as client,
    ):
        yield client


def body(**changes: str) -> dict[str, str]:
    return {"title": "Checkout is down", "priority": "P1", "customer_id": "acme", **changes}


def fresh_id() -> str:
    return f"T-{uuid.uuid4().hex[:10]}"


def row_of(store: Store, ticket_id: str) -> dict[str, Any] | None:
    row = store.ticket(ticket_id)
    if row is None:
        return None
    return {column.name: getattr(row, column.name) for column in TicketRow.__table__.columns}


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*.json")}


def desk_on(server: WorkflowEnvironment, settings: Settings, store: Store) -> Desk:
    return Desk(
        server.client,
        settings.sla_config,
        settings.task_queue,
        timedelta(seconds=20),
        Archive(settings.data_dir / "archive"),
        store,
    )


def down_store(tmp_path: Path) -> Store:
    """A store that fails every call: its database cannot be opened."""
    return Store(f"sqlite:///{tmp_path}/no/such/dir/slaflow.sqlite3", migrate=False)


def ticket(ticket_id: str, **changes: str) -> TicketCreate:
    return TicketCreate.model_validate(body(ticket_id=ticket_id, **changes))


async def test_a_closed_ticket_deleted_from_temporal_keeps_its_id(
    server: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    tid = fresh_id()
    opened = await http.post("/tickets", json=body(ticket_id=tid))
    assert opened.status_code == 201, opened.text

    async def breached_and_credited() -> bool:
        events = await asyncio.to_thread(store.events, tid)
        return {"penalty", "escalation", "warning"} <= {e["kind"] for e in events}

    await wait_until(breached_and_credited)
    for action, payload in (("respond", {"agent_id": "alice"}), ("resolve", {"agent_id": "bob"})):
        assert (await http.post(f"/tickets/{tid}/{action}", json=payload)).status_code == 200
    assert (await http.post(f"/tickets/{tid}/close", json={})).status_code == 200
    archive = settings.data_dir / "archive" / tid

    async def archived_and_recorded() -> bool:
        row = await asyncio.to_thread(row_of, store, tid)
        return (archive / "final.json").exists() and row is not None and row["status"] == "closed"

    await wait_until(archived_and_recorded)
    closed = (await http.get(f"/tickets/{tid}")).json()
    row, events, files = row_of(store, tid), store.events(tid), files_under(archive)
    assert row is not None and row["request"]  # the opening request's fingerprint

    await delete(server.client, f"ticket-{tid}")  # what retention does after 30 days

    for other in (
        body(ticket_id=tid, customer_id="globex"),
        body(ticket_id=tid, title="Checkout is slow"),
        body(ticket_id=tid, priority="P2"),
    ):
        refused = await http.post("/tickets", json=other)
        assert (refused.status_code, refused.json()) == (409, {"detail": ALREADY_USED}), other
    again = await http.post("/tickets", json=body(ticket_id=tid, description="ignored"))
    assert again.status_code == 200, again.text
    assert again.json() == closed  # from the archive
    assert again.headers["Location"] == f"/tickets/{tid}"

    # With the store down too, the archive keeps the id: Temporal no longer has it.
    without_store = desk_on(server, settings, down_store(tmp_path))
    state, created = await without_store.open(ticket(tid, description="ignored"), None)
    assert not created and state.closed_at is not None
    with pytest.raises(ApiError) as taken:
        await without_store.open(ticket(tid, priority="P2"), None)
    assert (taken.value.status_code, taken.value.detail) == (409, ALREADY_USED)

    assert row_of(store, tid) == row
    assert store.events(tid) == events
    assert files_under(archive) == files
    with pytest.raises(RPCError):  # no workflow came back
        await server.client.get_workflow_handle(f"ticket-{tid}").describe()


async def test_the_opening_priority_decides_not_the_priority_now(
    store: Store, http: httpx.AsyncClient
) -> None:
    tid = fresh_id()
    assert (await http.post("/tickets", json=body(ticket_id=tid, priority="P3"))).status_code == 201

    async def recorded() -> bool:
        row = await asyncio.to_thread(row_of, store, tid)
        return row is not None and row["request"] is not None

    await wait_until(recorded)  # the store's row decides from here on
    changed = await http.patch(f"/tickets/{tid}", json={"priority": "P1"})
    assert changed.json()["priority"] == "P1"
    same = await http.post("/tickets", json=body(ticket_id=tid, priority="P3"))
    assert same.status_code == 200, same.text
    assert same.json()["priority"] == "P1"  # the ticket as it is now
    now = await http.post("/tickets", json=body(ticket_id=tid, priority="P1"))
    assert (now.status_code, now.json()) == (409, {"detail": ALREADY_USED})


async def test_an_idempotency_key_is_taken_the_same_way(http: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    first = await http.post("/tickets", json=body(), headers=key)
    again = await http.post("/tickets", json=body(), headers=key)
    other = await http.post("/tickets", json=body(title="Another thing"), headers=key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert other.json() == {"detail": ALREADY_USED}


async def test_racing_opens_of_one_id_start_one_ticket(http: httpx.AsyncClient) -> None:
    tid = fresh_id()
    same = await asyncio.gather(
        *(http.post("/tickets", json=body(ticket_id=tid)) for _ in range(6))
    )
    assert sorted(r.status_code for r in same) == [200] * 5 + [201]
    assert len({r.json()["created_at"] for r in same}) == 1

    tid = fresh_id()
    titles = await asyncio.gather(
        *(http.post("/tickets", json=body(ticket_id=tid, title=f"title {n}")) for n in range(6))
    )
    assert sorted(r.status_code for r in titles) == [201] + [409] * 5


# -- without the store ----------------------------------------------------------------------


async def test_with_the_store_down_temporal_still_keeps_each_id_and_its_opening_request(
    server: WorkflowEnvironment,
    settings: Settings,
    http: httpx.AsyncClient,  # the worker
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk = desk_on(server, settings, down_store(tmp_path))
    tid = fresh_id()
    with caplog.at_level(logging.WARNING, logger="slaflow.api"):
        state, created = await desk.open(ticket(tid, priority="P3"), None)
    assert created and state.ticket_id == tid
    assert any("store did not answer" in r.getMessage() for r in caplog.records)

    await desk.act(tid, ChangeTicket(priority=Priority.P1))
    state, created = await desk.open(ticket(tid, priority="P3"), None)
    assert (created, state.priority) == (False, Priority.P1)  # its start input said P3
    for other in (
        ticket(tid, priority="P1"),
        ticket(tid, customer_id="globex", priority="P3"),
        ticket(tid, title="Other", priority="P3"),
    ):
        with pytest.raises(ApiError) as refused:
            await desk.open(other, None)
        assert (refused.value.status_code, refused.value.detail) == (409, ALREADY_USED)


async def test_a_store_that_does_not_answer_holds_an_open_for_seconds_only(
    server: WorkflowEnvironment, settings: Settings, http: httpx.AsyncClient
) -> None:
    released = threading.Event()

    def never_connects() -> Any:
        released.wait(60)
        raise ConnectionError("the test is over")

    hung = Store("sqlite://", migrate=False)
    hung.engine = create_engine("sqlite://", creator=never_connects)
    desk = desk_on(server, settings, hung)
    try:
        started = time.monotonic()
        _, created = await desk.open(ticket(fresh_id()), None)
        assert created
        assert time.monotonic() - started < REGISTRY_SECONDS + 3
        started = time.monotonic()  # the store is left alone for a while: no wait at all
        _, created = await desk.open(ticket(fresh_id()), None)
        assert created and time.monotonic() - started < 1
    finally:
        released.set()
