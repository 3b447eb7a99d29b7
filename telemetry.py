"""Telemetry: slaflow's own Prometheus metrics (`slaflow_*`) and structured logs.

Logs are JSON lines when stderr is not a terminal. A line about a ticket carries its
`ticket_id` and `workflow_id`; titles, descriptions, secrets and API keys never go in.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "slaflow_http_requests_total", "API requests by route and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "slaflow_http_request_duration_seconds",
    "API request latency by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TICKETS_OPENED = Counter("slaflow_tickets_opened_total", "Tickets opened", ["priority"])
BREACHES = Counter("slaflow_breaches_total", "SLA clocks breached", ["metric", "priority"])
ESCALATIONS = Counter("slaflow_escalations_total", "Escalation levels reached", ["level"])
# Escalation recorded (in the store, by the worker) minus the moment it was due: what an SLA
# operator reads as "did escalations go out on time". It counts a worker or store that was late
# too (records wait out a store outage), and an imported ticket's escalations dated long ago.
ESCALATION_LATENESS = Histogram(
    "slaflow_escalation_lateness_seconds",
    "Escalations: recorded minus due time",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
)
WARNINGS = Counter("slaflow_warnings_total", "SLA warnings sent", ["metric"])
CREDITS = Counter("slaflow_credits_total", "Penalties and rewards recorded", ["kind", "unit"])
DELIVERIES = Counter("slaflow_deliveries_total", "Notification deliveries", ["outcome"])
# Help desks' webhooks received, once per delivery (a desk's retry of one is not counted again).
DESK_DELIVERIES = Counter(
    "slaflow_desk_deliveries_total", "Help desks' webhook deliveries", ["source", "outcome"]
)
# Set by the API from visibility each time /healthz or /metrics is read: tickets whose records
# wait for the store (non-zero only while the store is down or slow).
# Several API processes: the last one to check tells (each process checks the same things).
PENDING_EFFECTS = Gauge(
    "slaflow_pending_effects",
    "Running tickets with records waiting for the store",
    multiprocess_mode="mostrecent",
)
# Set by the API from visibility each time /metrics is read: tickets not yet resolved, by
# whether a clock of theirs has breached ("breached") or not ("on_track").
OPEN_TICKETS = Gauge(
    "slaflow_open_tickets",
    "Tickets open, responded or waiting on the customer, by SLA state",
    ["sla"],
    multiprocess_mode="mostrecent",
)
STORE_UP = Gauge(
    "slaflow_store_up",
    "1 when the store answered the API's last check, else 0",
    multiprocess_mode="mostrecent",
)


def exposition() -> bytes:
    """The Prometheus text of this process's metrics; of every process's, summed, when they
    count in PROMETHEUS_MULTIPROC_DIR (prometheus_client's own variable, which `slaflow api`
    sets for SLAFLOW_API_WORKERS > 1), so any one of them answers for all."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


class StructuredFormatter(logging.Formatter):
    """One JSON object per line; `extra={"fields": {...}}` and Temporal's context merge in."""

    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", {}) or {})
        for context in ("temporal_workflow", "temporal_activity"):
            info = getattr(record, context, None)
            if isinstance(info, dict):
                fields.setdefault("workflow_id", info.get("workflow_id"))
        workflow_id = fields.get("workflow_id")
        if isinstance(workflow_id, str) and workflow_id.startswith("ticket-"):
            fields.setdefault("ticket_id", workflow_id.removeprefix("ticket-"))
        message = record.getMessage()
        if self.as_json:
            # The line's own keys last: a field of the same name (an escalation's "level") must
            # not pass for the line's level.
            line = {
                **fields,
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
            }
            if record.exc_info:
                line["exception"] = self.formatException(record.exc_info)
            return json.dumps(line, default=str)
        pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        text = f"{record.levelname.lower():7} {record.name}: {message} {pairs}".rstrip()
        return text + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


def configure_logging(level: int | str = logging.INFO, as_json: bool | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        StructuredFormatter(as_json if as_json is not None else not sys.stderr.isatty())
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request with its full URL, and webhook URLs may carry tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)
