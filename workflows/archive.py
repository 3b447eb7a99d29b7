"""ArchiveTicketWorkflow: one per run of a ticket, started as the run ends and not tied to it
(activities/handoff.py); archives that run, and the ticket's final state if the run completed
it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.archive import ArchiveActivities
    from sla.schedules import ARCHIVE_WORKFLOW, ArchiveRequest
    from workflows import retries


@workflow.defn(name=ARCHIVE_WORKFLOW)
class ArchiveTicketWorkflow:
    @workflow.run
    async def run(self, request: ArchiveRequest) -> str:
        return await workflow.execute_activity_method(
            ArchiveActivities.archive_ticket,
            request,
            start_to_close_timeout=retries.ARCHIVE_TIMEOUT,
            retry_policy=retries.ARCHIVE,
        )
