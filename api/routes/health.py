"""Readiness: Temporal reachable AND a worker polling the ticket task queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError

from api.deps import DeskDep

router = APIRouter(tags=["health"])

# A poller the server has not heard from for this long is gone.
POLLER_FRESHNESS = timedelta(minutes=1)


@router.get("/healthz")
async def healthz(desk: DeskDep) -> JSONResponse:
    client = desk.client
    try:
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=desk.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=3),
        )
    except RPCError as exc:
        return JSONResponse(
            {"status": "unavailable", "detail": f"Temporal is not reachable: {exc.message}"},
            status_code=503,
        )
    now = datetime.now(UTC)
    workers = [
        p
        for p in described.pollers
        if now - p.last_access_time.ToDatetime(tzinfo=UTC) < POLLER_FRESHNESS
    ]
    body = {
        "temporal": "reachable",
        "namespace": client.namespace,
        "task_queue": desk.task_queue,
        "workers": len(workers),
    }
    if not workers:
        return JSONResponse(
            {"status": "starting", "detail": "no worker polls the ticket task queue", **body},
            status_code=503,
        )
    return JSONResponse({"status": "ok", **body})
