"""The ticket's rules: every action on it and what time passing does, as pure functions.

One class on purpose (about 450 lines): the whole state machine of a ticket reads in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic

from pydantic import JsonValue
from pydantic_core import to_json

from sla import actions as do
from sla.actions import ACTIONS, A, Action, ActionInvalid, ActionRejected
from sla.calendar import Calendar
from sla.clock import ClockState, Metric, SlaClock
from sla.durations import format_duration
from sla.effects import Effect, EffectKind
from sla.policy import CUSTOMER_AUDIENCE, PolicySnapshot
from sla.quality import QualityPolicy, RatingRecord
from sla.state import (
    COMMENT_LIMIT,
    COMMENT_TEXT_LIMIT,
    ClockRepair,
    CommentRecord,
    CreditRecord,
    EscalationRecord,
    KeptBreach,
    OpenTicket,
    RepairRecord,
    TicketState,
    TicketStatus,
    TimelineEntry,
)

__all__ = [
    "CommentRecord",
    "CreditRecord",
    "EscalationRecord",
    "OpenTicket",
    "RepairRecord",
    "Ticket",
    "TicketState",
    "TicketStatus",
    "TimelineEntry",
]


def encoded_size(text: str) -> int:
    """What a text weighs in the ticket's JSON state: UTF-8 with escapes, without the quotes."""
    return len(to_json(text)) - 2


def shown_actor(entry: TimelineEntry) -> str | None:
    """Who did it, as the timeline shows it: "ops for alice" when a key acted for the one it
    named (the entry keeps both apart: `actor`, and `sent_by` in its detail)."""
    sent_by = entry.detail.get("sent_by")
    return f"{sent_by} for {entry.actor}" if sent_by else entry.actor


# How many recent request ids a ticket remembers to make retried actions harmless.
REQUEST_ID_MEMORY = 256


DEFAULT_QUALITY = QualityPolicy()

_ACTIVE = (TicketStatus.OPEN, TicketStatus.RESPONDED, TicketStatus.WAITING_ON_CUSTOMER)


