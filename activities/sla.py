"""Record a ticket's changes: its effects (each once by key) and its outcome, in the store."""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity

import telemetry
from sla.effects import RECORDED, Effect, EffectKind
from sla.outcome import TicketChanges
from store import Store

log = logging.getLogger("slaflow.activities")


def count(effect: Effect) -> None:
    """Business metrics, counted once per effect: only when first recorded."""
    if effect.kind is EffectKind.PENALTY:
        telemetry.BREACHES.labels(effect.metric.value, effect.priority.value).inc()
    elif effect.kind is EffectKind.ESCALATION:
        telemetry.ESCALATIONS.labels(str(effect.level)).inc()
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
        "level": effect.level,
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
        raises InvalidEffect, which the ticket's retry policy does not retry."""
        firsts = await asyncio.to_thread(self._store.record_changes, changes)
        for effect, first in zip(changes.effects, firsts, strict=True):
            _log(effect, first)
