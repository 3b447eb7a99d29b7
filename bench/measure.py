"""The measurements: each drives slaflow (over HTTP) and the raw ceiling (bare SDK) alike."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError

from bench.http import HttpClient
from bench.profile import profiled
from bench.raw import RawTicket, RawTicketInput
from bench.records import Floor, Lists, Loop, Pair, SqliteMode, Visible
from bench.stack import RAW_TASK_QUEUE, SQLITE_MODES, SlaflowStack, Stack, raw_stack
from bench.stats import Meter, Op, Run, closed_loop, summary
from config import shipped_config_path
from config.resolve import policy_snapshot
from settings import load_config_file
from sla.priorities import Priority
from sla.ticket import OpenTicket, Ticket
from workflows.search_attributes import initial_search_attributes

LIVE_ATTEMPTS = 5  # a read that fails (e.g. times out behind a backlog) is tried again
FAR = 3600.0  # deadline of tickets that must not breach during a run, in seconds


def ticket_body(ticket_id: str, priority: str = "P2", customer: str = "cust-0") -> dict[str, Any]:
    return {"ticket_id": ticket_id, "title": "bench", "priority": priority, "customer_id": customer}


async def http_live(http: HttpClient, ticket_id: str) -> bytes:
    """GET /tickets/{id}: its query waits on the server for the first workflow task."""
    status, body = 0, b""
    for _ in range(LIVE_ATTEMPTS):
        status, body = await http.get(f"/tickets/{ticket_id}")
        if status == 200:
            return body
    raise RuntimeError(f"GET /tickets/{ticket_id} answered {status}: {body[:120]!r}")


async def raw_live(handle: WorkflowHandle[Any, Any]) -> None:
    """A query: the server holds it until the first workflow task is done."""
    for attempt in range(LIVE_ATTEMPTS):
        try:
            await handle.query(RawTicket.state)
            return
        except RPCError:
            if attempt == LIVE_ATTEMPTS - 1:
                raise


def _timed(op: Callable[[int], Awaitable[object]]) -> Op:
    """An op whose whole duration is its one phase, "latency"."""

    async def timed(i: int) -> dict[str, float]:
        start = time.perf_counter()
        await op(i)
        return {"latency": time.perf_counter() - start}

    return timed


async def metered(
    stack: Stack, loop: Callable[[], Awaitable[Run]], spy: float | None = None
) -> tuple[Run, Loop]:
    """A loop with the CPU of the stack's processes over it (and py-spy on its worker for at
    most `spy` seconds)."""
    with Meter(stack) as meter, profiled(stack.worker, spy) as sampled:
        run = await loop()
    return run, run.result(meter.cpu, sampled.profile)


async def _pair(
    raw: tuple[Stack, Callable[[], Awaitable[Run]]],
    product: tuple[Stack, Callable[[], Awaitable[Run]]],
    spy: float | None = None,
    concurrency: int | None = None,
) -> tuple[Pair, Run, Run]:
    """The raw loop, then slaflow's right after it, so that both see the same machine."""
    raw_run, raw_loop = await metered(*raw)
    product_run, product_loop = await metered(*product, spy)
    return Pair(raw=raw_loop, product=product_loop, concurrency=concurrency), raw_run, product_run


# -- 1. opens -----------------------------------------------------------------------------


async def open_product(
    http: HttpClient, ids: list[str], concurrency: int, cap: float,
    body: Callable[[int], dict[str, Any]] | None = None, live: Callable[[], None] = lambda: None,
) -> Run:  # fmt: skip
    """POST /tickets, then GET it until it answers: accepted, and live (first task done);
    `body(i)` for ticket i (a P2 of cust-0 by default), `live()` after each live ticket."""

    async def op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        status, answer = await http.post("/tickets", body(i) if body else ticket_body(ids[i]))
        accepted = time.perf_counter()
        if status != 201:
            raise RuntimeError(f"POST /tickets answered {status}: {answer[:120]!r}")
        await http_live(http, ids[i])
        live()
        return {"accept": accepted - start, "live": time.perf_counter() - start}

    return await closed_loop(len(ids), concurrency, op, cap)


async def open_raw(
    client: Client, ids: list[str], concurrency: int, cap: float, deadline: float | None = None,
    attributes: TypedSearchAttributes | None = None,
) -> Run:  # fmt: skip
    """start_workflow (with `attributes`, measurement 8), then a query: accepted, and live
    (first task done)."""

    async def op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        handle = await client.start_workflow(
            RawTicket.run,
            RawTicketInput(deadline or time.time() + FAR),
            id=ids[i],
            task_queue=RAW_TASK_QUEUE,
            search_attributes=attributes,
        )
        accepted = time.perf_counter()
        await raw_live(handle)
        return {"accept": accepted - start, "live": time.perf_counter() - start}

    return await closed_loop(len(ids), concurrency, op, cap)


