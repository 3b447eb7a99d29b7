"""Scheduled workflows of the contract: the availability probe and the monthly statements."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.names import CLOSE_MONTH, DELIVER, PROBE_AVAILABILITY
    from sla.notifications import DeliveryResult
    from sla.schedules import ClosedMonth, CloseMonth, ProbeCheck, ProbeOutcome, previous_month


@workflow.defn(name="AvailabilityProbe")
class AvailabilityProbeWorkflow:
    """One check per scheduled run; the store carries the count of consecutive failures."""

    @workflow.run
    async def run(self, check: ProbeCheck) -> ProbeOutcome:
        outcome: ProbeOutcome = await workflow.execute_activity(
            PROBE_AVAILABILITY,
            check,
            result_type=ProbeOutcome,
            start_to_close_timeout=timedelta(seconds=check.timeout_seconds + 10),
            # A failed check is an answer, not an error: the next run is the retry.
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        return outcome


@workflow.defn(name="MonthlyStatements")
class MonthlyStatementsWorkflow:
    """Closes a month: freezes every contracted customer's statement."""

    @workflow.run
    async def run(self, request: CloseMonth) -> ClosedMonth:
        month = request.month or previous_month(workflow.now())
        closed: ClosedMonth = await workflow.execute_activity(
            CLOSE_MONTH,
            CloseMonth(month=month),
            result_type=ClosedMonth,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=10)),
        )
        # Each statement event to each target, retried until delivered (or rejected).
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    DELIVER,
                    delivery,
                    result_type=DeliveryResult,
                    start_to_close_timeout=timedelta(seconds=20),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=2),
                        maximum_interval=timedelta(minutes=10),
                    ),
                )
                for delivery in closed.deliveries
            ),
            return_exceptions=True,
        )
        return closed
