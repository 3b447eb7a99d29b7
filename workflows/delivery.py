"""DeliveryWorkflow: one event to one target, retried for a bounded time, then dead.

Started (and not awaited) by a ticket or by the monthly statements as an abandoned child, and
by `POST /deliveries/{id}/retry`; its id is `delivery-<delivery_id>`, one per (event, target).
It outlives whoever started it, so a receiver that is down never holds a ticket's
continue-as-new, completion or archive, nor a month's closing.

A PagerDuty trigger that got there may have come after its ticket's acknowledge or resolve
(each event is a delivery of its own, and a trigger may be retried for hours), which PagerDuty
then dropped: once the trigger is delivered, the ticket's last word to that target is sent
again (docs/webhooks.md, "PagerDuty").
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    RetryState,
    TimeoutError,
)

with workflow.unsafe.imports_passed_through():
    from activities.deliveries import DeliveryActivities, LastWordQuery
    from activities.notify import Notifier
    from sla.durations import format_duration
    from sla.notifications import (
        DELIVERY_WORKFLOW,
        WEBHOOK,
        Delivery,
        DeliveryFailure,
        DeliveryOrder,
        delivery_id,
    )
    from store.deliveries import DeliveryOutcome, DeliveryRecord, DeliveryState
    from workflows import retries

# The signal a ticket gets when one of its deliveries is dead (the ticket's timeline shows it).
DELIVERY_FAILED_SIGNAL = "delivery_failed"
# The events a PagerDuty webhook says with a trigger: only their deliveries ask for a last word.
TRIGGERS = ("breach", "escalation")


@workflow.defn(name=DELIVERY_WORKFLOW)
class DeliveryWorkflow:
    @workflow.run
    async def run(self, order: DeliveryOrder) -> DeliveryOutcome:
        """Record it pending, deliver it (retrying with backoff for at most
        `order.give_up_after`), then record it delivered or dead; a dead one is also signalled
        to its ticket and logged. The store writes retry until the store answers; the pending
        one runs beside the delivery, so a store outage never delays the delivery itself."""
        delivery = order.delivery
        what = f"{delivery.event.type} to {delivery.target}"
        pending = workflow.start_activity_method(
            DeliveryActivities.record_delivery,
            _record(order, "pending", 0, None, workflow.now()),
            start_to_close_timeout=retries.RECORD_TIMEOUT,
            retry_policy=retries.RECORD,
            summary=f"record {what} pending",
        )
        try:
            result = await workflow.execute_activity_method(
                Notifier.deliver,
                delivery,
                schedule_to_close_timeout=order.give_up_after,
                start_to_close_timeout=min(retries.DELIVERY_TIMEOUT, order.give_up_after),
                retry_policy=retries.DELIVERY,
                summary=what,
            )
            delivered_at: datetime | None = workflow.now()
            outcome = DeliveryOutcome(
                delivery_id=delivery_id(delivery),
                state="delivered",
                attempts=result.attempt,
                detail=result.detail,
            )
        except ActivityError as exc:
            delivered_at = None
            outcome = DeliveryOutcome(
                delivery_id=delivery_id(delivery),
                state="dead",
                attempts=_attempts(exc),
                detail=_why(exc, order),
            )
            workflow.logger.warning(
                "delivery_dead",
                extra={
                    "fields": {
                        "delivery_id": outcome.delivery_id,
                        "event_id": delivery.event.id,
                        "type": delivery.event.type,
                        "ticket_id": delivery.event.ticket_id,
                        "target": delivery.target,
                        "attempts": outcome.attempts,
                        "detail": outcome.detail,
                    }
                },
            )
            await _tell_ticket(order, outcome, workflow.now())
        await workflow.execute_activity_method(
            DeliveryActivities.record_delivery,
            _record(order, outcome.state, outcome.attempts, outcome.detail, workflow.now()),
            start_to_close_timeout=retries.RECORD_TIMEOUT,
            retry_policy=retries.RECORD,
            summary=f"record {what} {outcome.state}",
        )
        # The final write has landed, and a late pending write changes nothing after it.
        pending.cancel()
        with contextlib.suppress(ActivityError, asyncio.CancelledError):
            await pending
        if (
            delivered_at is not None
            and delivery.event.type in TRIGGERS
            and delivery.event.ticket_id is not None
            and delivery.target.startswith(WEBHOOK)
        ):
            await _last_word(order, delivered_at)
        return outcome


async def _last_word(order: DeliveryOrder, delivered_at: datetime) -> None:
    """A trigger got there at `delivered_at`: the ticket's later acknowledge or resolve, which
    PagerDuty may have dropped before it, is sent again (with the same retries, for at most
    the same window); nothing for any other target or event (activities/deliveries.py
    decides). The delivery's outcome is the trigger's: a last word that does not get there is
    logged."""
    delivery = order.delivery
    last: Delivery | None = await workflow.execute_activity_method(
        DeliveryActivities.pagerduty_last_word,
        LastWordQuery(delivery=delivery, delivered_at=delivered_at),
        start_to_close_timeout=retries.RECORD_TIMEOUT,
        retry_policy=retries.RECORD,
        summary=f"{delivery.event.type} to {delivery.target}: anything to say again",
    )
    if last is None:
        return
    try:
        await workflow.execute_activity_method(
            Notifier.deliver,
            last,
            schedule_to_close_timeout=order.give_up_after,
            start_to_close_timeout=min(retries.DELIVERY_TIMEOUT, order.give_up_after),
            retry_policy=retries.DELIVERY,
            summary=f"{last.event.type} to {last.target} again, after the trigger",
        )
    except ActivityError as exc:
        workflow.logger.warning(
            "pagerduty_last_word_failed",
            extra={
                "fields": {
                    "event_id": delivery.event.id,
                    "again": last.event.id,
                    "type": last.event.type,
                    "ticket_id": delivery.event.ticket_id,
                    "target": delivery.target,
                    "detail": _why(exc, order),
                }
            },
        )


def _record(
    order: DeliveryOrder, state: DeliveryState, attempts: int, detail: str | None, at: datetime
) -> DeliveryRecord:
    return DeliveryRecord(order=order, state=state, attempts=attempts, detail=detail, at=at)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ if not isinstance(cause, FailureError) else cause.cause
    return chain


def _last_attempt(exc: ActivityError) -> ApplicationError | None:
    """The deliver activity's last failure: the cause itself, or what a timeout carries."""
    return next((c for c in _causes(exc) if isinstance(c, ApplicationError)), None)


