"""The API's Prometheus metrics: request counts and latencies by route, and `GET /metrics`."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

import telemetry
from api.deps import DeskDep, StoreDep
from api.routes.health import CHECK_SECONDS, pending_effects, store_status
from workflows.search_attributes import SLA_BREACHED, TICKET_STATUS

router = APIRouter(tags=["metrics"])

# Labels come from a bounded set whatever a client sends: the standard methods or "other", a
# route's template or "unmatched" (404, a refused Host or body). A made-up method or path must
# not make a new series: each one costs the process memory for good, and every scrape.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# Tickets not yet resolved (their workflow runs on until closed), by SlaBreached.
OPEN_QUERY = (
    "WorkflowType = 'TicketWorkflow' AND ExecutionStatus = 'Running' "
    f"AND {TICKET_STATUS.name} IN ('open', 'responded', 'waiting_on_customer') "
    f"AND {SLA_BREACHED.name} = "
)
SLA_STATES = {"breached": "true", "on_track": "false"}


@router.get("/metrics", include_in_schema=False)
async def metrics(desk: DeskDep, store: StoreDep) -> Response:
    # The gauges from the store and visibility are read when scraped, as /readyz reads them.
    await asyncio.gather(
        store_status(store), pending_effects(desk.client), open_tickets(desk.client)
    )
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


async def open_tickets(client: Client) -> None:
    """slaflow_open_tickets{sla}; left as last read when visibility cannot say."""
    try:
        counts = await asyncio.gather(
            *(
                client.count_workflows(
                    OPEN_QUERY + value, rpc_timeout=timedelta(seconds=CHECK_SECONDS)
                )
                for value in SLA_STATES.values()
            )
        )
    except Exception:  # Temporal unreachable or slow: /readyz says so
        return
    for state, counted in zip(SLA_STATES, counts, strict=True):
        telemetry.OPEN_TICKETS.labels(state).set(counted.count)


class RequestMetrics:
    """Plain ASGI (no BaseHTTPMiddleware): it must not get between the app and the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            # The route's template (/tickets/{ticket_id}), never the raw path; a 405 has it too.
            name = getattr(scope.get("route"), "path", None)
            if not isinstance(name, str):
                name = "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"
            telemetry.HTTP_REQUESTS.labels(method, name, str(status)).inc()
            telemetry.HTTP_LATENCY.labels(method, name).observe(time.perf_counter() - started)
