"""Probes. Liveness (`/livez`): the process serves HTTP, nothing else is asked, so a Temporal
blip never gets a healthy API restarted. Readiness (`/readyz`, and `/healthz` as before):
Temporal reachable AND a worker polling the ticket task queue; and what waits.

The store is reported but does not decide readiness: tickets keep their clocks while it is
down (their records wait, docs/design.md), so a store outage shows here and in metrics
without taking the API out of a load balancer.

It needs no key, so it tells a caller without a staff key only "ok" or "unavailable": Temporal's
error text, the namespace, the task queue and the store are ours to know.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

import telemetry
from api.auth import current_principal
from api.deps import DeskDep, StoreDep
from api.errors import ApiError
from store import Store
from workflows.search_attributes import RECORDS_PENDING

log = logging.getLogger("slaflow.api")

router = APIRouter(tags=["health"])

# A poller the server has not heard from for this long is gone.
POLLER_FRESHNESS = timedelta(minutes=1)
# How long each check may take: a health check answers in seconds whatever is down.
CHECK_SECONDS = 3.0
PENDING_QUERY = (
    f"WorkflowType = 'TicketWorkflow' AND ExecutionStatus = 'Running' "
    f"AND {RECORDS_PENDING.name} > 0"
)


async def store_status(store: Store) -> str:
    """ "ok" or "unavailable"; also the `slaflow_store_up` gauge."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await asyncio.to_thread(store.ping)
    except Exception as exc:  # any failure to answer is the store being unavailable
        log.warning("store check failed", extra={"fields": {"error": type(exc).__name__}})
        telemetry.STORE_UP.set(0)
        return "unavailable"
    telemetry.STORE_UP.set(1)
    return "ok"


async def pending_effects(client: Client) -> int | None:
    """Running tickets whose records wait for the store, from visibility; None when
    visibility cannot say (no custom search attributes, or Temporal is slow)."""
    try:
        counted = await client.count_workflows(
            PENDING_QUERY, rpc_timeout=timedelta(seconds=CHECK_SECONDS)
        )
    except Exception:  # Temporal unreachable or slow: /readyz says so on its own
        return None
    telemetry.PENDING_EFFECTS.set(counted.count)
    return counted.count


def _staff(request: Request) -> bool:
    """A staff key, or no keys file (every caller an admin); a missing or wrong key is no 401
    here, only the short answer."""
    try:
        return current_principal(request).staff
    except ApiError:
        return False


@router.get("/livez")
async def livez() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
@router.get("/healthz")
async def readyz(request: Request, desk: DeskDep, store: StoreDep) -> JSONResponse:
    detailed = _staff(request)
    client = desk.client
    try:
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=desk.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=CHECK_SECONDS),
        )
    except RPCError as exc:
        if not detailed:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse(
            {
                "status": "unavailable",
                "detail": f"Temporal is not reachable: {exc.message}",
                "store": await store_status(store),
            },
            status_code=503,
        )
    now = datetime.now(UTC)
    workers = [
        p
        for p in described.pollers
        if now - p.last_access_time.ToDatetime(tzinfo=UTC) < POLLER_FRESHNESS
    ]
    if not detailed:  # nor the store and visibility checks: this answer does not need them
        ready = bool(workers)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable"}, status_code=200 if ready else 503
        )
    stored, pending = await asyncio.gather(store_status(store), pending_effects(client))
    body = {
        "temporal": "reachable",
        "namespace": client.namespace,
        "task_queue": desk.task_queue,
        "workers": len(workers),
        "store": stored,
        "pending_effects": pending,
    }
    if not workers:
        return JSONResponse(
            {"status": "starting", "detail": "no worker polls the ticket task queue", **body},
            status_code=503,
        )
    return JSONResponse({"status": "ok", **body})
