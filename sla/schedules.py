"""Inputs of the background workflows: availability probe, monthly statements, archiving."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from sla.notifications import DEFAULT_GIVE_UP_AFTER, Delivery

# The archiving workflow's type: a ticket starts one per run (activities/handoff.py).
ARCHIVE_WORKFLOW = "ArchiveTicket"


class ProbeCheck(BaseModel):
    url: str
    service: str
    failures: int
    timeout_seconds: float


class ProbeOutcome(BaseModel):
    ok: bool
    detail: str
    happened: str  # "up", "down", "opened", "ended"
    incident_id: str | None = None


class CloseMonth(BaseModel):
    # The month to close (YYYY-MM); None closes the month before the run's own time.
    month: str | None = None


class ClosedMonth(BaseModel):
    month: str
    customers: list[str]
    # The `statement` event for each newly closed statement, one per subscribed target.
    deliveries: list[Delivery] = []
    # How long each of those deliveries is tried (notifications.give_up_after), then dead.
    give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER


def previous_month(now: datetime) -> str:
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year:04d}-{month:02d}"


class ArchiveRequest(BaseModel):
    """Archive one run of a ticket once it has ended (completed or continued as new), before
    retention deletes it; the run that completes also leaves the ticket's final state."""

    ticket_id: str
    workflow_id: str
    run_id: str
    task_queue: str = ""


def archive_workflow_id(workflow_id: str, run_id: str) -> str:
    return f"archive-{workflow_id}-{run_id}"
