"""Scheduled workflows of the contract: the availability probe and the monthly statements."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ContractActivities
    from activities.handoff import HandOffActivities
    from sla.notifications import DeliveryOrder
    from sla.schedules import ClosedMonth, CloseMonth, ProbeCheck, ProbeOutcome, previous_month
    from workflows import retries


@workflow.defn(name="AvailabilityProbe")
class AvailabilityProbeWorkflow:
    """One check per scheduled run; the store carries the count of consecutive failures."""

    @workflow.run
    async def run(self, check: ProbeCheck) -> ProbeOutcome:
        return await workflow.execute_activity_method(
            ContractActivities.probe_availability,
            check,
            start_to_close_timeout=timedelta(seconds=check.timeout_seconds) + retries.PROBE_SLACK,
            retry_policy=retries.PROBE,
        )


@workflow.defn(name="MonthlyStatements")
class MonthlyStatementsWorkflow:
    """Closes a month: freezes every contracted customer's statement, and hands each
    statement event to a Delivery workflow of its own, not awaited: a month closes whether or
    not its receivers answer."""

    @workflow.run
    async def run(self, request: CloseMonth) -> ClosedMonth:
        month = request.month or previous_month(workflow.now())
        closed = await workflow.execute_activity_method(
            ContractActivities.close_month,
            CloseMonth(month=month),
            start_to_close_timeout=retries.CLOSE_MONTH_TIMEOUT,
            retry_policy=retries.CLOSE_MONTH,
        )
        # One Delivery workflow per (event, target), started (activities/handoff.py) and not
        # awaited: it is given up on after `give_up_after` into a dead letter. A statement goes
        # out once: a delivery of it that ran before is not redone (a dead one is retried by
        # hand, POST /deliveries/{id}/retry).
        orders = [
            DeliveryOrder(delivery=delivery, give_up_after=closed.give_up_after)
            for delivery in closed.deliveries
        ]
        if orders:
            await workflow.execute_activity_method(
                HandOffActivities.start_deliveries,
                orders,
                start_to_close_timeout=retries.HAND_OFF_TIMEOUT,
                retry_policy=retries.HAND_OFF,
            )
        return closed
