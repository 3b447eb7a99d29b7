"""TicketWorkflow: one durable workflow per ticket, its SLA clocks kept by a single timer loop."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    FailureError,
    RetryState,
)

with workflow.unsafe.imports_passed_through():
    from activities.calendars import extend_calendar
    from activities.handoff import HandOffActivities
    from activities.sla import SlaActivities
    from sla.actions import ACTIONS, Action, ActionInvalid, ActionKind, ActionRejected
    from sla.calendar import CalendarExtension
    from sla.effects import RECORDED, Effect, events_for
    from sla.journal import action_entry, calendar_entry, journaled, opening
    from sla.notifications import Delivery, DeliveryFailure, DeliveryOrder
    from sla.outcome import TicketChanges, TicketOutcome, opening_request, outcome_of
    from sla.records import pending_after, recorded_from
    from sla.schedules import ArchiveRequest
    from sla.state import CommentsPage, CommentsWanted
    from sla.ticket import OpenTicket, Ticket, TicketState, TicketStatus
    from workflows import retries
    from workflows.causes import Causes
    from workflows.search_attributes import (
        ALL_KEYS,
        TICKET_STATUS,
        IndexValues,
        index_updates,
        index_values,
        indexed_at_start,
        kept_keys,
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
        self._request = opening_request(new.customer_id, new.title, new.priority)
        self._changed = False
        # Delivery starts not yet confirmed (local activities).
        self._in_flight: list[asyncio.Task[None]] = []
        self._indexing = False
        self._indexed: IndexValues | None = None
        self._index_keys = ALL_KEYS
        self._recorded: TicketOutcome | None = None
        # Records the store has not taken yet, and the activity writing them (docs/design.md).
        self._pending: TicketChanges | None = new.pending
        self._writing: asyncio.Task[None] | None = None
        self._continue_suggested = False
        # The timer of the loop's sleep, and the moment it is set for.
        self._alarm: asyncio.Task[None] | None = None
        self._alarm_at = workflow.now()
        # The pass is the alarm's (or the run's first): every outcome change is recorded.
        self._woken_by_alarm = True
        # The spans of the actions whose effects the next record carries (for traces).
        self._causes = Causes()
        # The journal (sla/journal.py): the opening once, then each entry by its number. An
        # entry never forces a record: it rides with the next one, which every action that
        # moves a clock makes (its outcome changes), so no command is added for it.
        self._opening = None
        if new.carried is None:
            state = self._ticket.state
            self._opening = opening(
                state.ticket_id, state.customer_id, state.priority, state.created_at, new.policy
            )
        self._journaled = new.journaled
        self._journal = list(new.journal)
        # The time the rules were last applied up to: the outcome's `as_of`, so replaying the
        # journal to it gives the same outcome (sla/what_if.py).
        self._applied_at = workflow.now()
        if new.carried is None:
            self._apply_past(new)

    def _apply_past(self, new: OpenTicket) -> None:
        """What happened to the ticket in its source desk before it reached us (a backfill),
        in order and at its times, before the loop checks a deadline; as the API computed it
        for its answer, which refused an opening whose past the rules refuse."""
        for event in new.past:
            action = event.parsed()
            try:
                self._ticket.apply(action, event.at, received_at=new.received_at)
            except ActionRejected as exc:
                workflow.logger.error("a past action of the opening was refused: %s", exc)
                continue
            if journaled(action):
                self._journal.append(action_entry(self._next_entry, event.at, action))

    @workflow.run
    async def run(self, new: OpenTicket) -> TicketState:
        if new.revision > REVISION:
            # Started by a newer API than this worker: fail the task (Temporal retries it)
            # until an upgraded worker picks the ticket up, rather than run it wrongly.
            raise RuntimeError(f"ticket revision {new.revision} is newer than {REVISION}")
        # Visibility is kept only where the starter indexed the ticket: the API always does,
        # the time-skipping test server has no custom search attributes to index with.
        started_with = workflow.info().typed_search_attributes
        self._indexing = started_with.get(TICKET_STATUS) is not None
        if self._indexing:
            self._indexed = indexed_at_start(started_with)
            self._index_keys = kept_keys(started_with)
        if self._pending is not None:
            self._write_pending()  # carried over by continue-as-new
        self._continue_suggested = workflow.info().is_continue_as_new_suggested()
        while True:
            await self._keep_calendar_ahead()
            self._ticket.on_time(workflow.now())
            self._applied_at = max(self._applied_at, workflow.now())
            await self._record_changes()
            self._update_index()
            if self._ticket.finished(workflow.now()):
                break
            if self._continue_suggested:
                if await self._settled():
                    await self._start_archiving()
                    workflow.continue_as_new(
                        new.model_copy(
                            update={
                                "carried": self._ticket.state,
                                "policy": self._ticket.policy,
                                "revision": REVISION,
                                "pending": self._pending,
                                "journaled": self._journaled,
                                "journal": self._journal,
                            }
                        )
                    )
                continue
            await self._sleep_until_next_moment()
        # Closed: no clock runs any more, so only now may the run wait for the store.
        while not await self._settled() or self._pending is not None:
            await workflow.wait_condition(lambda: self._pending is None)
            self._update_index()
        await self._start_archiving()
        return self._ticket.state

    async def _start_archiving(self) -> None:
        """An ArchiveTicket workflow per run, started (activities/handoff.py) as the run ends
        and not tied to it: it waits until this run has ended (completed, or continued as
        new), then archives it, so retention never deletes a part of a ticket's history that
        the archive lacks."""
        info = workflow.info()
        await workflow.execute_local_activity_method(
            HandOffActivities.start_archiving_run,
            ArchiveRequest(
                ticket_id=self._ticket.state.ticket_id,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                task_queue=info.task_queue,
            ),
            start_to_close_timeout=retries.HAND_OFF_TIMEOUT,
            retry_policy=retries.HAND_OFF,
            summary="start archiving this run",
        )

    async def _sleep_until_next_moment(self) -> None:
        """Sleep until the next SLA moment or until a message changes the ticket.

        The alarm (one timer) is kept while the next moment is not sooner than it: after a
        respond (the next moment moves to the resolution's), a comment or an assignment it
        fires early and the loop sets the next, one command in a task of its own, instead of
        two (cancel, start) on every action (docs/tuning.md)."""
        self._changed = False
        at = self._ticket.next_wakeup()
        if at is not None and (self._alarm is None or at < self._alarm_at):
            self._set_alarm(at)
        await workflow.wait_condition(lambda: self._changed or self._rang())
        self._woken_by_alarm = self._rang()
        if self._woken_by_alarm:
            self._alarm = None
        # Read only here, where a timer or a message woke the loop: after a local activity the
        # flag may come from a later workflow task live than on replay (a long local activity
        # completes its task early), and a continue-as-new decided on it would not replay.
        self._continue_suggested = workflow.info().is_continue_as_new_suggested()

    def _set_alarm(self, at: datetime) -> None:
        if self._alarm is not None and not self._alarm.done():
            self._alarm.cancel()
        self._alarm_at = at
        self._alarm = asyncio.create_task(
            workflow.sleep(
                max(at - workflow.now(), timedelta(milliseconds=1)),
                summary=f"next SLA moment {at.isoformat()}",
            )
        )

    def _rang(self) -> bool:
        return self._alarm is not None and self._alarm.done()

    async def _keep_calendar_ahead(self) -> None:
        """Holidays and time-zone offsets are frozen for a horizon; a long ticket extends it
        through a local activity, so the lookup is recorded in history, never replayed. It
        reads the calendar library only: no I/O."""
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
        self._journal.append(calendar_entry(self._next_entry, workflow.now(), fresh))

    async def _record_changes(self) -> None:
        """Announce this task's effects and hand them, with the ticket's outcome, to the store.

        The fast path, while the store keeps up: one local activity, one transaction, a few
        seconds at most, so a breach costs one workflow task. Past that, or while earlier
        records still wait, the records join the pending ones, written by an activity the
        loop does not wait for: the clock never waits on the store."""
        self._in_flight = [t for t in self._in_flight if not t.done()]
        taken = self._ticket.take_effects()
        orders = self._orders(taken)
        effects = [e for e in taken if e.kind in RECORDED]
        outcome = outcome_of(self._ticket.state)
        record = bool(effects) or (outcome != self._recorded and not self._may_wait(outcome))
        if not orders and not record:
            return
        # The actions noted since the last such pass are what it carries (for traces).
        with self._causes.span("record ticket changes", self._ticket.state.ticket_id):
            if orders:
                self._in_flight.append(asyncio.create_task(self._start_deliveries(orders)))
            if record:
                await self._record(effects, outcome)

    async def _record(self, effects: list[Effect], outcome: TicketOutcome) -> None:
        self._recorded = outcome
        journal, self._journal = self._journal, []
        self._journaled += len(journal)
        changes = TicketChanges(
            effects=effects,
            outcome=outcome,
            request=self._request,
            as_of=self._applied_at,
            opening=self._opening,
            journal=journal,
            journaled=self._journaled,
        )
        self._opening = None
        if self._pending is None:
            summary = ", ".join(f"{e.kind.value} {e.metric.value} level {e.level}" for e in effects)
            try:
                await workflow.execute_local_activity_method(
                    SlaActivities.record_changes,
                    changes,
                    schedule_to_close_timeout=retries.RECORD_FAST_WINDOW,
                    retry_policy=retries.RECORD_FAST,
                    summary=f"record {summary}, outcome" if summary else "record outcome",
                )
                return
            except FailureError as exc:
                # A local activity's last failure may come as itself, not in an ActivityError.
                if isinstance(exc, CancelledError):
                    raise
                if _refused_for_good(exc):
                    # A record the store refuses for good: a bug, or an id used before.
                    workflow.logger.error("the store refused the records: %s", _cause(exc))
                    return
                workflow.logger.warning("the store is slow or down; records wait: %s", _cause(exc))
        self._pending = pending_after(self._pending, changes)
        self._write_pending()

    def _may_wait(self, outcome: TicketOutcome) -> bool:
        """An outcome only an agent's action changed (a respond, a pause, a priority change)
        waits for the alarm, which is set and rings at the latest at the ticket's next SLA
        moment: then it goes with that pass's records, and the action's task is its update
        alone, answered without a store write. Charges and escalations never wait (they are
        effects), nor the opening, a resolution, a close or a reopen (docs/design.md,
        "What may wait for the alarm")."""
        if self._opening is not None or self._woken_by_alarm:
            return False
        if self._alarm is None or self._alarm.done():
            return False  # nothing would ring: no bound on the wait
        settled = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)
        before = self._recorded.status if self._recorded is not None else None
        return outcome.status not in settled and before not in settled

    def _write_pending(self) -> None:
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_pending_until_done())

    async def _write_pending_until_done(self) -> None:
        """One regular activity at a time writes all that waits, retried until the store
        takes it; the effects' keys keep each record single, and the outcome's time keeps
        an older outcome from overwriting a newer one."""
        while self._pending is not None:
            batch = self._pending
            self._update_index()
            try:
                await workflow.execute_activity_method(
                    SlaActivities.record_changes,
                    batch,
                    start_to_close_timeout=retries.RECORD_TIMEOUT,
                    retry_policy=retries.RECORD,
                    summary=f"record {len(batch.effects)} waiting effects, outcome",
                )
            except FailureError as exc:
                # Only a refusal for good gets here (RECORD retries anything else).
                if isinstance(exc, CancelledError):
                    raise
                workflow.logger.error("the store refused the records: %s", _cause(exc))
            self._pending = recorded_from(self._pending, batch)
        self._update_index()

    def _orders(self, effects: list[Effect]) -> list[DeliveryOrder]:
        """Each effect's event to each of its targets: a Delivery workflow per (event, target),
        started by one local activity per pass and not awaited by the loop, so no receiver
        ever holds the ticket; only settling waits for the starts."""
        routing = self._ticket.policy.routing
        if routing is None:
            return []
        workflow_id = workflow.info().workflow_id
        return [
            DeliveryOrder(
                delivery=Delivery(event=event, target=target),
                give_up_after=routing.give_up_after,
                ticket_workflow_id=workflow_id,
            )
            for effect in effects
            for event, audiences in events_for(effect)
            for target in routing.targets_for(event.type, audiences)
        ]

    async def _start_deliveries(self, orders: list[DeliveryOrder]) -> None:
        kinds = sorted({order.delivery.event.type for order in orders})
        await workflow.execute_local_activity_method(
            HandOffActivities.start_deliveries,
            orders,
            start_to_close_timeout=retries.HAND_OFF_TIMEOUT,
            retry_policy=retries.HAND_OFF,
            summary=f"start {len(orders)} deliveries: {', '.join(kinds)}",
        )

    async def _settled(self) -> bool:
        """Let handlers finish and deliveries start; True if no action came in meanwhile."""
        self._changed = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        while self._ticket.outbox or self._in_flight:
            await self._record_changes()
            starts, self._in_flight = self._in_flight, []
            for result in await asyncio.gather(*starts, return_exceptions=True):
                if isinstance(result, BaseException):
                    workflow.logger.error("a delivery could not be started: %s", result)
            await workflow.wait_condition(workflow.all_handlers_finished)
        return not self._changed

    def _update_index(self) -> None:
        if not self._indexing:
            return
        waiting = 0 if self._pending is None else len(self._pending.effects) + 1
        values = index_values(self._ticket.state, waiting)
        updates = index_updates(values, self._indexed, self._index_keys)
        if updates:
            workflow.upsert_search_attributes(updates)
        self._indexed = values

    # -- messages -------------------------------------------------------------------------

    @workflow.signal(name="delivery_failed")
    def delivery_failed(self, failure: DeliveryFailure) -> None:
        """A Delivery workflow gave up: the ticket's timeline shows it (staff only)."""
        self._ticket.record_delivery_failure(
            failure.at, failure.event_type, failure.target, failure.detail
        )
        self._changed = True

    @workflow.query(name="state")
    def state(self) -> TicketState:
        return self._ticket.state.shown()

    @workflow.query(name="comments")
    def comments(self, wanted: CommentsWanted) -> CommentsPage:
        return CommentsPage.of(self._ticket.state, wanted)

    def _validate(self, action: Action) -> None:
        try:
            self._ticket.check(action, _when(action))
        except ActionRejected as exc:
            raise _rejected(exc) from None

    def _act_quietly(self, name: str, action: Action) -> None:
        """Signals cannot be refused: one that the state does not allow changes nothing."""
        try:
            self._act(action)
        except ApplicationError as exc:
            workflow.logger.info("ignored signal %s: %s", name, exc.message)

    def _act(self, action: Action) -> TicketState:
        repeated = self._ticket.seen(action)
        when = _when(action)
        if not repeated:  # time is applied first, even to an action then refused
            self._applied_at = max(self._applied_at, when)
        try:
            self._ticket.apply(action, when, received_at=workflow.now())
        except ActionRejected as exc:
            # Another update changed the ticket between this one's validation and its turn.
            raise _rejected(exc) from None
        if not repeated and journaled(action):
            self._journal.append(action_entry(self._next_entry, when, action))
        self._changed = True
        self._causes.note()
        return self._ticket.state.shown()

    @property
    def _next_entry(self) -> int:
        """The next journal entry's number: after every one made before, recorded or not."""
        return self._journaled + len(self._journal)


def _when(action: Action) -> datetime:
    """When an action happened: its `at` (the source desk's time, checked by the API), never
    later than the workflow's now, which a clock skew of the sender's may put it past."""
    now = workflow.now()
    return now if action.at is None else min(action.at, now)


# The failures the store raises that no retry will fix (workflows/retries.py).
_FINAL = frozenset(retries.RECORD_FAST.non_retryable_error_types or ())


def _cause(exc: FailureError) -> BaseException:
    return exc.cause if isinstance(exc, ActivityError) and exc.cause is not None else exc


def _refused_for_good(exc: FailureError) -> bool:
    if isinstance(exc, ActivityError) and exc.retry_state == RetryState.NON_RETRYABLE_FAILURE:
        return True
    cause = _cause(exc)
    return isinstance(cause, ApplicationError) and (cause.non_retryable or cause.type in _FINAL)


def _rejected(exc: ActionRejected) -> ApplicationError:
    """The failure an Update answers with; the API maps its type to a 409 (ActionRejected) or
    a 422 (ActionInvalid) with the reason."""
    kind = ActionInvalid if isinstance(exc, ActionInvalid) else ActionRejected
    return ApplicationError(str(exc), type=kind.__name__, non_retryable=True)
