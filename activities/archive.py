"""Archiving: each run of a ticket, fetched from Temporal once it has ended, into the archive."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError, RPCStatusCode

from sla.schedules import ArchiveRequest
from store.archive import ArchiveStore
from store.history import decoded_events, opened_with

log = logging.getLogger("slaflow.activities")


def final_state(events: list[dict[str, Any]]) -> Any:
    """The ticket's last state: the result of its final run's completion."""
    for event in reversed(events):
        completed = event.get("workflowExecutionCompletedEventAttributes")
        if completed is not None:
            payloads = (completed.get("result") or {}).get("payloads") or [None]
            return payloads[0]
    return None


class ArchiveActivities:
    def __init__(self, client: Client, archive: ArchiveStore) -> None:
        self._client = client
        self._archive = archive

    @activity.defn(name="archive_ticket")
    async def archive_ticket(self, request: ArchiveRequest) -> str:
        """Archives one run of a ticket once it has ended: its history, and, if the run
        completed the ticket, the ticket's final state. Writes only that run's documents, so
        the runs of one ticket may be archived in any order, or at once."""
        handle = self._client.get_workflow_handle(request.workflow_id, run_id=request.run_id)
        fields = {"ticket_id": request.ticket_id, "workflow_id": request.workflow_id,
                  "run_id": request.run_id}  # fmt: skip
        try:
            described = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # Deleted before it could be archived (retention, or by hand): nothing to keep.
                log.error("run gone before archiving", extra={"fields": fields})
                raise ApplicationError(
                    f"run {request.run_id} of {request.workflow_id} is no longer in Temporal",
                    type="RunGone",
                    non_retryable=True,
                ) from None
            raise
        if described.status == WorkflowExecutionStatus.RUNNING:
            # Started by the run as it ends: wait (by retrying) until it has.
            raise ApplicationError(
                "the run is still ending",
                type="StillRunning",
                category=ApplicationErrorCategory.BENIGN,  # expected: not logged as a failure
            )
        history = await handle.fetch_history()
        events = decoded_events(history)
        archived_at = datetime.now(UTC).isoformat()
        run = {
            **fields,
            "started_at": history.events[0].event_time.ToJsonString(),
            "archived_at": archived_at,
            "events": events,
            "raw": history.to_json_dict(),
        }
        where = await asyncio.to_thread(self._archive.write_run, request.ticket_id, run)
        final_too = described.status == WorkflowExecutionStatus.COMPLETED
        if final_too:
            final = {
                **fields,
                "archived_at": archived_at,
                "final_state": final_state(events),
                "opened_with": opened_with(events),
            }
            await asyncio.to_thread(self._archive.write_final, request.ticket_id, final)
        log.info(
            "archived",
            extra={"fields": {**fields, "events": len(events), "completed": final_too}},
        )  # fmt: skip
        return where