class Ticket:
    """A ticket's state plus the policy it is under; every method takes `now` explicitly."""

    def __init__(self, state: TicketState, policy: PolicySnapshot) -> None:
        self.state = state
        self.policy = policy
        # Effects owed to the world, kept here so none is lost when an action is then refused.
        self.outbox: list[Effect] = []
        # When the action being checked happens: the few rules that depend on time read it.
        self._checked_at = state.updated_at

    def take_effects(self) -> list[Effect]:
        effects, self.outbox = self.outbox, []
        return effects

    @classmethod
    def open(cls, new: OpenTicket, now: datetime) -> Ticket:
        if new.carried is not None:
            return cls(new.carried, new.policy)
        at = new.opened_at or now
        calendar = new.policy.calendar
        start = calendar.next_business_instant(at)
        targets = new.policy.targets[new.priority]
        state = TicketState(
            ticket_id=new.ticket_id,
            customer_id=new.customer_id,
            title=new.title,
            description=new.description,
            priority=new.priority,
            policy=new.policy.name,
            calendar=calendar.name,
            timezone=calendar.timezone,
            created_at=at,
            updated_at=at,
            response=SlaClock.start(Metric.RESPONSE, targets.response, start, calendar),
            resolution=SlaClock.start(Metric.RESOLUTION, targets.resolution, start, calendar),
            timeline=[
                TimelineEntry(
                    at=at,
                    kind="opened",
                    actor=new.customer_id,
                    detail={"priority": new.priority.value, "policy": new.policy.name}
                    | _received(new.received_at),
                )
            ],
        )
        return cls(state, new.policy)

    def change_calendar(self, calendar: Calendar) -> None:
        """Swap in the same calendar resolved for a later horizon; due times are recomputed."""
        self.policy = self.policy.model_copy(update={"calendar": calendar})
        for clock in self.clocks:
            clock.replan(calendar)

    # -- reading ------------------------------------------------------------------------

    @property
    def clocks(self) -> tuple[SlaClock, SlaClock]:
        return (self.state.response, self.state.resolution)

    @property
    def closed(self) -> bool:
        return self.state.status is TicketStatus.CLOSED

    def next_wakeup(self) -> datetime | None:
        """The next moment something is due: a warning, a breach, an escalation, an auto-close,
        a follow-up, the end of a closed ticket's rating window."""
        moments = [m for clock in self.clocks for m in self._clock_moments(clock)]
        if self.state.status is TicketStatus.RESOLVED and self.state.resolved_at is not None:
            moments.append(self.state.resolved_at + self.policy.auto_close_after)
        if (follow_up := self._follow_up_at()) is not None:
            moments.append(follow_up)
        if self.closed and (window_end := self._rating_window_end()) is not None:
            moments.append(window_end)
        return min(moments, default=None)

    @property
    def last_event_at(self) -> datetime:
        """The time of the latest thing recorded on the ticket that counts: an action, a
        breach, an escalation. An action dated earlier (`at`) would rewrite what was charged
        and escalated."""
        return max(
            [
                self.state.updated_at,
                *(e.at for e in self.state.timeline if e.kind not in _DATES_NOTHING),
            ]
        )

    def finished(self, now: datetime) -> bool:
        """Closed, and nothing of quality still to wait for: the run may end. A closed ticket
        keeps its rating window (and its follow-up) open; its SLA clocks have stopped."""
        if not self.closed:
            return False
        window_end = self._rating_window_end()
        return (window_end is None or now >= window_end) and self._follow_up_at() is None

    # -- quality ------------------------------------------------------------------------

    def _resolved_cycle(self) -> tuple[int, datetime] | None:
        """The current cycle and its resolution time, once it is resolved (or closed)."""
        if self.state.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            return None
        if self.state.resolved_at is None:
            return None
        return self.state.resolution.cycle, self.state.resolved_at

    def _rated(self, cycle: int) -> bool:
        return any(r.cycle == cycle for r in self.state.ratings)

    def _rating_window(self) -> timedelta:
        """Ratings are taken under every policy; only a policy with a quality section keeps a
        closed ticket running for them (`finished`)."""
        return (self.policy.quality or DEFAULT_QUALITY).rating_window

    def _rating_window_end(self) -> datetime | None:
        """When the current cycle stops taking a rating; None once rated, or without ratings."""
        quality, resolved = self.policy.quality, self._resolved_cycle()
        if quality is None or resolved is None or self._rated(resolved[0]):
            return None
        return _later(resolved[1], quality.rating_window)

    def _follow_up_at(self) -> datetime | None:
        """When the assignee is reminded of a resolved cycle that got neither a rating nor a
        reopen; None when done, not due, or not asked for."""
        quality, resolved = self.policy.quality, self._resolved_cycle()
        if quality is None or quality.follow_up_after is None or resolved is None:
            return None
        cycle, resolved_at = resolved
        if self._rated(cycle) or self.state.followed_up_cycle >= cycle:
            return None
        return _later(resolved_at, quality.follow_up_after)

    def _follow_up(self, now: datetime) -> list[Effect]:
        at = self._follow_up_at()
        if at is None or at > now:
            return []
        cycle = self.state.resolution.cycle
        self.state.followed_up_cycle = cycle
        notify = list(self.policy.escalation[0].notify) if self.policy.escalation else []
        self._record(at, "followed_up", None, cycle=cycle, notify=list(notify))
        return [
            self._effect(
                EffectKind.FOLLOW_UP,
                self.state.resolution,
                at,
                notify=notify,
                assignee=self.state.assignee,
            )
        ]

    def _link(self) -> str | None:
        routing = self.policy.routing
        if routing is None or routing.link_base is None:
            return None
        return f"{routing.link_base}/board/tickets/{self.state.ticket_id}"

    def _clock_moments(self, clock: SlaClock) -> list[datetime]:
        moments: list[datetime] = []
        if clock.state is ClockState.RUNNING and clock.due_at is not None:
            moments.append(clock.due_at)
            for fraction in self._pending_warnings(clock):
                at = clock.when_elapsed(clock.target * fraction, self.policy.calendar)
                if at is not None:
                    moments.append(at)
        escalation_at = self._next_escalation_at(clock)
        if escalation_at is not None:
            moments.append(escalation_at)
        return moments

    def _pending_warnings(self, clock: SlaClock) -> list[float]:
        return [f for f in self.policy.warn_at if f not in clock.warned_fractions]

    def _next_escalation_at(self, clock: SlaClock) -> datetime | None:
        chain = self.policy.escalation
        if (
            clock.state is ClockState.BREACHED
            and not clock.completed
            and clock.accruing
            and clock.breached_at is not None
            and clock.escalation_level < len(chain)
        ):
            return clock.breached_at + chain[clock.escalation_level].after
        return None

    # -- time passing -------------------------------------------------------------------

    def on_time(self, now: datetime) -> list[Effect]:
        """Apply everything that has come due by `now`; the effects are also put in the outbox."""
        effects: list[Effect] = []
        for clock in self.clocks:
            if clock.check_breach(now):
                effects += self._breached(clock)
            effects += self._warn(clock, now)
            effects += self._escalate(clock, now)
        if (
            self.state.status is TicketStatus.RESOLVED
            and self.state.resolved_at is not None
            and now >= self.state.resolved_at + self.policy.auto_close_after
        ):
            self._close(self.state.resolved_at + self.policy.auto_close_after, "slaflow", auto=True)
        effects += self._follow_up(now)
        self.outbox += effects
        return effects

    def _effect(self, kind: EffectKind, clock: SlaClock, at: datetime, **extra: object) -> Effect:
        return Effect.model_validate(
            {
                "kind": kind,
                "ticket_id": self.state.ticket_id,
                "customer_id": self.state.customer_id,
                "priority": self.state.priority,
                "metric": clock.metric,
                "cycle": clock.cycle,
                "at": at,
                **extra,
            }
        )

    def _breached(self, clock: SlaClock) -> list[Effect]:
        assert clock.breached_at is not None
        at = clock.breached_at
        self.state.ever_breached = True
        self._record(at, "breached", None, metric=clock.metric.value, cycle=clock.cycle)
        percent = self.policy.penalty_percent(clock.metric.value, self.state.priority)
        amount, unit = None, None
        if percent is not None:
            # A customer with a contract is credited money; one without sees the percentage.
            contract = self.policy.contract
            amount = contract.money(percent) if contract else percent
            unit = contract.currency if contract else "percent"
            self.state.credits.append(
                CreditRecord(
                    kind="penalty",
                    metric=clock.metric,
                    amount=amount,
                    unit=unit,
                    at=at,
                    cycle=clock.cycle,
                )
            )
        return [
            self._effect(EffectKind.PENALTY, clock, at, percent=percent, amount=amount, unit=unit)
        ]

    def _warn(self, clock: SlaClock, now: datetime) -> list[Effect]:
        if clock.state is not ClockState.RUNNING:
            return []
        effects = []
        for fraction in self._pending_warnings(clock):
            at = clock.when_elapsed(clock.target * fraction, self.policy.calendar)
            if at is not None and at <= now:
                clock.warned_fractions.append(fraction)
                self._record(at, "warned", None, metric=clock.metric.value, fraction=fraction)
                effects.append(self._effect(EffectKind.WARNING, clock, at, fraction=fraction))
        return effects

    def _escalate(self, clock: SlaClock, now: datetime) -> list[Effect]:
        effects = []
        while (at := self._next_escalation_at(clock)) is not None and at <= now:
            level = self.policy.escalation[clock.escalation_level]
            clock.escalation_level += 1
            reason = f"{clock.metric.value} SLA breached"
            self.state.escalations.append(
                EscalationRecord(
                    level=clock.escalation_level,
                    at=at,
                    metric=clock.metric,
                    reason=reason,
                    notify=level.notify,
                )
            )
            self.state.escalation_level = max(self.state.escalation_level, clock.escalation_level)
            self._record(
                at,
                "escalated",
                None,
                metric=clock.metric.value,
                level=clock.escalation_level,
                notify=list(level.notify),
            )
            effects.append(
                self._effect(
                    EffectKind.ESCALATION,
                    clock,
                    at,
                    level=clock.escalation_level,
                    notify=level.notify,
                    breached_at=clock.breached_at,
                )
            )
        return effects

    # -- actions ------------------------------------------------------------------------
    # Each `check_*` raises ActionRejected with the reason; each apply method checks first,
    # so a Signal (which cannot be refused) that is not allowed changes nothing.

    def seen(self, action: Action) -> bool:
        return action.request_id is not None and action.request_id in self.state.request_ids

    def _remember(self, action: Action, now: datetime) -> None:
        self.state.updated_at = max(self.state.updated_at, now)
        if action.request_id is not None:
            self.state.request_ids = [*self.state.request_ids, action.request_id][
                -REQUEST_ID_MEMORY:
            ]

    def _require(self, allowed: tuple[TicketStatus, ...], doing: str) -> None:
        status = self.state.status
        if status in allowed:
            return
        if status is TicketStatus.CLOSED:
            raise ActionRejected(f"cannot {doing}: the ticket is closed")
        raise ActionRejected(f"cannot {doing}: the ticket is {status.value.replace('_', ' ')}")

    def check(self, action: Action, now: datetime | None = None) -> None:
        """Raises ActionRejected (or ActionInvalid) with the reason; `now`, when the action
        would happen (an Update's validator passes it), else the ticket's last change."""
        if self.seen(action):
            return
        self._checked_at = now or self.state.updated_at
        self._check_time(action, self._checked_at)
        _RULES[type(action)].check(self, action)

    def _check_time(self, action: Action, at: datetime) -> None:
        if action.at is not None and at < (last := self.last_event_at):
            raise ActionInvalid(
                f"at {at.isoformat()} is before the ticket's last recorded event "
                f"({last.isoformat()}): events are applied in the order they happened"
            )

    def apply(
        self, action: Action, now: datetime, received_at: datetime | None = None
    ) -> list[Effect]:
        """Check and apply an action at `now`, when it happened; a repeated request id is a
        no-op. `received_at`, when slaflow heard of it, if later (an action sent with `at`):
        its timeline entries show both.

        What came due before `now` is applied first: an answer that arrives after its
        deadline, before the timer loop woke, still finds the clock breached and charged.
        """
        if self.seen(action):
            return []
        self._check_time(action, now)
        due = self.on_time(now)
        rule = _RULES[type(action)]
        self._checked_at = now
        rule.check(self, action)
        recorded = len(self.state.timeline)
        effects = rule.apply(self, action, now)
        if received_at is not None and received_at != now:
            for entry in self.state.timeline[recorded:]:
                entry.detail |= _received(received_at)
        self.outbox += effects
        self._remember(action, now)
        return due + effects

    def _check_respond(self, action: do.Respond) -> None:
        self._require(_ACTIVE, "respond")

    def _respond(self, action: do.Respond, now: datetime) -> list[Effect]:
        first = not self.state.response.completed
        self.state.response.complete(now, self.policy.calendar)
        if self.state.status is TicketStatus.OPEN:
            self.state.status = TicketStatus.RESPONDED
        if self.state.assignee is None:
            self.state.assignee = action.agent_id
        self.state.responses += 1
        self._record(
            now, "responded", action.agent_id, sent_by=action.sent_by, first_response=first
        )
        # The first one is news to the world (PagerDuty acknowledges the ticket's incident).
        return [self._effect(EffectKind.RESPONDED, self.state.response, now)] if first else []

    def _check_resolve(self, action: do.Resolve) -> None:
        quality = self.policy.quality
        if quality and quality.require_resolution_note and not (action.resolution or "").strip():
            raise ActionInvalid(
                f"resolve needs a resolution note: policy {self.policy.name!r} asks for the "
                "detailed solution in `resolution`"
            )
        self._require(_ACTIVE, "resolve")

    def _resolve(self, action: do.Resolve, now: datetime) -> list[Effect]:
        # Resolving answers the customer, so it also counts as the first response.
        for clock in self.clocks:
            clock.complete(now, self.policy.calendar)
        self.state.status = TicketStatus.RESOLVED
        self.state.resolved_at = now
        self.state.resolution_note = action.resolution
        self.state.rating_closes_at = _later(now, self._rating_window())
        self._record(now, "resolved", action.agent_id, sent_by=action.sent_by)
        resolved = self._effect(EffectKind.RESOLVED, self.state.resolution, now)
        return [resolved, *self._reward(self.state.resolution, now), *self._survey(now)]

    def _survey(self, now: datetime) -> list[Effect]:
        """Ask the customer how it went: a `survey` event to the customer's targets."""
        if self.policy.quality is None or not self.policy.quality.survey:
            return []
        self._record(now, "surveyed", None, cycle=self.state.resolution.cycle)
        return [
            self._effect(
                EffectKind.SURVEY,
                self.state.resolution,
                now,
                notify=[CUSTOMER_AUDIENCE],
                note=self.state.resolution_note,
                link=self._link(),
            )
        ]

    def _check_rate(self, action: do.Rate) -> None:
        resolved = self._resolved_cycle()
        if resolved is None:
            raise ActionRejected(
                "cannot rate: the ticket is not resolved; a rating is of a resolution"
            )
        cycle, resolved_at = resolved
        if self._rated(cycle):
            raise ActionRejected(f"cannot rate: resolution cycle {cycle} is rated already")
        closes = _later(resolved_at, self._rating_window())
        if closes is not None and self._checked_at > closes:
            raise ActionRejected(f"cannot rate: the rating window closed at {closes.isoformat()}")

    def _rate(self, action: do.Rate, now: datetime) -> list[Effect]:
        cycle = self.state.resolution.cycle
        self.state.ratings.append(
            RatingRecord(
                cycle=cycle, score=action.score, comment=action.comment, at=now, given_by=action.by
            )
        )
        self._record(
            now, "rated", action.by, sent_by=action.sent_by, cycle=cycle, score=action.score
        )
        return [
            self._effect(
                EffectKind.RATING,
                self.state.resolution,
                now,
                score=action.score,
                comment=action.comment,
            )
        ]

    def record_delivery_failure(self, at: datetime, event_type: str, target: str, why: str) -> None:
        """A notification that could not be delivered for good: on the timeline, never silent."""
        self._record(at, "delivery_failed", None, event=event_type, target=target, reason=why)

    def _reward(self, clock: SlaClock, now: datetime) -> list[Effect]:
        """Beating the SLA: met within the policy's fraction of the target earns the reward."""
        rule = self.policy.rewards
        if rule is None or clock.state is not ClockState.MET:
            return []
        if clock.elapsed > clock.target * rule.resolved_within:
            return []
        reward = rule.reward
        self.state.credits.append(
            CreditRecord(
                kind="reward",
                metric=clock.metric,
                amount=reward.amount,
                unit=reward.unit,
                at=now,
                cycle=clock.cycle,
            )
        )
        self._record(now, "rewarded", None, amount=str(reward.amount), unit=reward.unit)
        return [self._effect(EffectKind.REWARD, clock, now, amount=reward.amount, unit=reward.unit)]

    def _check_close(self, action: do.Close) -> None:
        if self.state.status is TicketStatus.CLOSED:
            raise ActionRejected("cannot close: the ticket is already closed")
        self._require((TicketStatus.RESOLVED,), "close (resolve it first)")

    def _close_action(self, action: do.Close, now: datetime) -> list[Effect]:
        self._close(now, action.actor, auto=False, sent_by=action.sent_by)
        return []

    def _close(
        self, at: datetime, actor: str | None, *, auto: bool, sent_by: str | None = None
    ) -> None:
        self.state.status = TicketStatus.CLOSED
        self.state.closed_at = at
        self.state.updated_at = max(self.state.updated_at, at)
        self._record(at, "closed", actor, sent_by=sent_by, automatic=auto)

    def _check_pause(self, action: do.Pause) -> None:
        if self.state.status is TicketStatus.WAITING_ON_CUSTOMER:
            raise ActionRejected("cannot pause: the ticket is already waiting on the customer")
        self._require((TicketStatus.OPEN, TicketStatus.RESPONDED), "pause")

    def _pause(self, action: do.Pause, now: datetime) -> list[Effect]:
        effects: list[Effect] = []
        for clock in self.clocks:
            if clock.pause(now, self.policy.calendar):
                effects += self._breached(clock)
        self.state.status = TicketStatus.WAITING_ON_CUSTOMER
        self._record(now, "paused", action.actor, sent_by=action.sent_by, reason=action.reason)
        return effects

    def _check_resume(self, action: do.Resume) -> None:
        if self.state.status is not TicketStatus.WAITING_ON_CUSTOMER:
            raise ActionRejected(
                f"cannot resume: the ticket is {self.state.status.value.replace('_', ' ')}, "
                "not waiting on the customer"
            )

    def _resume(self, action: do.Resume, now: datetime) -> list[Effect]:
        for clock in self.clocks:
            clock.resume(now, self.policy.calendar)
        self.state.status = self._working_status()
        self._record(now, "resumed", action.actor, sent_by=action.sent_by)
        return []

    def _check_reopen(self, action: do.Reopen) -> None:
        if self.state.status is TicketStatus.CLOSED:
            raise ActionRejected("cannot reopen: the ticket is closed; open a new ticket instead")
        if self.state.status is not TicketStatus.RESOLVED:
            raise ActionRejected(
                f"cannot reopen: the ticket is {self.state.status.value.replace('_', ' ')}, "
                "not resolved"
            )

    def _reopen(self, action: do.Reopen, now: datetime) -> list[Effect]:
        previous = self.state.resolution
        self.state.earlier_resolutions = [*self.state.earlier_resolutions, previous]
        target = self.policy.targets[self.state.priority].resolution
        start = self.policy.calendar.next_business_instant(now)
        self.state.resolution = SlaClock.start(
            Metric.RESOLUTION, target, start, self.policy.calendar, cycle=previous.cycle + 1
        )
        self.state.status = self._working_status()
        self.state.resolved_at = None
        self._record(
            now,
            "reopened",
            action.actor,
            sent_by=action.sent_by,
            reason=action.reason,
            cycle=previous.cycle + 1,
        )
        return []

    def _working_status(self) -> TicketStatus:
        """Where an active ticket stands: responded once the customer had a first response."""
        return TicketStatus.RESPONDED if self.state.response.completed else TicketStatus.OPEN

    def _check_change(self, action: do.ChangeTicket) -> None:
        if action.priority is None and action.assignee is None:
            raise ActionRejected("nothing to change: give a priority, an assignee or both")
        if self.state.status is TicketStatus.CLOSED:
            raise ActionRejected("cannot change: the ticket is closed")

    def _change(self, action: do.ChangeTicket, now: datetime) -> list[Effect]:
        effects: list[Effect] = []
        if action.assignee is not None and action.assignee != self.state.assignee:
            self._record(
                now,
                "assigned",
                action.actor,
                sent_by=action.sent_by,
                previous=self.state.assignee,
                to=action.assignee,
            )
            self.state.assignee = action.assignee
        if action.priority is not None and action.priority != self.state.priority:
            previous = self.state.priority
            self.state.priority = action.priority
            self._record(
                now,
                "priority_changed",
                action.actor,
                sent_by=action.sent_by,
                previous=previous.value,
                to=action.priority.value,
            )
            targets = self.policy.targets[action.priority]
            for clock, target in (
                (self.state.response, targets.response),
                (self.state.resolution, targets.resolution),
            ):
                if clock.retarget(target, now, self.policy.calendar):
                    effects += self._breached(clock)
        return effects

    def _check_repair(self, action: do.Repair) -> None:
        self._require((*_ACTIVE, TicketStatus.RESOLVED), "repair")
        if self.state.priority not in action.snapshot.targets:
            raise ActionInvalid(
                f"cannot repair: policy {action.snapshot.name!r} has no targets for "
                f"{self.state.priority.value}"
            )

    def _repair(self, action: do.Repair, now: datetime) -> list[Effect]:
        """The policy swapped for the one resolved from the config in force, applied as a
        priority change applies new targets, but from each clock's start: the business time it
        ran, counted on the new calendar, against the new target. A clock already past it
        breaches at once, dated when it reached it; a breach that happened stays."""
        effects: list[Effect] = []
        for clock in self.clocks:  # due under the old promise: kept (apply has done it)
            if clock.check_breach(now):
                effects += self._breached(clock)
        kept = [
            KeptBreach(metric=clock.metric, cycle=clock.cycle, breached_at=clock.breached_at)
            for clock in (
                self.state.response,
                *self.state.earlier_resolutions,
                self.state.resolution,
            )
            if clock.breached_at is not None
        ]
        before = [(clock.target, clock.due_at) for clock in self.clocks]
        previous, new = self.state.policy, action.snapshot
        targets = new.targets[self.state.priority]
        self._record(
            now,
            "policy_repaired",
            action.actor,
            sent_by=action.sent_by,
            previous=previous,
            to=new.name,
            previous_targets={
                clock.metric.value: format_duration(clock.target) for clock in self.clocks
            },
            targets={
                "response": format_duration(targets.response),
                "resolution": format_duration(targets.resolution),
            },
            reason=action.reason,
            kept_breaches=[
                {
                    "metric": b.metric.value,
                    "cycle": b.cycle,
                    "breached_at": b.breached_at.isoformat(),
                }
                for b in kept
            ]
            or None,
        )
        paused = self._waits(now)
        self.policy = new
        self.state.policy = new.name
        self.state.calendar = new.calendar.name
        self.state.timezone = new.calendar.timezone
        for clock, target in (
            (self.state.response, targets.response),
            (self.state.resolution, targets.resolution),
        ):
            if clock.rebase(target, now, new.calendar, paused):
                effects += self._breached(clock)
        for clock in self.clocks:  # a breach dated in the past escalates at once
            effects += self._escalate(clock, now)
        if self._resolved_cycle() is not None and self.state.resolved_at is not None:
            self.state.rating_closes_at = self.state.resolved_at + self._rating_window()
        self.state.repairs.append(
            RepairRecord(
                at=now,
                actor=action.actor,
                reason=action.reason,
                request_id=action.request_id,
                previous=previous,
                policy=new.name,
                clocks=[
                    ClockRepair(
                        metric=clock.metric,
                        cycle=clock.cycle,
                        target_before=target_before,
                        target=clock.target,
                        due_before=due_before,
                        due_at=clock.due_at,
                        state=clock.state,
                        breached_at=clock.breached_at,
                    )
                    for clock, (target_before, due_before) in zip(self.clocks, before, strict=True)
                ],
                kept_breaches=kept,
            )
        )
        return effects

    def _waits(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """When the ticket waited on the customer, from its timeline: no clock ran then."""
        spans: list[tuple[datetime, datetime]] = []
        since: datetime | None = None
        for entry in self.state.timeline:
            if entry.kind == "paused" and since is None:
                since = entry.at
            elif entry.kind == "resumed" and since is not None:
                spans.append((since, entry.at))
                since = None
        if since is not None:
            spans.append((since, now))
        return spans

    def _check_comment(self, action: do.Comment) -> None:
        if self.state.status is TicketStatus.CLOSED:
            raise ActionRejected("cannot comment: the ticket is closed")
        if self.state.comment_count >= COMMENT_LIMIT:
            raise ActionRejected(
                f"cannot comment: the ticket has {COMMENT_LIMIT} comments, the most it takes"
            )
        if self.state.comment_bytes + encoded_size(action.body) > COMMENT_TEXT_LIMIT:
            raise ActionRejected(
                "cannot comment: the ticket's comments would pass 1 MiB of text, the most it takes"
            )

    def _comment(self, action: do.Comment, now: datetime) -> list[Effect]:
        self.state.comments.append(
            CommentRecord(at=now, author=action.author, body=action.body, internal=action.internal)
        )
        self.state.comment_count += 1
        self.state.internal_comment_count += action.internal
        self.state.comment_bytes += encoded_size(action.body)
        self._record(
            now,
            "commented",
            action.author,
            sent_by=action.sent_by,
            length=len(action.body),
            internal=True if action.internal else None,
        )
        return []

    def _record(
        self,
        at: datetime,
        kind: str,
        actor: str | None,
        *,
        sent_by: str | None = None,
        **detail: JsonValue,
    ) -> None:
        """`actor` is whom a person's action names (reports count that one); `sent_by` the API
        key that sent it, kept when it is someone else (an admin acting for an agent)."""
        if sent_by != actor:
            detail["sent_by"] = sent_by
        self.state.timeline.append(
            TimelineEntry(
                at=at,
                kind=kind,
                actor=actor,
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )


# Timeline entries an action dated before them may still follow: a warning changes no money
# and no verdict (an answer dated before it only makes it a false alarm), and a delivery that
# gave up is our plumbing, not the ticket's story. A help desk's webhook that comes a minute
# late, after a warning went out, must still count.
_DATES_NOTHING = frozenset({"warned", "delivery_failed"})


def _received(at: datetime | None) -> dict[str, JsonValue]:
    """The timeline detail of an event slaflow heard of after it happened."""
    return {} if at is None else {"received_at": at.isoformat()}


def _later(at: datetime, delta: timedelta) -> datetime | None:
    """`at + delta`, or None past the end of time (a ticket opened in year 9999 still works)."""
    try:
        return at + delta
    except OverflowError:
        return None


@dataclass(frozen=True)
class _Rule(Generic[A]):
    """What an action may do (`check` raises ActionRejected) and what it does."""

    check: Callable[[Ticket, A], None]
    apply: Callable[[Ticket, A, datetime], list[Effect]]


def _rule(
    model: type[A],
    check: Callable[[Ticket, A], None],
    apply: Callable[[Ticket, A, datetime], list[Effect]],
) -> tuple[type[Action], _Rule[Any]]:
    """Typed per action: a check or apply written for another action's model does not pass mypy."""
    return model, _Rule(check, apply)


_RULES: dict[type[Action], _Rule[Any]] = dict(
    (
        _rule(do.Respond, Ticket._check_respond, Ticket._respond),
        _rule(do.Resolve, Ticket._check_resolve, Ticket._resolve),
        _rule(do.Close, Ticket._check_close, Ticket._close_action),
        _rule(do.Pause, Ticket._check_pause, Ticket._pause),
        _rule(do.Resume, Ticket._check_resume, Ticket._resume),
        _rule(do.Reopen, Ticket._check_reopen, Ticket._reopen),
        _rule(do.ChangeTicket, Ticket._check_change, Ticket._change),
        _rule(do.Comment, Ticket._check_comment, Ticket._comment),
        _rule(do.Rate, Ticket._check_rate, Ticket._rate),
        _rule(do.Repair, Ticket._check_repair, Ticket._repair),
    )
)
# Every action in the registry has its rules, and nothing else does.
if set(_RULES) != {kind.model for kind in ACTIONS}:
    raise ImportError("sla.actions.ACTIONS and sla.ticket._RULES name different actions")


def repair_preview(state: TicketState, action: do.Repair, now: datetime) -> RepairRecord:
    """What a repair would do to a ticket as it stands, without doing it (a dry run): the
    same rule, applied to a copy."""
    ticket = Ticket(state.model_copy(deep=True), action.snapshot)
    ticket.check(action, now)
    _RULES[do.Repair].apply(ticket, action, now)
    return ticket.state.repairs[-1]