async def opens(
    raw: Stack, product: SlaflowStack, count: int, concurrency: int, cap: float
) -> tuple[Pair, list[str], list[str]]:
    """Measurement 1 at one concurrency; the figure and the ids each side opened."""
    raw_ids = [f"raw-c{concurrency}-{i}" for i in range(count)]
    product_ids = [f"t-c{concurrency}-{i}" for i in range(count)]
    pair, raw_run, product_run = await _pair(
        (raw, lambda: open_raw(raw.client, raw_ids, concurrency, cap)),
        (product, lambda: open_product(product.http, product_ids, concurrency, cap)),
        spy=cap,
        concurrency=concurrency,
    )
    return (
        pair,
        [raw_ids[i] for i in sorted(raw_run.done)],
        [product_ids[i] for i in sorted(product_run.done)],
    )


# -- 2. agent actions ---------------------------------------------------------------------


async def respond_raw(client: Client, ids: list[str], concurrency: int, cap: float) -> Run:
    """The raw respond Update on each workflow once."""

    async def act(i: int) -> None:
        await client.get_workflow_handle(ids[i]).execute_update(RawTicket.respond)

    return await closed_loop(len(ids), concurrency, _timed(act), cap)


async def respond_product(http: HttpClient, ids: list[str], concurrency: int, cap: float) -> Run:
    """POST /tickets/{id}/respond on each ticket once."""

    async def act(i: int) -> None:
        status, answer = await http.post(f"/tickets/{ids[i]}/respond", {"agent_id": "bench"})
        if status != 200:
            raise RuntimeError(f"respond answered {status}: {answer[:120]!r}")

    return await closed_loop(len(ids), concurrency, _timed(act), cap)


async def actions(
    raw: Stack, product: SlaflowStack, raw_ids: list[str], product_ids: list[str],
    concurrency: int, cap: float,
) -> Pair:  # fmt: skip
    """Measurement 2 at one concurrency, each action on a ticket of its own."""

    pair, _, _ = await _pair(
        (raw, lambda: respond_raw(raw.client, raw_ids, concurrency, cap)),
        (product, lambda: respond_product(product.http, product_ids, concurrency, cap)),
        spy=cap,
        concurrency=concurrency,
    )
    return pair


# -- 8. the floor -------------------------------------------------------------------------


def ticket_attributes() -> TypedSearchAttributes:
    """The search attributes slaflow starts a P2 ticket of cust-0 with (api/desk.py), from its
    own code and shipped config, as the bench's tickets are opened."""
    config = load_config_file(shipped_config_path())
    now = datetime.now(UTC)
    new = OpenTicket(
        ticket_id="floor", customer_id="cust-0", title="bench", priority=Priority.P2,
        policy=policy_snapshot(config, now, "cust-0"),
    )  # fmt: skip
    return initial_search_attributes(Ticket.open(new, now).state)


async def floor(raw: Stack, opens: int, actions: int, concurrency: int, cap: float) -> Floor:
    """Measurement 8, on the raw stack: the raw workflow started with the search attributes a
    ticket starts with, then its respond Update upserting what slaflow's respond upserts
    (TicketStatus, ResponseDueAt). These visibility writes are what lists filter on: the
    server's share of a ticket that no change of slaflow's can remove."""
    ids = [f"floor-c{concurrency}-{i}" for i in range(opens)]
    attributes = ticket_attributes()
    opened, open_loop = await metered(
        raw, lambda: open_raw(raw.client, ids, concurrency, cap, attributes=attributes)
    )
    live = [ids[i] for i in sorted(opened.done)][:actions]
    _, act_loop = await metered(raw, lambda: respond_raw(raw.client, live, concurrency, cap))
    return Floor(concurrency=concurrency, opens=open_loop, actions=act_loop)


async def visible_after_action(
    raw: Stack, product: SlaflowStack, raw_ids: list[str], product_ids: list[str]
) -> Visible:
    """How soon a read shows an action, one client. slaflow: the respond answer already carries
    the new state, and the first GET after it must show it. Raw: a signal, then queries every
    2 ms until one shows it (what a client without the update's answer must do)."""
    in_answer = on_first_read = 0
    reads: list[float] = []
    for ticket_id in product_ids:
        status, answer = await product.http.post(
            f"/tickets/{ticket_id}/respond", {"agent_id": "bench"}
        )
        in_answer += status == 200 and json.loads(answer)["status"] == "responded"
        start = time.perf_counter()
        body = json.loads(await http_live(product.http, ticket_id))
        reads.append(time.perf_counter() - start)
        on_first_read += body["status"] == "responded" and body["response"]["state"] == "met"
    waits: list[float] = []
    for workflow_id in raw_ids:
        handle = raw.client.get_workflow_handle(workflow_id)
        start = time.perf_counter()
        await handle.signal("respond")
        for _ in range(2500):  # at most 5 s
            if (await handle.query(RawTicket.state))["responded"]:
                break
            await asyncio.sleep(0.002)
        waits.append(time.perf_counter() - start)
    return Visible(
        tickets=len(product_ids),
        product_state_in_answer=in_answer,
        product_first_get_shows_it=on_first_read,
        product_extra_wait_ms=0.0 if product_ids and on_first_read == len(product_ids) else None,
        product_get=summary(reads),
        raw_signal_until_query_shows=summary(waits),
    )


