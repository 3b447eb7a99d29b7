"""A bulk repair's side effects: listing a policy's open tickets (visibility), and repairing one
ticket, or saying what its repair would do, through the ticket's own `repair` Update."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.resolve import policy_snapshot
from sla.actions import ActionRejected, Repair
from sla.policy import ConfigError, SlaConfig
from sla.repairs import REPAIR_LIMIT, RepairOrder, TicketRepair, TicketsUnder, own_repair
from sla.ticket import TicketState, TicketStatus, repair_preview
from workflows import search_attributes as sa

TICKET_WORKFLOW = "TicketWorkflow"
# More open tickets than one repair takes (sla/repairs.py): no retry changes that.
TOO_MANY = "TooManyTickets"


class RepairActivities:
    def __init__(self, client: Client, config: Callable[[], SlaConfig]) -> None:
        self._client = client
        self._config = config  # the config in force when each ticket is repaired

    @activity.defn(name="tickets_under")
    async def tickets_under(self, wanted: TicketsUnder) -> list[str]:
        """The ids of the open tickets running under the policy, on this deployment's queue."""
        if "'" in wanted.task_queue:
            raise ApplicationError("a task queue name with a quote", non_retryable=True)
        query = (
            f"WorkflowType = '{TICKET_WORKFLOW}' AND ExecutionStatus = 'Running' "
            f"AND TaskQueue = '{wanted.task_queue}' AND {sa.TICKET_POLICY.name} = "
            f"'{wanted.policy}' AND {sa.TICKET_STATUS.name} != '{TicketStatus.CLOSED.value}'"
        )  # the policy is an id (sla/ids.py): nothing to escape
        found: dict[str, None] = {}
        async for execution in self._client.list_workflows(query, page_size=1000):
            found[execution.id.removeprefix("ticket-")] = None
            if len(found) > REPAIR_LIMIT:
                raise ApplicationError(
                    f"more than {REPAIR_LIMIT} open tickets run under policy {wanted.policy!r}: "
                    "more than one repair takes; repair them a customer at a time "
                    "(POST /tickets/{id}/repair)",
                    type=TOO_MANY,
                    non_retryable=True,
                )
        return sorted(found)

    @activity.defn(name="repair_ticket")
    async def repair_ticket(self, order: RepairOrder) -> TicketRepair:
        """Repair one ticket (or, dry, say what its repair would do). A ticket that is closed,
        gone, or under another policy by now is reported, not retried; Temporal's own failures
        are raised, and retried within the repair's bounds."""
        handle = self._client.get_workflow_handle(f"ticket-{order.ticket_id}")

        def report(outcome: str, detail: str) -> TicketRepair:
            return TicketRepair.model_validate(
                {"ticket_id": order.ticket_id, "outcome": outcome, "detail": detail}
            )

        try:
            state = await handle.query("state", result_type=TicketState)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return report("refused", "the ticket is closed (or gone)")
            raise
        done = own_repair(state.repairs, order.request_id)
        if done is not None:  # a retry of a repair that applied (a worker killed mid-way)
            return TicketRepair.of(order.ticket_id, "repaired", done)
        if state.status is TicketStatus.CLOSED:
            return report("refused", "cannot repair: the ticket is closed")
        if state.policy != order.policy:
            return report("skipped", f"it runs under policy {state.policy!r} now")
        try:
            snapshot = policy_snapshot(
                self._config(), state.created_at, state.customer_id, order.policy
            )
        except ConfigError as exc:
            return report("refused", str(exc))
        action = Repair(
            policy=order.policy,
            reason=order.reason,
            actor=order.actor,
            sent_by=order.sent_by,
            snapshot=snapshot,
            request_id=order.request_id,
        )
        if order.dry_run:
            try:
                preview = repair_preview(state, action, datetime.now(UTC))
            except ActionRejected as exc:
                return report("refused", str(exc))
            return TicketRepair.of(order.ticket_id, "would_repair", preview)
        try:
            repaired = await handle.execute_update(
                "repair", action, id=order.request_id, result_type=TicketState
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                return report("refused", cause.message)  # the ticket's validator refused it
            raise
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # completed since the query
                return report("refused", "cannot repair: the ticket is closed")
            raise
        record = own_repair(repaired.repairs, order.request_id)
        if record is None:  # a Signal or another Update with the same id: nothing of ours
            return report("failed", "the ticket took the request but shows no repair of it")
        return TicketRepair.of(order.ticket_id, "repaired", record)
