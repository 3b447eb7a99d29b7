"""SLA activities: escalate, warn, record penalties, rewards and outcomes, each once by key."""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity

import telemetry
from activities.names import (
    ESCALATE,
    RECORD_CHANGES,
    RECORD_PENALTY,
    RECORD_REWARD,
    RECORD_TICKET,
    SEND_WARNING,
)
from sla.effects import Effect, EffectKind
from sla.outcome import TicketChanges, TicketOutcome
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
    if effect.kind in (EffectKind.PENALTY, EffectKind.REWARD) and effect.unit is not None:
        telemetry.CREDITS.labels(effect.kind.value, effect.unit).inc()


# What each effect's log line says it did (the message of its structured line).
ACTION_LOGGED = {
    EffectKind.ESCALATION: "escalated",
    EffectKind.WARNING: "warned",
    EffectKind.PENALTY: "penalty_recorded",
    EffectKind.REWARD: "reward_recorded",
}


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
    log.info(ACTION_LOGGED[effect.kind], extra={"fields": fields})
    if first:
        count(effect)


class SlaActivities:
    """Activities with dependencies injected: tests give them a real store in a temp dir."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def _record_once(self, effect: Effect) -> bool:
        first = await asyncio.to_thread(self._store.record_effect, effect)
        _log(effect, first)
        return first

    @activity.defn(name=ESCALATE)
    async def escalate(self, effect: Effect) -> bool:
        """Tell the level's audience; webhooks and e-mail hang off this record."""
        return await self._record_once(effect)

    @activity.defn(name=SEND_WARNING)
    async def send_warning(self, effect: Effect) -> bool:
        return await self._record_once(effect)

    @activity.defn(name=RECORD_PENALTY)
    async def record_penalty(self, effect: Effect) -> bool:
        """Record the breach and its credit (once: the store's unique key)."""
        return await self._record_once(effect)

    @activity.defn(name=RECORD_REWARD)
    async def record_reward(self, effect: Effect) -> bool:
        return await self._record_once(effect)

    @activity.defn(name=RECORD_CHANGES)
    async def record_changes(self, changes: TicketChanges) -> None:
        """A workflow task's effects and the ticket's outcome, in one store transaction."""
        firsts = await asyncio.to_thread(self._store.record_changes, changes)
        for effect, first in zip(changes.effects, firsts, strict=True):
            _log(effect, first)

    @activity.defn(name=RECORD_TICKET)
    async def record_ticket(self, outcome: TicketOutcome) -> None:
        """Keep the ticket's row current, so reports outlive Temporal's retention."""
        await asyncio.to_thread(self._store.record_ticket, outcome)
