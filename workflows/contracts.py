"""Scheduled workflows of the contract: the availability probe and the monthly statements."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ContractActivities
    from activities.notify import Notifier
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
    """Closes a month: freezes every contracted customer's statement."""

    @workflow.run
    async def run(self, request: CloseMonth) -> ClosedMonth:
        month = request.month or previous_month(workflow.now())
        closed = await workflow.execute_activity_method(
            ContractActivities.close_month,
            CloseMonth(month=month),
            start_to_close_timeout=retries.CLOSE_MONTH_TIMEOUT,
            retry_policy=retries.CLOSE_MONTH,
        )
        # Each statement event to each target, retried until delivered (or rejected).
        await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    Notifier.deliver,
                    delivery,
                    start_to_close_timeout=retries.DELIVERY_TIMEOUT,
                    retry_policy=retries.DELIVERY,
                )
                for delivery in closed.deliveries
            ),
            return_exceptions=True,
        )
        return closed
