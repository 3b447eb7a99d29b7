"""Hand-offs: starting the workflows a ticket (or a month) leaves behind, deliveries and the
archiving of a run, as workflows of their own that nothing waits for.

Started by the client in an activity rather than as abandoned child workflows: the started
workflow then has no parent to report to (its completion never wakes a ticket with another
workflow task), and Temporal's time-skipping test server stalls its clock once an abandoned
child outlives its parent (temporalio/sdk-java issues 1618 and 2392). Talking to Temporal is
the one I/O a ticket may wait on: if Temporal does not answer, no ticket runs anyway.
"""

from __future__ import annotations

import contextlib
import logging

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from sla.notifications import (
    DELIVERY_WORKFLOW,
    DeliveryOrder,
    delivery_id,
    delivery_workflow_id,
)
from sla.schedules import ARCHIVE_WORKFLOW, ArchiveRequest, archive_workflow_id

log = logging.getLogger("slaflow.activities")


class HandOffActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="start_deliveries")
    async def start_deliveries(self, orders: list[DeliveryOrder]) -> int:
        """One Delivery workflow per order, on this task queue; idempotent (a retry, or an
        order whose delivery ran before, finds its workflow and leaves it be: a dead one is
        sent again only by hand). Returns how many were started now."""
        started = 0
        for order in orders:
            delivery = order.delivery
            try:
                await self._client.start_workflow(
                    DELIVERY_WORKFLOW,
                    order,
                    id=delivery_workflow_id(delivery_id(delivery)),
                    task_queue=activity.info().task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    static_summary=f"{delivery.event.type} to {delivery.target}",
                )
                started += 1
            except WorkflowAlreadyStartedError:
                fields = {"event_id": delivery.event.id, "target": delivery.target}
                log.info("delivery already started", extra={"fields": fields})
        return started

    @activity.defn(name="start_archiving_run")
    async def start_archiving_run(self, request: ArchiveRequest) -> None:
        """ArchiveTicket for one run of a ticket; it waits until that run has ended.
        Idempotent: a retry finds it started."""
        # Already there: a retry after the run's archive completed.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._client.start_workflow(
                ARCHIVE_WORKFLOW,
                request,
                id=archive_workflow_id(request.workflow_id, request.run_id),
                task_queue=request.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"archive run {request.run_id}",
            )
