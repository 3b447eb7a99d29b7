"""RepairPolicy: every open ticket running under a policy repaired once, from the config in force
(POST /policies/{name}/repair), surviving restarts: a workflow, its progress its state."""

from __future__ import annotations

import asyncio
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.repairs import RepairActivities
    from sla.repairs import (
        REPAIR_BATCH,
        REPAIR_WORKFLOW,
        PolicyRepair,
        RepairOrder,
        RepairProgress,
        TicketRepair,
        TicketsUnder,
        ticket_request_id,
    )
    from workflows import retries


@workflow.defn(name=REPAIR_WORKFLOW)
class RepairPolicyWorkflow:
    """Lists the policy's open tickets once, then repairs them a batch at a time, each by an
    activity that sends the ticket's `repair` Update with a request id of the repair and the
    ticket: a retry after a crash applies once. A ticket that refuses is reported, and one
    whose activity runs out of attempts is `failed`; neither stops the others."""

    @workflow.init
    def __init__(self, request: PolicyRepair) -> None:
        self._progress = RepairProgress(
            repair_id=request.repair_id,
            policy=request.policy,
            dry_run=request.dry_run,
            reason=request.reason,
            actor=request.actor,
            started_at=workflow.now(),
        )

    @workflow.run
    async def run(self, request: PolicyRepair) -> RepairProgress:
        try:
            ticket_ids = await workflow.execute_activity_method(
                RepairActivities.tickets_under,
                TicketsUnder(policy=request.policy, task_queue=workflow.info().task_queue),
                start_to_close_timeout=retries.REPAIR_TIMEOUT,
                retry_policy=retries.REPAIR,
                summary=f"list the open tickets of policy {request.policy}",
            )
        except ActivityError as exc:
            return self._finish("failed", _reason(exc))
        self._progress.tickets = [TicketRepair(ticket_id=t) for t in ticket_ids]
        self._progress.status = "repairing"
        for start in range(0, len(ticket_ids), REPAIR_BATCH):
            batch = range(start, min(start + REPAIR_BATCH, len(ticket_ids)))
            await asyncio.gather(*(self._repair(index, request) for index in batch))
        return self._finish("done")

    async def _repair(self, index: int, request: PolicyRepair) -> None:
        ticket_id = self._progress.tickets[index].ticket_id
        order = RepairOrder(
            ticket_id=ticket_id,
            policy=request.policy,
            reason=request.reason,
            dry_run=request.dry_run,
            actor=request.actor,
            sent_by=request.sent_by,
            request_id=ticket_request_id(request.repair_id, ticket_id),
        )
        try:
            result = await workflow.execute_activity_method(
                RepairActivities.repair_ticket,
                order,
                start_to_close_timeout=retries.REPAIR_TIMEOUT,
                retry_policy=retries.REPAIR,
                summary=f"{'preview' if request.dry_run else 'repair'} ticket {ticket_id}",
            )
        except ActivityError as exc:
            result = TicketRepair(ticket_id=ticket_id, outcome="failed", detail=_reason(exc))
        self._progress.tickets[index] = result

    def _finish(
        self, status: Literal["done", "failed"], detail: str | None = None
    ) -> RepairProgress:
        self._progress.status = status
        self._progress.detail = detail
        self._progress.finished_at = workflow.now()
        return self._progress

    @workflow.query(name="progress")
    def progress(self) -> RepairProgress:
        return self._progress


def _reason(exc: ActivityError) -> str:
    cause = exc.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
