"""A worker process's own HTTP, on SLAFLOW_WORKER_METRICS_ADDRESS: `/livez`, `/readyz` and
`/metrics` (the slaflow_* counters the worker increments; the API serves its own at /metrics).

Liveness asks nothing: the process serves HTTP. Readiness: the worker runs, Temporal lists its
workflow and activity pollers on the task queue (the SDK says nothing of its pollers, the
server does), and the store answers. Unlike the API's, a store outage makes a worker unready:
no traffic is routed by it, but a rolling update should not swap in a worker that cannot
write. Answers carry states, never error text: the address may be wider than the API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.worker import Worker

import telemetry
from api.routes.health import CHECK_SECONDS, POLLER_FRESHNESS, store_status
from store import Store

POLLERS = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


class WorkerProbes:
    """What /readyz asks about; `serve` in cli.py fills it in once the worker is built."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.store: Store | None = None
        self.stopping = False

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        worker, store = self.worker, self.store
        if self.stopping:
            return False, {"status": "stopping"}
        if worker is None or store is None or not worker.is_running:
            return False, {"status": "starting"}
        polling, stored = await asyncio.gather(_polling(worker), store_status(store))
        ready = polling is not None and all(polling.values()) and stored == "ok"
        body = {
            "status": "ok" if ready else "unavailable",
            "temporal": "unreachable" if polling is None else "reachable",
            "pollers": polling,
            "store": stored,
        }
        return ready, body


async def _polling(worker: Worker) -> dict[str, bool] | None:
    """Whether the server heard this worker poll each kind of task lately; None when Temporal
    does not answer."""
    client = worker.client
    identity = worker.config().get("identity") or client.identity
    now = datetime.now(UTC)

    async def polled(kind: TaskQueueType.ValueType) -> bool:
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=worker.task_queue),
                task_queue_type=kind,
            ),
            timeout=timedelta(seconds=CHECK_SECONDS),
        )
        return any(
            p.identity == identity
            and now - p.last_access_time.ToDatetime(tzinfo=UTC) < POLLER_FRESHNESS
            for p in described.pollers
        )

    try:
        found = await asyncio.gather(*(polled(kind) for kind in POLLERS.values()))
    except Exception:  # unreachable, slow or refusing: not ready, whatever the reason
        return None
    return dict(zip(POLLERS, found, strict=True))


def probe_app(probes: WorkerProbes) -> Starlette:
    async def livez(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        ready, body = await probes.readiness()
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/livez", livez), Route("/readyz", readyz), Route("/metrics", metrics)]
    )


class _Server(uvicorn.Server):
    """No signal handling of its own: the command stops the process in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(address: str) -> socket.socket:
    """A listening socket on a checked host:port (settings.py); SystemExit naming the address
    when it cannot be had, so a taken port stops start-up with a clear line."""
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, int(port)), family=family)
    except OSError as exc:
        raise SystemExit(
            f"slaflow: cannot serve SLAFLOW_WORKER_METRICS_ADDRESS {address}: {exc.strerror}"
        ) from None


@contextlib.asynccontextmanager
async def serving(address: str | None) -> AsyncIterator[WorkerProbes]:
    """The probes, served on `address` while the block runs (not served when it is None)."""
    probes = WorkerProbes()
    if address is None:
        yield probes
        return
    sock = bind(address)
    config = uvicorn.Config(probe_app(probes), log_level="warning", access_log=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="worker-probes")
    try:
        yield probes
    finally:
        server.should_exit = True
        await task
        sock.close()
