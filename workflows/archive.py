"""ArchiveTicketWorkflow: started by a closing ticket, outlives it, archives its whole history."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.names import ARCHIVE_TICKET
    from sla.schedules import ArchiveRequest

ARCHIVE_WORKFLOW = "ArchiveTicket"


@workflow.defn(name=ARCHIVE_WORKFLOW)
class ArchiveTicketWorkflow:
    @workflow.run
    async def run(self, request: ArchiveRequest) -> str:
        path: str = await workflow.execute_activity(
            ARCHIVE_TICKET,
            request,
            result_type=str,
            start_to_close_timeout=timedelta(minutes=2),
            # Retries until the ticket has completed and the archive is written.
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=500),
                maximum_interval=timedelta(minutes=1),
            ),
        )
        return path
