"""TicketWorkflow: one durable workflow per ticket, its SLA clocks kept by a single timer loop."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.names import (
        DELIVER,
        ESCALATE,
        EXTEND_CALENDAR,
        RECORD_CHANGES,
        RECORD_PENALTY,
        RECORD_REWARD,
        RECORD_TICKET,
        SEND_WARNING,
        START_ARCHIVING,
    )
    from sla.actions import (
        Action,
        ActionRejected,
        ChangeTicket,
        Close,
        Comment,
        Pause,
        Reopen,
        Resolve,
        Respond,
        Resume,
    )
    from sla.calendar import Calendar, CalendarExtension
    from sla.effects import Effect, EffectKind, events_for
    from sla.notifications import Delivery, DeliveryResult
    from sla.outcome import TicketChanges, TicketOutcome, outcome_of
    from sla.schedules import ArchiveRequest
    from sla.ticket import OpenTicket, Ticket, TicketState
    from workflows.search_attributes import (
        TICKET_STATUS,
        IndexValues,
        index_updates,
        index_values,
        indexed_at_start,
    )

ACTIVITY_FOR_EFFECT = {
    EffectKind.ESCALATION: ESCALATE,
    EffectKind.WARNING: SEND_WARNING,
    EffectKind.PENALTY: RECORD_PENALTY,
    EffectKind.REWARD: RECORD_REWARD,
}
# Side effects must happen, so they retry until they do; the ledger key keeps them single.
EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidEffect"],
)
EFFECT_TIMEOUT = timedelta(seconds=30)
# Deliveries back off to ten minutes between attempts and never give up on a 5xx or timeout.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
# Above the notifier's own 10 s HTTP timeout; also how soon a killed worker's attempt retries.
DELIVERY_TIMEOUT = timedelta(seconds=20)
# A calendar snapshot is extended this long before its horizon (400 days) runs out.
CALENDAR_MARGIN = timedelta(days=60)
# Patches: each names a change of commands that tickets started before it must not see.
# They decide only for revision 0 tickets (started before revisions, below); every later
# revision has all three changes built in.
RECORD_OUTCOMES = "record-outcomes-in-store"
ARCHIVE_ON_CLOSE = "archive-on-close"
RECORD_LOCALLY = "record-effects-as-local-activities"
# The revision a new ticket starts under (OpenTicket.revision). The input is in the start
# event, so a run keeps its revision's commands for life and replays them: a change for new
# tickets needs no patch, whose marker and TemporalChangeVersion upsert every new ticket
# would otherwise pay for (docs/benchmarks.md). A continue-as-new starts the current one.
# Workers must be upgraded before the API starts tickets under a newer revision.
#   1: no patch calls; visibility seeded from the start's search attributes (no upsert on
#      the first task); a task's effects and outcome recorded by one local activity.
REVISION = 1


@workflow.defn(name="TicketWorkflow")
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
        # Visibility is kept only where the starter indexed the ticket: the API always does,
        # the time-skipping test server has no custom search attributes to index with.
        started_with = workflow.info().typed_search_attributes
        indexed = started_with.get(TICKET_STATUS) is not None
        if indexed and self._revision >= 1:
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
        if not self._patched(ARCHIVE_ON_CLOSE):
            return
        info = workflow.info()
        await workflow.execute_local_activity(
            START_ARCHIVING,
            ArchiveRequest(
                ticket_id=self._ticket.state.ticket_id,
                workflow_id=info.workflow_id,
                task_queue=info.task_queue,
            ),
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=EFFECT_RETRY,
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
            EXTEND_CALENDAR,
            CalendarExtension(calendar=calendar, around=workflow.now()),
            result_type=Calendar,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=EFFECT_RETRY,
        )
        self._ticket.change_calendar(fresh)

    def _patched(self, patch: str) -> bool:
        """Revision 0 tickets decide by their patch markers; later revisions have every patch."""
        return self._revision >= 1 or workflow.patched(patch)

    async def _record_changes(self) -> None:
        """Record what this task changed. Since revision 1, the effects and the outcome go
        in one local activity (one store transaction): a breach costs one workflow task and
        one local activity; revision 0 ran one local activity per effect and one more."""
        if self._revision < 1:
            self._dispatch_effects()
            await self._record_outcome()
            return
        self._in_flight = [h for h in self._in_flight if not h.done()]
        taken = self._ticket.take_effects()
        self._announce(taken)
        effects = [e for e in taken if e.kind in ACTIVITY_FOR_EFFECT]
        outcome = outcome_of(self._ticket.state)
        if not effects and outcome == self._recorded:
            return
        summary = ", ".join(f"{e.kind.value} {e.metric.value} level {e.level}" for e in effects)
        try:
            await workflow.execute_local_activity(
                RECORD_CHANGES,
                TicketChanges(effects=effects, outcome=outcome),
                start_to_close_timeout=EFFECT_TIMEOUT,
                retry_policy=EFFECT_RETRY,
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

    async def _record_outcome(self) -> None:
        """Revision 0: keep the store's row of this ticket current (a local activity)."""
        if not workflow.patched(RECORD_OUTCOMES):
            return
        outcome = outcome_of(self._ticket.state)
        if outcome == self._recorded:
            return
        await workflow.execute_local_activity(
            RECORD_TICKET,
            outcome,
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=EFFECT_RETRY,
            summary="record outcome",
        )
        self._recorded = outcome

    def _dispatch_effects(self) -> None:
        """Revision 0: record each effect and tell its targets; nothing here is awaited."""
        self._in_flight = [h for h in self._in_flight if not h.done()]
        for effect in self._ticket.take_effects():
            if effect.kind in ACTIVITY_FOR_EFFECT:
                self._in_flight.append(self._record(effect))
            self._announce([effect])  # each effect's deliveries after its record, as always

    def _record(self, effect: Effect) -> asyncio.Future[Any]:
        """Record an effect in the store. Since RECORD_LOCALLY, as a local activity: a quick
        idempotent write needs no task round trip through the server, so a breach costs one
        workflow task instead of three (the Monday-morning burst, docs/benchmarks.md)."""
        locally = workflow.patched(RECORD_LOCALLY)
        start = workflow.start_local_activity if locally else workflow.start_activity
        return start(
            ACTIVITY_FOR_EFFECT[effect.kind],
            effect,
            result_type=bool,
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=EFFECT_RETRY,
            summary=f"{effect.kind.value} {effect.metric.value} level {effect.level}",
        )

    async def _deliver(self, delivery: Delivery) -> None:
        """One activity per (event, target), retried with backoff until it is delivered or the
        receiver rejects it for good; that lands on the ticket's timeline."""
        try:
            await workflow.execute_activity(
                DELIVER,
                delivery,
                result_type=DeliveryResult,
                start_to_close_timeout=DELIVERY_TIMEOUT,
                retry_policy=DELIVERY_RETRY,
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
            if self._revision >= 1:
                await self._record_changes()
            else:
                self._dispatch_effects()
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

    def _validate(self, action: Action) -> None:
        try:
            self._ticket.check(action)
        except ActionRejected as exc:
            raise ApplicationError(str(exc), type="ActionRejected", non_retryable=True) from None

    def _act(self, action: Action) -> TicketState:
        try:
            self._ticket.apply(action, workflow.now())
        except ActionRejected as exc:
            # Another update changed the ticket between this one's validation and its turn.
            raise ApplicationError(str(exc), type="ActionRejected", non_retryable=True) from None
        self._changed = True
        return self._ticket.state

    def _act_quietly(self, action: Action) -> None:
        """Signals cannot be refused: one that the state does not allow changes nothing."""
        try:
            self._act(action)
        except ApplicationError as exc:
            workflow.logger.info("ignored signal %s: %s", type(action).__name__, exc.message)

    @workflow.query(name="state")
    def state(self) -> TicketState:
        return self._ticket.state

    @workflow.update(name="respond")
    def respond(self, action: Respond) -> TicketState:
        return self._act(action)

    @respond.validator
    def _validate_respond(self, action: Respond) -> None:
        self._validate(action)

    @workflow.signal(name="respond")
    def respond_signal(self, action: Respond) -> None:
        self._act_quietly(action)

    @workflow.update(name="resolve")
    def resolve(self, action: Resolve) -> TicketState:
        return self._act(action)

    @resolve.validator
    def _validate_resolve(self, action: Resolve) -> None:
        self._validate(action)

    @workflow.signal(name="resolve")
    def resolve_signal(self, action: Resolve) -> None:
        self._act_quietly(action)

    @workflow.update(name="close")
    def close(self, action: Close) -> TicketState:
        return self._act(action)

    @close.validator
    def _validate_close(self, action: Close) -> None:
        self._validate(action)

    @workflow.signal(name="close")
    def close_signal(self, action: Close) -> None:
        self._act_quietly(action)

    @workflow.update(name="pause")
    def pause(self, action: Pause) -> TicketState:
        return self._act(action)

    @pause.validator
    def _validate_pause(self, action: Pause) -> None:
        self._validate(action)

    @workflow.signal(name="pause")
    def pause_signal(self, action: Pause) -> None:
        self._act_quietly(action)

    @workflow.update(name="resume")
    def resume(self, action: Resume) -> TicketState:
        return self._act(action)

    @resume.validator
    def _validate_resume(self, action: Resume) -> None:
        self._validate(action)

    @workflow.signal(name="resume")
    def resume_signal(self, action: Resume) -> None:
        self._act_quietly(action)

    @workflow.update(name="reopen")
    def reopen(self, action: Reopen) -> TicketState:
        return self._act(action)

    @reopen.validator
    def _validate_reopen(self, action: Reopen) -> None:
        self._validate(action)

    @workflow.signal(name="reopen")
    def reopen_signal(self, action: Reopen) -> None:
        self._act_quietly(action)

    @workflow.update(name="change")
    def change(self, action: ChangeTicket) -> TicketState:
        return self._act(action)

    @change.validator
    def _validate_change(self, action: ChangeTicket) -> None:
        self._validate(action)

    @workflow.signal(name="change")
    def change_signal(self, action: ChangeTicket) -> None:
        self._act_quietly(action)

    @workflow.update(name="comment")
    def comment(self, action: Comment) -> TicketState:
        return self._act(action)

    @comment.validator
    def _validate_comment(self, action: Comment) -> None:
        self._validate(action)

    @workflow.signal(name="comment")
    def comment_signal(self, action: Comment) -> None:
        self._act_quietly(action)
