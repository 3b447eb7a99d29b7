"""Scheduled workflows of the contract: the availability probe and the monthly statements."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.names import CLOSE_MONTH, PROBE_AVAILABILITY
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
        return closed