def _attempts(exc: ActivityError) -> int:
    """The attempts made, from the last attempt's DeliveryResult (1 if none says)."""
    last = _last_attempt(exc)
    if last is not None and last.details and isinstance(last.details[0], dict):
        attempt = last.details[0].get("attempt")
        if isinstance(attempt, int):
            return attempt
    return 1


def _why(exc: ActivityError, order: DeliveryOrder) -> str:
    """The last attempt's failure; after the window, also that it was given up on (Temporal
    gives up at the window's end, or at the last attempt whose next one would fall past it)."""
    last = _last_attempt(exc)
    said = last.message if last is not None else str(exc.cause or exc)
    if exc.retry_state is RetryState.TIMEOUT or isinstance(exc.cause, TimeoutError):
        return f"given up after {format_duration(order.give_up_after)}; last: {said}"
    return said


async def _tell_ticket(order: DeliveryOrder, outcome: DeliveryOutcome, at: datetime) -> None:
    """The ticket's timeline shows a dead delivery while the ticket runs (any run of it: the
    signal goes to its workflow id). A ticket that has ended is fine: the row is the record."""
    if order.ticket_workflow_id is None:
        return
    failure = DeliveryFailure(
        event_type=order.delivery.event.type,
        target=order.delivery.target,
        detail=outcome.detail or "given up",
        at=at,
    )
    ticket = workflow.get_external_workflow_handle(order.ticket_workflow_id)
    try:
        await ticket.signal(DELIVERY_FAILED_SIGNAL, failure)
    except FailureError as exc:  # not found: it has completed, or retention deleted it
        workflow.logger.info("the ticket did not take delivery_failed: %s", exc.message)
