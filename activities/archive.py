"""Archiving: a closed ticket's every run, fetched from Temporal and written to the archive."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from sla.schedules import ARCHIVE_WORKFLOW, ArchiveRequest
from store.archive import ArchiveStore
from store.history import decoded_events, fetch_histories

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

    @activity.defn(name="start_archiving")
    async def start_archiving(self, request: ArchiveRequest) -> None:
        """Idempotent: a retry finds the archiving workflow already started."""
        await self._client.start_workflow(
            ARCHIVE_WORKFLOW,
            request,
            id=f"archive-{request.workflow_id}",
            task_queue=request.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    @activity.defn(name="archive_ticket")
    async def archive_ticket(self, request: ArchiveRequest) -> str:
        handle = self._client.get_workflow_handle(request.workflow_id)
        described = await handle.describe()
        if described.status == WorkflowExecutionStatus.RUNNING:
            # Started by the ticket as it closes: wait (by retrying) until it has completed.
            raise ApplicationError(
                "the ticket is still closing",
                type="StillRunning",
                category=ApplicationErrorCategory.BENIGN,  # expected: not logged as a failure
            )
        histories = await fetch_histories(self._client, request.workflow_id)
        decoded = [decoded_events(h) for h in histories]
        runs = [
            {"run_id": h.run_id, "events": events, "raw": h.to_json_dict()}
            for h, events in zip(histories, decoded, strict=True)
        ]
        document = {
            "ticket_id": request.ticket_id,
            "workflow_id": request.workflow_id,
            "archived_at": datetime.now(UTC).isoformat(),
            "final_state": final_state(decoded[-1]),
            "runs": runs,
        }
        path = await asyncio.to_thread(self._archive.write, request.ticket_id, document)
        log.info(
            "archived",
            extra={"fields": {"ticket_id": request.ticket_id, "workflow_id": request.workflow_id,
                              "runs": len(runs)}},
        )  # fmt: skip
        return str(path)