# -- 3. reads -----------------------------------------------------------------------------


async def reads(
    raw: Stack, product: SlaflowStack, raw_ids: list[str], product_ids: list[str], count: int,
    cap: float,
) -> Pair:  # fmt: skip
    """Measurement 3: one client reading open, cached tickets one after another."""
    product_op = _timed(lambda i: http_live(product.http, product_ids[i % len(product_ids)]))
    raw_op = _timed(
        lambda i: raw.client.get_workflow_handle(raw_ids[i % len(raw_ids)]).query(RawTicket.state)
    )
    await closed_loop(20, 1, raw_op, cap)  # warm both paths (connections, imports)
    await closed_loop(20, 1, product_op, cap)
    pair, _, _ = await _pair(
        (raw, lambda: closed_loop(count, 1, raw_op, cap)),
        (product, lambda: closed_loop(count, 1, product_op, cap)),
    )
    return pair


# -- 6. lists -----------------------------------------------------------------------------

LIST_FILTERS = (
    ("priority=P1", "TicketPriority = 'P1'"),
    ("status=open", "TicketStatus = 'open'"),
    ("customer_id=cust-7", "CustomerId = 'cust-7'"),
    ("breached=false&priority=P2", "TicketPriority = 'P2' AND SlaBreached = false"),
    ("status=open&priority=P3&customer_id=cust-3",
     "TicketStatus = 'open' AND TicketPriority = 'P3' AND CustomerId = 'cust-3'"),
)  # fmt: skip
BASE_QUERY = "WorkflowType = 'TicketWorkflow' AND ExecutionStatus != 'ContinuedAsNew'"


async def lists(product: SlaflowStack, opened: Loop, asked: int, calls: int, cap: float) -> Lists:
    """Measurement 6: GET /tickets with filters (first page of 100), one client; raw: the same
    visibility query with the bare client against the same server."""
    pages: list[bytes] = []  # counted after the loop, so the latency is the call alone

    async def product_op(i: int) -> None:
        status, body = await product.http.get(f"/tickets?{LIST_FILTERS[i % len(LIST_FILTERS)][0]}")
        if status != 200:
            raise RuntimeError(f"GET /tickets answered {status}: {body[:120]!r}")
        pages.append(body)

    async def raw_op(i: int) -> None:
        query = f"{BASE_QUERY} AND {LIST_FILTERS[i % len(LIST_FILTERS)][1]}"
        await product.client.list_workflows(query, page_size=100).fetch_next_page()

    await closed_loop(len(LIST_FILTERS), 1, _timed(raw_op), cap)
    await closed_loop(len(LIST_FILTERS), 1, _timed(product_op), cap)
    pages.clear()
    pair, _, _ = await _pair(
        (product, lambda: closed_loop(calls, 1, _timed(raw_op), cap)),
        (product, lambda: closed_loop(calls, 1, _timed(product_op), cap)),
    )
    rows = [len(json.loads(page)["tickets"]) for page in pages]
    return Lists(
        **pair.model_dump(),
        tickets=opened.count,
        asked=asked,
        open=opened,
        filters=[f for f, _ in LIST_FILTERS],
        rows_per_page_mean=round(sum(rows) / len(rows), 1) if rows else 0,
    )


# -- 7. SQLite settings -------------------------------------------------------------------


async def sqlite_modes(count: int, concurrency: int, cap: float) -> dict[str, SqliteMode]:
    """Measurement 7: raw tickets live per second on a bare server per journal setting."""
    results: dict[str, SqliteMode] = {}
    for mode, pragmas in SQLITE_MODES.items():
        async with raw_stack(mode) as stack:
            ids = [f"mode-{i}" for i in range(count)]
            _, loop = await metered(
                stack,
                lambda: open_raw(stack.client, ids, concurrency, cap),  # noqa: B023
            )
            wal = (stack.data_dir / "temporal.db-wal").exists()
            results[mode] = SqliteMode(**loop.model_dump(), pragmas=pragmas, wal_file_seen=wal)
    return results
