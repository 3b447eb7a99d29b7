"""The measurements: each drives slaflow (over HTTP) and the raw ceiling (bare SDK) alike."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from bench.http import HttpClient
from bench.profile import profiled
from bench.raw import RawTicket, RawTicketInput
from bench.stack import RAW_TASK_QUEUE, SQLITE_MODES, Stack, raw_stack
from bench.stats import Meter, Run, closed_loop, summary

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


# -- 1. opens -----------------------------------------------------------------------------


async def open_product(
    http: HttpClient, ids: list[str], concurrency: int, cap: float, **body: str
) -> Run:
    """POST /tickets, then GET it until it answers: accepted, and live (first task done)."""

    async def op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        status, answer = await http.post("/tickets", ticket_body(ids[i], **body))
        accepted = time.perf_counter()
        if status != 201:
            raise RuntimeError(f"POST /tickets answered {status}: {answer[:120]!r}")
        await http_live(http, ids[i])
        return {"accept": accepted - start, "live": time.perf_counter() - start}

    return await closed_loop(len(ids), concurrency, op, cap)


async def open_raw(
    client: Client, ids: list[str], concurrency: int, cap: float, deadline: float | None = None
) -> Run:
    """start_workflow, then a query: accepted, and live (first task done)."""

    async def op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        handle = await client.start_workflow(
            RawTicket.run,
            RawTicketInput(deadline or time.time() + FAR),
            id=ids[i],
            task_queue=RAW_TASK_QUEUE,
        )
        accepted = time.perf_counter()
        await raw_live(handle)
        return {"accept": accepted - start, "live": time.perf_counter() - start}

    return await closed_loop(len(ids), concurrency, op, cap)


async def opens(
    raw: Stack, product: Stack, count: int, concurrency: int, cap: float
) -> dict[str, Any]:
    """Measurement 1 at one concurrency; returns the result and the ids each side opened."""
    raw_ids = [f"raw-c{concurrency}-{i}" for i in range(count)]
    product_ids = [f"t-c{concurrency}-{i}" for i in range(count)]
    with Meter(raw.pids) as raw_cpu:
        raw_run = await open_raw(raw.client, raw_ids, concurrency, cap)
    assert product.http is not None
    spy: dict[str, Any] = {}
    with Meter(product.pids) as product_cpu, profiled(product.pids["slaflow"], cap, spy):
        product_run = await open_product(product.http, product_ids, concurrency, cap)
    return {
        "concurrency": concurrency,
        "raw": raw_run.result(cpu=raw_cpu.cores),
        "product": product_run.result(cpu=product_cpu.cores, **spy),
        "raw_ids": [raw_ids[i] for i in sorted(raw_run.done)],
        "product_ids": [product_ids[i] for i in sorted(product_run.done)],
    }


# -- 2. agent actions ---------------------------------------------------------------------


async def act_product(http: HttpClient, ids: list[str], concurrency: int, cap: float) -> Run:
    async def op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        status, answer = await http.post(f"/tickets/{ids[i]}/respond", {"agent_id": "bench"})
        if status != 200:
            raise RuntimeError(f"respond answered {status}: {answer[:120]!r}")
        return {"latency": time.perf_counter() - start}

    return await closed_loop(len(ids), concurrency, op, cap)


async def act_raw(client: Client, ids: list[str], concurrency: int, cap: float) -> Run:
    async def op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        await client.get_workflow_handle(ids[i]).execute_update(RawTicket.respond)
        return {"latency": time.perf_counter() - start}

    return await closed_loop(len(ids), concurrency, op, cap)


async def actions(
    raw: Stack, product: Stack, raw_ids: list[str], product_ids: list[str], concurrency: int,
    cap: float,
) -> dict[str, Any]:  # fmt: skip
    """Measurement 2 at one concurrency, each action on a ticket of its own."""
    assert product.http is not None
    with Meter(raw.pids) as raw_cpu:
        raw_run = await act_raw(raw.client, raw_ids, concurrency, cap)
    spy: dict[str, Any] = {}
    with Meter(product.pids) as product_cpu, profiled(product.pids["slaflow"], cap, spy):
        product_run = await act_product(product.http, product_ids, concurrency, cap)
    return {
        "concurrency": concurrency,
        "raw": raw_run.result(cpu=raw_cpu.cores),
        "product": product_run.result(cpu=product_cpu.cores, **spy),
    }


async def visible_after_action(
    raw: Stack, product: Stack, raw_ids: list[str], product_ids: list[str]
) -> dict[str, Any]:
    """How soon a read shows an action, one client. slaflow: the respond answer already carries
    the new state, and the first GET after it must show it. Raw: a signal, then queries every
    2 ms until one shows it (what a client without the update's answer must do)."""
    assert product.http is not None
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
    return {
        "tickets": len(product_ids),
        "product_state_in_answer": in_answer,
        "product_first_get_shows_it": on_first_read,
        "product_extra_wait_ms": 0.0 if product_ids and on_first_read == len(product_ids) else None,
        "product_get": summary(reads),
        "raw_signal_until_query_shows": summary(waits),
    }


# -- 3. reads -----------------------------------------------------------------------------


async def reads(
    raw: Stack, product: Stack, raw_ids: list[str], product_ids: list[str], count: int, cap: float
) -> dict[str, Any]:
    """Measurement 3: one client reading open, cached tickets one after another."""
    assert product.http is not None
    http = product.http

    async def product_op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        await http_live(http, product_ids[i % len(product_ids)])
        return {"latency": time.perf_counter() - start}

    async def raw_op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        await raw.client.get_workflow_handle(raw_ids[i % len(raw_ids)]).query(RawTicket.state)
        return {"latency": time.perf_counter() - start}

    await closed_loop(20, 1, raw_op, cap)  # warm both paths (connections, imports)
    await closed_loop(20, 1, product_op, cap)
    with Meter(raw.pids) as raw_cpu:
        raw_run = await closed_loop(count, 1, raw_op, cap)
    with Meter(product.pids) as product_cpu:
        product_run = await closed_loop(count, 1, product_op, cap)
    return {
        "raw": raw_run.result(cpu=raw_cpu.cores),
        "product": product_run.result(cpu=product_cpu.cores),
    }


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


async def lists(product: Stack, calls: int, cap: float) -> dict[str, Any]:
    """Measurement 6: GET /tickets with filters (first page of 100), one client; raw: the same
    visibility query with the bare client against the same server."""
    assert product.http is not None
    http = product.http
    rows: list[int] = []

    async def product_op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        status, body = await http.get(f"/tickets?{LIST_FILTERS[i % len(LIST_FILTERS)][0]}")
        if status != 200:
            raise RuntimeError(f"GET /tickets answered {status}: {body[:120]!r}")
        elapsed = time.perf_counter() - start
        rows.append(len(json.loads(body)["tickets"]))
        return {"latency": elapsed}

    async def raw_op(i: int) -> dict[str, float]:
        start = time.perf_counter()
        query = f"{BASE_QUERY} AND {LIST_FILTERS[i % len(LIST_FILTERS)][1]}"
        page = product.client.list_workflows(query, page_size=100)
        await page.fetch_next_page()
        return {"latency": time.perf_counter() - start}

    await closed_loop(len(LIST_FILTERS), 1, raw_op, cap)
    await closed_loop(len(LIST_FILTERS), 1, product_op, cap)
    rows.clear()
    with Meter(product.pids) as raw_cpu:
        raw_run = await closed_loop(calls, 1, raw_op, cap)
    with Meter(product.pids) as product_cpu:
        product_run = await closed_loop(calls, 1, product_op, cap)
    return {
        "filters": [f for f, _ in LIST_FILTERS],
        "rows_per_page_mean": round(sum(rows) / len(rows), 1) if rows else 0,
        "raw": raw_run.result(cpu=raw_cpu.cores),
        "product": product_run.result(cpu=product_cpu.cores),
    }


# -- 7. SQLite settings -------------------------------------------------------------------


async def sqlite_modes(count: int, concurrency: int, cap: float) -> dict[str, Any]:
    """Measurement 7: raw tickets live per second on a bare server per journal setting."""
    results: dict[str, Any] = {}
    for mode in ("default", "wal+normal", "wal+full"):
        async with raw_stack(mode) as stack:
            ids = [f"mode-{i}" for i in range(count)]
            with Meter(stack.pids) as cpu:
                run = await open_raw(stack.client, ids, concurrency, cap)
            wal = (stack.data_dir / "temporal.db-wal").exists()
            results[mode] = run.result(cpu=cpu.cores, pragmas=SQLITE_MODES[mode], wal_file_seen=wal)
    return results
