"""Builds the Temporal worker that runs tickets and their side effects."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.calendars import extend_calendar
from activities.ledger import Ledger
from activities.sla import SlaActivities
from settings import Settings
from workflows.ticket import TicketWorkflow


def ticket_activities(ledger: Ledger) -> list[Callable[..., Any]]:
    """Every activity a ticket calls, bound to its dependencies."""
    sla = SlaActivities(ledger)
    return [sla.escalate, sla.send_warning, sla.record_penalty, extend_calendar]


def build_worker(client: Client, settings: Settings, ledger: Ledger | None = None) -> Worker:
    ledger = ledger or Ledger(settings.data_dir / "ledger.sqlite3")
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TicketWorkflow],
        activities=ticket_activities(ledger),
        # extend_calendar is a quick sync activity; sync activities need an executor.
        activity_executor=ThreadPoolExecutor(max_workers=4),
        max_cached_workflows=settings.max_cached_workflows,
    )
