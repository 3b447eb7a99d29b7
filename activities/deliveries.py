"""Record a delivery's state in the store (pending, delivered, dead): the delivery workflow's
own writes, each retried until the store answers, and counted where a row first ends; and,
after a PagerDuty trigger, what of its ticket PagerDuty must hear again (its last word)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

import telemetry
from sla import formats
from sla.notifications import WEBHOOK, Delivery, NotificationsConfig
from store import Store
from store.deliveries import DeliveryRecord, list_deliveries, record_delivery

log = logging.getLogger("slaflow.activities")


# A ticket's deliveries to one target looked at for its last word: far more than it makes.
LAST_WORD_ROWS = 1000


class LastWordQuery(BaseModel):
    """A delivery that got there, and when (the delivery workflow's time)."""

    delivery: Delivery
    delivered_at: datetime


class DeliveryActivities:
    def __init__(
        self,
        store: Store,
        notifications: NotificationsConfig | Callable[[], NotificationsConfig] | None = None,
    ) -> None:
        self._store = store
        # A callable reads the config in force at each call (SIGHUP reloads it).
        self._notifications = notifications

    @property
    def _config(self) -> NotificationsConfig | None:
        config = self._notifications
        return config() if callable(config) else config

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

    @activity.defn(name="pagerduty_last_word")
    async def pagerduty_last_word(self, query: LastWordQuery) -> Delivery | None:
        """After a delivery got to its target: if the target is a PagerDuty webhook and the
        event a trigger, the ticket's later acknowledge or resolve to that target whose
        delivery had started by then (in any state: delivered, pending or dead), which
        PagerDuty may have dropped for want of an open incident and must hear again
        (formats.pagerduty_last_word). None otherwise, and for one started after the trigger
        got there: that one gets there after it."""
        delivery = query.delivery
        config, target = self._config, delivery.target
        if config is None or not target.startswith(WEBHOOK):
            return None
        hook = config.webhook(target.removeprefix(WEBHOOK))
        event = delivery.event
        if hook is None or hook.format != "pagerduty" or event.ticket_id is None:
            return None
        if formats.PAGERDUTY_ACTIONS.get(event.type) != "trigger":
            return None
        rows, _ = await asyncio.to_thread(
            list_deliveries, self._store, None, event.ticket_id, target, LAST_WORD_ROWS
        )
        said = [row.order.delivery.event for row in rows if row.created_at <= query.delivered_at]
        last = formats.pagerduty_last_word(event, said)
        if last is None:
            return None
        fields = {
            "event_id": event.id,
            "ticket_id": event.ticket_id,
            "target": target,
            "again": last.id,
            "type": last.type,
            "workflow_id": activity.info().workflow_id,
        }
        log.info("pagerduty_last_word", extra={"fields": fields})
        return Delivery(event=last, target=target)
