"""Builds the Temporal worker that runs tickets and their side effects."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.archive import ArchiveActivities
from activities.calendars import extend_calendar
from activities.contracts import ContractActivities
from activities.deliveries import DeliveryActivities
from activities.handoff import HandOffActivities
from activities.notify import Notifier
from activities.repairs import RepairActivities
from activities.sla import SlaActivities
from settings import Settings
from sla.notifications import NotificationsConfig
from sla.policy import SlaConfig
from store import Store
from store.archive import open_archive
from workflows.archive import ArchiveTicketWorkflow
from workflows.contracts import AvailabilityProbeWorkflow, MonthlyStatementsWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.repairs import RepairPolicyWorkflow
from workflows.ticket import TicketWorkflow

# Every workflow a slaflow worker runs (and `slaflow replay` replays).
WORKFLOWS = [
    TicketWorkflow,
    ArchiveTicketWorkflow,
    AvailabilityProbeWorkflow,
    MonthlyStatementsWorkflow,
    DeliveryWorkflow,
    RepairPolicyWorkflow,
]


def ticket_activities(store: Store) -> list[Callable[..., Any]]:
    """Every activity a ticket calls, bound to its dependencies."""
    return [SlaActivities(store).record_changes, extend_calendar]


def hand_off_activities(client: Client) -> list[Callable[..., Any]]:
    """Starting the workflows tickets and months hand off: deliveries, a run's archiving."""
    hand_off = HandOffActivities(client)
    return [hand_off.start_deliveries, hand_off.start_archiving_run]


def delivery_activities(
    store: Store, notifications: NotificationsConfig | Callable[[], NotificationsConfig]
) -> list[Callable[..., Any]]:
    """Every activity a Delivery workflow calls: the send, its state in the store, and what
    PagerDuty must hear again after a trigger."""
    deliveries = DeliveryActivities(store, notifications)
    return [
        Notifier(notifications).deliver,
        deliveries.record_delivery,
        deliveries.pagerduty_last_word,
    ]


def repair_activities(client: Client, config: Callable[[], SlaConfig]) -> list[Callable[..., Any]]:
    """What a bulk repair calls: listing a policy's open tickets, repairing one."""
    repairs = RepairActivities(client, config)
    return [repairs.tickets_under, repairs.repair_ticket]


def tuning(settings: Settings) -> dict[str, Any]:
    """The worker options the settings override; the SDK's defaults otherwise."""
    options = {
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_concurrent_workflow_task_polls": settings.workflow_task_pollers,
        "max_concurrent_activity_task_polls": settings.activity_task_pollers,
        "sticky_queue_schedule_to_start_timeout": settings.sticky_timeout,
    }
    return {name: value for name, value in options.items() if value is not None}


def build_worker(client: Client, settings: Settings, store: Store | None = None) -> Worker:
    store = store or Store.open(settings.database_url, settings.data_dir)
    # Each reads the config in force when it runs: SIGHUP reloads it (cli.py).
    contracts = ContractActivities(store, lambda: settings.sla_config)
    archive = ArchiveActivities(client, open_archive(settings.archive_url, settings.data_dir))
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            *ticket_activities(store),
            contracts.probe_availability,
            contracts.close_month,
            archive.archive_ticket,
            *hand_off_activities(client),
            *delivery_activities(store, lambda: settings.sla_config.notifications),
            *repair_activities(client, lambda: settings.sla_config),
        ],
        # extend_calendar is a quick sync activity; sync activities need an executor.
        activity_executor=ThreadPoolExecutor(max_workers=4),
        max_cached_workflows=settings.max_cached_workflows,
        # On shutdown (SIGTERM: a rolling update) running activities get this long to finish
        # before they are cancelled; the SDK's default, none, cancels them at once.
        graceful_shutdown_timeout=settings.graceful_shutdown,
        workflow_runner=(
            SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()
        ),
        **tuning(settings),
    )
