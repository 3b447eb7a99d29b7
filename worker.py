"""Builds the Temporal worker that runs tickets and their side effects."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from activities.ledger import Ledger
from activities.sla import SlaActivities
from settings import Settings
from workflows.ticket import TicketWorkflow


def build_worker(client: Client, settings: Settings, ledger: Ledger | None = None) -> Worker:
    ledger = ledger or Ledger(settings.data_dir / "ledger.sqlite3")
    sla_activities = SlaActivities(ledger)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TicketWorkflow],
        activities=[
            sla_activities.escalate,
            sla_activities.send_warning,
            sla_activities.record_penalty,
        ],
        max_cached_workflows=settings.max_cached_workflows,
    )
