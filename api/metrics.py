"""The API's Prometheus metrics: request counts and latencies by route, and `GET /metrics`."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import telemetry
from api.deps import DeskDep, StoreDep
from api.routes.health import pending_effects, store_status

router = APIRouter(tags=["metrics"])

# Labels come from a bounded set whatever a client sends: the standard methods or "other", a
# route's template or "unmatched" (404, a refused Host or body). A made-up method or path must
# not make a new series: each one costs the process memory for good, and every scrape.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get("/metrics", include_in_schema=False)
async def metrics(desk: DeskDep, store: StoreDep) -> Response:
    # The outage gauges are read when scraped, like /healthz reads them.
    await asyncio.gather(store_status(store), pending_effects(desk.client))
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


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
