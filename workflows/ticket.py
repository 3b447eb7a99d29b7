"""TicketWorkflow: one durable workflow per ticket, its SLA clocks kept by a single timer loop."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.archive import ArchiveActivities
    from activities.calendars import extend_calendar
    from activities.notify import Notifier
    from activities.sla import SlaActivities
    from sla.actions import ACTIONS, Action, ActionKind, ActionRejected
    from sla.calendar import CalendarExtension
    from sla.effects import RECORDED, Effect, events_for
    from sla.notifications import Delivery
    from sla.outcome import TicketChanges, TicketOutcome, outcome_of
    from sla.schedules import ArchiveRequest
    from sla.state import CommentsPage, CommentsWanted
    from sla.ticket import OpenTicket, Ticket, TicketState
    from workflows import retries
    from workflows.search_attributes import (
        TICKET_STATUS,
        IndexValues,
        index_updates,
        index_values,
        indexed_at_start,
    )

# A calendar snapshot is extended this long before its horizon (400 days) runs out.
CALENDAR_MARGIN = timedelta(days=60)
# The revision a new ticket starts under (OpenTicket.revision). The input is in the start
# event, so a run keeps its revision's commands for life and replays them: a change of
# commands for new tickets bumps this and branches on `self._revision`, with no patch marker
# (docs/versioning.md says which tool serves which change). A continue-as-new starts the
# current revision. Workers are upgraded before the API starts tickets under a newer one.
REVISION = 1

W = TypeVar("W", bound=type)


def _handles_actions(cls: W) -> W:
    """One Update (validated, answered with the new state) and one Signal (fire and forget, for
    producers that cannot wait) per action of the registry, under its Temporal name. Made once,
    as the class is defined, so they are the class's own handlers: messages that wait in a
    ticket's first task are handled in the order they came, as any declared handler's are."""
    for kind in ACTIONS:
        _declare_handlers(cls, kind)
    return cls


def _declare_handlers(cls: type, kind: ActionKind[Any]) -> None:
    def update(self: TicketWorkflow, action: Action) -> TicketState:
        return self._act(action)

    def validate(self: TicketWorkflow, action: Action) -> None:
        self._validate(action)

    def signal(self: TicketWorkflow, action: Action) -> None:
        self._act_quietly(kind.name, action)

    for handler, returns in ((update, TicketState), (validate, None), (signal, None)):
        # The SDK decodes a message into its handler's annotated type: the kind's model.
        handler.__annotations__ = {"action": kind.model, "return": returns}
        handler.__name__ = handler.__qualname__ = f"{kind.name}_{handler.__name__}"
    declared = workflow.update(name=kind.name)(update)
    declared.validator(validate)
    setattr(cls, kind.name, declared)
    setattr(cls, f"{kind.name}_signal", workflow.signal(name=kind.name)(signal))


@workflow.defn(name="TicketWorkflow")
@_handles_actions
class TicketWorkflow:
    @workflow.init
    def __init__(self, new: OpenTicket) -> None:
        self._ticket = Ticket.open(new, workflow.now())
        self._revision = new.revision
        self._changed = False
        self._in_flight: list[asyncio.Future[Any]] = []
        self._indexed: IndexValues | None = None
        self._recorded: TicketOutcome | None = None

    @workflow.run
    async def run(self, new: OpenTicket) -> TicketState:
        if new.revision > REVISION:
            # Started by a newer API than this worker: fail the task (Temporal retries it)
            # until an upgraded worker picks the ticket up, rather than run it wrongly.
            raise RuntimeError(f"ticket revision {new.revision} is newer than {REVISION}")
        # Visibility is kept only where the starter indexed the ticket: the API always does,
        # the time-skipping test server has no custom search attributes to index with.
        started_with = workflow.info().typed_search_attributes
        indexed = started_with.get(TICKET_STATUS) is not None
        if indexed:
            self._indexed = indexed_at_start(started_with)
        while True:
            await self._keep_calendar_ahead()
            self._ticket.on_time(workflow.now())
            await self._record_changes()
            if indexed:
                self._update_index()
            if self._ticket.closed:
                break
            if workflow.info().is_continue_as_new_suggested():
                if await self._settled():
                    workflow.continue_as_new(
                        new.model_copy(
                            update={
                                "carried": self._ticket.state,
                                "policy": self._ticket.policy,
                                "revision": REVISION,
                            }
                        )
                    )
                continue
            await self._sleep_until_next_moment()
        await self._settled()
        await self._start_archiving()
        return self._ticket.state

    async def _start_archiving(self) -> None:
        """An ArchiveTicket workflow, started by a local activity (not as a child, so nothing
        ties it to this run), archives the full history once this run has completed."""
        info = workflow.info()
        await workflow.execute_local_activity_method(
            ArchiveActivities.start_archiving,
            ArchiveRequest(
                ticket_id=self._ticket.state.ticket_id,
                workflow_id=info.workflow_id,
                task_queue=info.task_queue,
            ),
            start_to_close_timeout=retries.RECORD_TIMEOUT,
            retry_policy=retries.RECORD,
            summary="start archiving",
        )

    async def _sleep_until_next_moment(self) -> None:
        """The updatable timer: sleep until the next SLA moment or until any action changes it."""
        self._changed = False
        at = self._ticket.next_wakeup()
        timeout = None if at is None else max(at - workflow.now(), timedelta(milliseconds=1))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._changed,
                timeout=timeout,
                timeout_summary=None if at is None else f"next SLA moment {at.isoformat()}",
            )

    async def _keep_calendar_ahead(self) -> None:
        """Holidays and time-zone offsets are frozen for a horizon; a long ticket extends it
        through a local activity, so the lookup is recorded in history, never replayed."""
        calendar = self._ticket.policy.calendar
        if calendar.horizon_end is None:
            return
        if workflow.now().date() + CALENDAR_MARGIN < calendar.horizon_end:
            return
        fresh = await workflow.execute_local_activity(
            extend_calendar,
            CalendarExtension(calendar=calendar, around=workflow.now()),
            start_to_close_timeout=retries.RECORD_TIMEOUT,
            retry_policy=retries.RECORD,
        )
        self._ticket.change_calendar(fresh)

    async def _record_changes(self) -> None:
        """Announce this task's effects and record them with the ticket's outcome: one local
        activity, one store transaction, so a breach costs one workflow task."""
        self._in_flight = [h for h in self._in_flight if not h.done()]
        taken = self._ticket.take_effects()
        self._announce(taken)
        effects = [e for e in taken if e.kind in RECORDED]
        outcome = outcome_of(self._ticket.state)
        if not effects and outcome == self._recorded:
            return
        summary = ", ".join(f"{e.kind.value} {e.metric.value} level {e.level}" for e in effects)
        try:
            await workflow.execute_local_activity_method(
                SlaActivities.record_changes,
                TicketChanges(effects=effects, outcome=outcome),
                start_to_close_timeout=retries.RECORD_TIMEOUT,
                retry_policy=retries.RECORD,
                summary=f"record {summary}, outcome" if summary else "record outcome",
            )
        except ActivityError as exc:
            # Only a non-retryable failure gets here; the ticket must go on keeping its SLA.
            workflow.logger.error("recording failed for good: %s", exc.cause or exc)
            return
        self._recorded = outcome

    def _announce(self, effects: list[Effect]) -> None:
        """Tell each effect's targets; not awaited, so a slow receiver never holds up the
        ticket's own timers."""
        routing = self._ticket.policy.routing
        if routing is None:
            return
        for effect in effects:
            for event, audiences in events_for(effect):
                for target in routing.targets_for(event.type, audiences):
                    delivery = Delivery(event=event, target=target)
                    self._in_flight.append(asyncio.create_task(self._deliver(delivery)))

    async def _deliver(self, delivery: Delivery) -> None:
        """One activity per (event, target), retried with backoff until it is delivered or the
        receiver rejects it for good; that lands on the ticket's timeline."""
        try:
            await workflow.execute_activity_method(
                Notifier.deliver,
                delivery,
                start_to_close_timeout=retries.DELIVERY_TIMEOUT,
                retry_policy=retries.DELIVERY,
                summary=f"{delivery.event.type} to {delivery.target}",
            )
        except ActivityError as exc:
            cause = exc.cause
            why = cause.message if isinstance(cause, ApplicationError) else str(exc)
            self._ticket.record_delivery_failure(
                workflow.now(), delivery.event.type, delivery.target, why
            )
            self._changed = True

    async def _settled(self) -> bool:
        """Let handlers finish and side effects complete; True if no action came in meanwhile."""
        self._changed = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        while self._ticket.outbox or self._in_flight:
            await self._record_changes()
            results = await asyncio.gather(*self._in_flight, return_exceptions=True)
            self._in_flight = []
            for result in results:
                if isinstance(result, BaseException):
                    # Only a non-retryable failure gets here; the ticket must still finish.
                    workflow.logger.error("side effect failed for good: %s", result)
            await workflow.wait_condition(workflow.all_handlers_finished)
        return not self._changed

    def _update_index(self) -> None:
        values = index_values(self._ticket.state)
        updates = index_updates(values, self._indexed)
        if updates:
            workflow.upsert_search_attributes(updates)
        self._indexed = values

    # -- messages -------------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> TicketState:
        return self._ticket.state.shown()

    @workflow.query(name="comments")
    def comments(self, wanted: CommentsWanted) -> CommentsPage:
        return CommentsPage.of(self._ticket.state, wanted)

    def _validate(self, action: Action) -> None:
        try:
            self._ticket.check(action)
        except ActionRejected as exc:
            raise _rejected(exc) from None

    def _act_quietly(self, name: str, action: Action) -> None:
        """Signals cannot be refused: one that the state does not allow changes nothing."""
        try:
            self._act(action)
        except ApplicationError as exc:
            workflow.logger.info("ignored signal %s: %s", name, exc.message)

    def _act(self, action: Action) -> TicketState:
        try:
            self._ticket.apply(action, workflow.now())
        except ActionRejected as exc:
            # Another update changed the ticket between this one's validation and its turn.
            raise _rejected(exc) from None
        self._changed = True
        return self._ticket.state.shown()


def _rejected(exc: ActionRejected) -> ApplicationError:
    """The failure an Update answers with; the API maps its type to a 409 with the reason."""
    return ApplicationError(str(exc), type=ActionRejected.__name__, non_retryable=True)
