"""Record a ticket's changes: its effects (each once by key) and its outcome, in the store."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

import telemetry
from sla.effects import RECORDED, Effect, EffectKind
from sla.outcome import TicketChanges
from store import Store

log = logging.getLogger("slaflow.activities")

# A store outage fails every ticket's writes: one log line per this many seconds says so.
FAILURE_LOG_INTERVAL = 30.0


class _FailureLog:
    """Rate-limited: the first failing write logs at once, then one line per interval with
    how many failed meanwhile."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.failed = 0
        self.logged_at: float | None = None

    def failure(self, error: BaseException) -> None:
        self.failed += 1
        now = time.monotonic()
        if self.logged_at is not None and now - self.logged_at < self.interval:
            return
        # The driver's own message (its first line), never SQLAlchemy's, which quotes the
        # statement and its parameters.
        cause = getattr(error, "orig", None) or error
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        fields = {"failed_writes": self.failed, "error": f"{type(cause).__name__}: {reason}"}
        log.warning("store write failed; the records wait", extra={"fields": fields})
        self.failed, self.logged_at = 0, now


STORE_FAILURES = _FailureLog(FAILURE_LOG_INTERVAL)


def count(effect: Effect) -> None:
    """Business metrics, counted once per effect: only when first recorded."""
    if effect.kind is EffectKind.PENALTY:
        telemetry.BREACHES.labels(effect.metric.value, effect.priority.value).inc()
    elif effect.kind is EffectKind.ESCALATION:
        telemetry.ESCALATIONS.labels(str(effect.level)).inc()
        late = (datetime.now(UTC) - effect.at).total_seconds()
        telemetry.ESCALATION_LATENESS.observe(max(late, 0.0))  # a clock a little ahead: on time
    elif effect.kind is EffectKind.WARNING:
        telemetry.WARNINGS.labels(effect.metric.value).inc()
    if RECORDED[effect.kind].ledger == "credit" and effect.unit is not None:
        telemetry.CREDITS.labels(effect.kind.value, effect.unit).inc()


def _log(effect: Effect, first: bool) -> None:
    """One structured line per effect; titles and descriptions never reach the logs.
    Metrics count an effect only where it was first recorded."""
    info = activity.info()
    fields = {
        "key": effect.key,
        "ticket_id": effect.ticket_id,
        "workflow_id": info.workflow_id,
        "metric": effect.metric.value,
        "cycle": effect.cycle,
        "escalation_level": effect.level,
        "notify": effect.notify,
        "percent": None if effect.percent is None else str(effect.percent),
        "amount": None if effect.amount is None else str(effect.amount),
        "unit": effect.unit,
        "attempt": info.attempt,
        "duplicate": not first,
    }
    log.info(RECORDED[effect.kind].logged, extra={"fields": fields})
    if first:
        count(effect)


class SlaActivities:
    """Activities with dependencies injected: tests give them a real store in a temp dir."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name="record_changes")
    async def record_changes(self, changes: TicketChanges) -> None:
        """A workflow task's effects and the ticket's outcome, in one store transaction, so
        reports and statements outlive Temporal's retention. An effect the store does not keep
        raises InvalidEffect, a ticket whose id belongs to another TicketIdTaken: the ticket's
        retry policies do not retry those."""
        try:
            firsts = await asyncio.to_thread(self._store.record_changes, changes)
        except SQLAlchemyError as exc:
            STORE_FAILURES.failure(exc)
            raise ApplicationError(
                f"the store did not take the records: {type(exc).__name__}",
                type="StoreUnavailable",
                # Retried by design and logged above, rate-limited: no traceback per attempt.
                category=ApplicationErrorCategory.BENIGN,
            ) from None
        for effect, first in zip(changes.effects, firsts, strict=True):
            _log(effect, first)
