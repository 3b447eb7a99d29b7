"""Record a delivery's state in the store (pending, delivered, dead): the delivery workflow's
own writes, each retried until the store answers, and counted where a row first ends."""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity

import telemetry
from store import Store
from store.deliveries import DeliveryRecord, record_delivery

log = logging.getLogger("slaflow.activities")


class DeliveryActivities:
    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name="record_delivery")
    async def record_delivery(self, record: DeliveryRecord) -> bool:
        """True if this write moved the row (store/deliveries.py says which writes may);
        `slaflow_deliveries_total{outcome="delivered"|"dead"}` counts only those, so a
        delivery is counted once however often its write is retried."""
        moved = await asyncio.to_thread(record_delivery, self._store, record)
        if moved and record.state != "pending":
            telemetry.DELIVERIES.labels(record.state).inc()
            event = record.order.delivery.event
            fields = {
                "delivery_id": record.id,
                "event_id": event.id,
                "type": event.type,
                "ticket_id": event.ticket_id,
                "target": record.order.delivery.target,
                "state": record.state,
                "attempts": record.attempts,
                "detail": record.detail,
                "workflow_id": activity.info().workflow_id,
            }
            log.info(f"delivery_{record.state}", extra={"fields": fields})
        return moved
