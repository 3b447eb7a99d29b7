"""SLA activities: escalate, warn, record a penalty. Idempotent by the effect's key."""

from __future__ import annotations

import asyncio
import json
import logging

from temporalio import activity

from activities.ledger import Ledger
from activities.names import ESCALATE, RECORD_PENALTY, SEND_WARNING
from sla.effects import Effect

log = logging.getLogger("slaflow.activities")


class SlaActivities:
    """Activities with dependencies injected: tests give them a real ledger in a temp dir."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def _record_once(self, effect: Effect, action: str) -> bool:
        fields = effect.model_dump(mode="json")
        first = await asyncio.to_thread(self._ledger.record, effect.key, effect.kind.value, fields)
        info = activity.info()
        # One structured line per action; titles and descriptions never reach the logs.
        log.info(
            json.dumps(
                {
                    "event": action,
                    "key": effect.key,
                    "ticket_id": effect.ticket_id,
                    "workflow_id": info.workflow_id,
                    "metric": effect.metric.value,
                    "cycle": effect.cycle,
                    "level": effect.level,
                    "notify": effect.notify,
                    "percent": None if effect.percent is None else str(effect.percent),
                    "attempt": info.attempt,
                    "duplicate": not first,
                }
            )
        )
        return first

    @activity.defn(name=ESCALATE)
    async def escalate(self, effect: Effect) -> bool:
        """Tell the level's audience; webhooks and e-mail hang off this record."""
        return await self._record_once(effect, "escalated")

    @activity.defn(name=SEND_WARNING)
    async def send_warning(self, effect: Effect) -> bool:
        return await self._record_once(effect, "warned")

    @activity.defn(name=RECORD_PENALTY)
    async def record_penalty(self, effect: Effect) -> bool:
        """Record the breach and its credit percentage (when the policy has credits)."""
        return await self._record_once(effect, "penalty_recorded")
