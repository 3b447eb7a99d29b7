"""Ticket rules for time: warnings, breaches, escalations, auto-close, effect keys, wakeups."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from sla.actions import (
    Action,
    ActionRejected,
    ChangeTicket,
    Close,
    Comment,
    Reopen,
    Resume,
)
from sla.clock import ClockState, Metric, SlaClock
from sla.effects import Effect, EffectKind
from sla.ticket import Ticket, TicketStatus
from tests.support.rules import (
    CHAIN,
    PAUSE,
    RESOLVE,
    RESPOND,
    SHIPPED,
    T0,
    at,
    copy_of,
    minutes,
    open_ticket,
    policy,
)

TICK = timedelta(microseconds=1)


def summary(effects: list[Effect]) -> list[tuple[str, str, int, datetime]]:
    return [(e.kind.value, e.metric.value, e.level, e.at) for e in effects]


# -- warnings ------------------------------------------------------------------------------


def test_warning_fires_once_at_each_fraction_of_the_target() -> None:
    ticket = open_ticket("P1")  # response 15m, warn at 0.5 and 0.75
    assert ticket.on_time(at(7)) == []
    first = ticket.on_time(at(8))
    assert [(e.kind, e.metric, e.fraction, e.at) for e in first] == [
        (EffectKind.WARNING, Metric.RESPONSE, 0.5, at(7.5))
    ]
    assert ticket.on_time(at(9)) == []
    second = ticket.on_time(at(12))
    assert [(e.fraction, e.at) for e in second] == [(0.75, at(11.25))]
    assert ticket.state.response.warned_fractions == [0.5, 0.75]
    assert ticket.on_time(at(14)) == []


def test_warning_time_moves_with_a_pause() -> None:
    ticket = open_ticket("P1")
    ticket.apply(PAUSE, at(5))
    assert ticket.on_time(at(60)) == []
    ticket.apply(Resume(), at(65))
    assert ticket.next_wakeup() == at(67.5)
    assert [e.at for e in ticket.on_time(at(68))] == [at(67.5)]


def test_warnings_fire_again_in_a_reopened_cycle_only() -> None:
    ticket = open_ticket("P1")
    ticket.apply(RESPOND, at(1))
    warned = ticket.on_time(at(100))  # resolution 2h: 0.5 and 0.75
    assert [(e.metric, e.cycle, e.fraction) for e in warned] == [
        (Metric.RESOLUTION, 1, 0.5),
        (Metric.RESOLUTION, 1, 0.75),
    ]
    ticket.apply(RESOLVE, at(101))
    ticket.apply(Reopen(), at(200))
    again = ticket.on_time(at(200 + 61))
    assert [(e.metric, e.cycle, e.fraction, e.at) for e in again] == [
        (Metric.RESOLUTION, 2, 0.5, at(260))
    ]
    assert warned[0].key != again[0].key


def test_a_warned_fraction_does_not_fire_again_after_a_priority_change() -> None:
    ticket = open_ticket("P2")  # response 1h
    assert [e.fraction for e in ticket.on_time(at(35))] == [0.5]
    ticket.apply(ChangeTicket(priority="P3"), at(40))  # response 4h: 0.5 at 2h, 0.75 at 3h
    effects = ticket.on_time(at(179))
    assert [e for e in effects if e.metric is Metric.RESPONSE] == []
    effects = ticket.on_time(at(181))
    assert [(e.metric, e.fraction, e.at) for e in effects] == [(Metric.RESPONSE, 0.75, at(180))]


# -- breach and escalation -----------------------------------------------------------------


def test_breach_is_dated_at_due_time_with_its_penalty() -> None:
    ticket = open_ticket("P1")
    ticket.on_time(at(12))
    effects = ticket.on_time(at(16))
    penalty = [e for e in effects if e.kind is EffectKind.PENALTY]
    assert [(e.metric, e.at, e.percent, e.cycle) for e in penalty] == [
        (Metric.RESPONSE, at(15), Decimal("2"), 1)
    ]
    assert ticket.state.response.breached_at == at(15)
    assert ticket.state.ever_breached
    assert [(c.kind, c.metric, c.amount, c.unit, c.at) for c in ticket.state.credits] == [
        ("penalty", Metric.RESPONSE, Decimal("2"), "percent", at(15))
    ]
    assert "breached" in [entry.kind for entry in ticket.state.timeline]


def test_breach_without_credit_rules_still_emits_a_penalty_effect_without_percent() -> None:
    ticket = open_ticket("P1", SHIPPED)
    effects = ticket.on_time(at(15))
    assert [(e.kind, e.percent) for e in effects if e.kind is EffectKind.PENALTY] == [
        (EffectKind.PENALTY, None)
    ]
    assert ticket.state.credits == []


def test_escalation_chain_fires_every_level_at_breach_plus_offset_in_order() -> None:
    ticket = open_ticket("P1")
    effects = ticket.on_time(at(15 + 300))
    response = [e for e in effects if e.metric is Metric.RESPONSE]
    assert summary(response) == [
        ("penalty", "response", 0, at(15)),
        ("escalation", "response", 1, at(15)),
        ("escalation", "response", 2, at(75)),
        ("escalation", "response", 3, at(255)),
    ]
    assert [e.notify for e in response[1:]] == [lvl["notify"] for lvl in CHAIN]
    records = [(r.level, r.at) for r in ticket.state.escalations if r.metric is Metric.RESPONSE]
    assert records == [(1, at(15)), (2, at(75)), (3, at(255))]
    assert ticket.state.escalation_level == 3
    later = ticket.on_time(at(10_000))
    assert [e for e in later if e.metric is Metric.RESPONSE] == []


def test_wakeups_step_through_every_moment_in_order() -> None:
    ticket = open_ticket("P1")
    seen = []
    while (moment := ticket.next_wakeup()) is not None:
        seen.append((moment, summary(ticket.on_time(moment))))
    assert [m for m, _ in seen] == [
        at(7.5), at(11.25), at(15), at(60), at(75), at(90), at(120), at(180), at(255), at(360)
    ]  # fmt: skip
    assert seen[2][1] == [
        ("penalty", "response", 0, at(15)),
        ("escalation", "response", 1, at(15)),
    ]
    assert seen[-1][1] == [("escalation", "resolution", 3, at(360))]


def test_escalation_stops_once_the_response_is_given() -> None:
    ticket = open_ticket("P1")
    ticket.on_time(at(20))
    assert ticket.state.response.escalation_level == 1
    ticket.apply(RESPOND, at(20))
    assert ticket.state.response.state is ClockState.BREACHED
    assert ticket.state.response.completed_at == at(20)
    later = ticket.on_time(at(1000))
    assert [e for e in later if e.metric is Metric.RESPONSE] == []
    assert ticket.state.response.escalation_level == 1


def test_met_clocks_never_escalate() -> None:
    ticket = open_ticket("P1")
    ticket.apply(RESOLVE, at(10))
    assert ticket.on_time(at(5000)) == []
    assert ticket.state.escalations == []


def test_priority_change_breach_escalates_from_the_change_time() -> None:
    ticket = open_ticket("P3")
    ticket.apply(ChangeTicket(priority="P1"), at(30))
    assert ticket.next_wakeup() == at(30)
    effects = ticket.on_time(at(100))
    assert summary(effects) == [
        ("escalation", "response", 1, at(30)),
        ("escalation", "response", 2, at(90)),
        ("warning", "resolution", 0, at(60)),
        ("warning", "resolution", 0, at(90)),
    ]


def test_late_response_without_prior_check_still_breaches_with_penalty() -> None:
    ticket = open_ticket("P1")  # response 15m; escalation level 1 is due at breach + 0s
    effects = ticket.apply(RESPOND, at(20))
    assert ticket.state.response.state is ClockState.BREACHED
    assert ticket.state.response.breached_at == at(15)
    assert ticket.state.response.completed_at == at(20)
    assert ticket.state.ever_breached
    assert [(e.kind, e.metric, e.level, e.at, e.percent) for e in effects] == [
        (EffectKind.PENALTY, Metric.RESPONSE, 0, at(15), Decimal("2")),
        (EffectKind.ESCALATION, Metric.RESPONSE, 1, at(15), None),
        (EffectKind.RESPONDED, Metric.RESPONSE, 0, at(20), None),  # the answer, once late
    ]
    assert effects[1].breached_at == at(15)
    assert [(c.kind, c.metric, c.amount, c.at) for c in ticket.state.credits] == [
        ("penalty", Metric.RESPONSE, Decimal("2"), at(15))
    ]
    timeline = [(entry.kind, entry.at) for entry in ticket.state.timeline]
    assert timeline == [
        ("opened", T0),
        ("breached", at(15)),
        ("escalated", at(15)),
        ("responded", at(20)),
    ]
    assert ticket.take_effects() == effects


def test_late_response_without_prior_check_on_the_shipped_policy_charges_the_breach() -> None:
    ticket = open_ticket("P2", SHIPPED)  # response 1h; default escalation: team-lead at +0s
    effects = ticket.apply(RESPOND, at(61))
    assert [(e.kind, e.metric, e.at, e.percent, e.notify) for e in effects] == [
        (EffectKind.PENALTY, Metric.RESPONSE, at(60), None, []),
        (EffectKind.ESCALATION, Metric.RESPONSE, at(60), None, ["team-lead"]),
        (EffectKind.RESPONDED, Metric.RESPONSE, at(61), None, []),
    ]
    assert ticket.state.ever_breached
    assert ticket.state.status is TicketStatus.RESPONDED
    breached = [entry for entry in ticket.state.timeline if entry.kind == "breached"]
    assert [(entry.at, entry.detail) for entry in breached] == [
        (at(60), {"metric": "response", "cycle": 1})
    ]


def test_late_resolve_without_prior_check_charges_both_breaches() -> None:
    ticket = open_ticket("P1")  # response 15m, resolution 2h
    effects = ticket.apply(RESOLVE, at(121))
    penalties = [(e.metric, e.at) for e in effects if e.kind is EffectKind.PENALTY]
    assert penalties == [(Metric.RESPONSE, at(15)), (Metric.RESOLUTION, at(120))]
    assert ticket.state.response.state is ClockState.BREACHED
    assert ticket.state.resolution.state is ClockState.BREACHED
    assert [c.metric for c in ticket.state.credits] == [Metric.RESPONSE, Metric.RESOLUTION]
    assert ticket.state.status is TicketStatus.RESOLVED


def test_pause_after_unchecked_due_time_does_not_turn_a_breach_into_met() -> None:
    ticket = open_ticket("P1")
    effects = ticket.apply(PAUSE, at(20))
    assert [(e.kind, e.metric, e.at) for e in effects if e.kind is EffectKind.PENALTY] == [
        (EffectKind.PENALTY, Metric.RESPONSE, at(15))
    ]
    ticket.apply(RESOLVE, at(30))
    assert ticket.state.response.state is ClockState.BREACHED
    assert ticket.state.ever_breached


# -- auto-close and keys -------------------------------------------------------------------


def test_auto_close_fires_auto_close_after_after_resolution() -> None:
    ticket = open_ticket("P1")  # FULL: auto_close_after 1d
    ticket.apply(RESOLVE, at(30))
    deadline = at(30) + timedelta(days=1)
    assert ticket.next_wakeup() == deadline
    ticket.on_time(deadline - TICK)
    assert ticket.state.status is TicketStatus.RESOLVED
    assert ticket.on_time(deadline + timedelta(days=3)) == []
    assert ticket.state.status is TicketStatus.CLOSED
    assert ticket.state.closed_at == deadline
    last = ticket.state.timeline[-1]
    assert (last.kind, last.actor, last.detail) == ("closed", "slaflow", {"automatic": True})
    assert ticket.next_wakeup() is None


def test_shipped_policy_auto_closes_after_seven_days() -> None:
    ticket = open_ticket("P2", SHIPPED)
    ticket.apply(RESOLVE, at(5))
    assert ticket.next_wakeup() == at(5) + timedelta(days=7)


def test_reopen_cancels_the_pending_auto_close() -> None:
    ticket = open_ticket("P1")
    ticket.apply(RESOLVE, at(5))
    ticket.apply(Reopen(), at(10))
    assert ticket.next_wakeup() == at(10 + 60)  # resolution cycle 2 warning at 0.5
    ticket.on_time(at(5) + timedelta(days=2))
    assert ticket.state.status is TicketStatus.RESPONDED


def test_paused_ticket_has_nothing_due() -> None:
    ticket = open_ticket("P1")
    ticket.apply(PAUSE, at(1))
    assert ticket.next_wakeup() is None
    assert ticket.on_time(at(10_000)) == []


def test_effect_keys_are_stable_and_distinct_per_ticket_kind_metric_cycle_and_level() -> None:
    def story(ticket_id: str) -> list[Effect]:
        ticket = open_ticket("P1", ticket_id=ticket_id)
        effects = run_until(ticket, at(400))
        ticket.apply(RESOLVE, at(401))
        ticket.apply(Reopen(), at(402))
        return effects + run_until(ticket, at(402 + 400))

    first, replay, other = story("T-1"), story("T-1"), story("T-2")
    keys = [e.key for e in first]
    assert keys == [e.key for e in replay]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {e.key for e in other}
    assert "T-1:penalty:response:c1" in keys
    assert "T-1:escalation:response:c1:l2" in keys
    assert "T-1:warning:resolution:c2:f0.75" in keys
    assert "T-1:escalation:resolution:c2:l3" in keys
    assert {(e.kind, e.metric, e.cycle) for e in first} >= {
        (EffectKind.PENALTY, Metric.RESOLUTION, 1),
        (EffectKind.PENALTY, Metric.RESOLUTION, 2),
    }


# -- property: next_wakeup is the earliest pending moment ----------------------------------

MOVES: dict[str, Action] = {
    "respond": RESPOND,
    "resolve": RESOLVE,
    "close": Close(),
    "pause": PAUSE,
    "resume": Resume(),
    "reopen": Reopen(),
    "P1": ChangeTicket(priority="P1"),
    "P2": ChangeTicket(priority="P2"),
    "P3": ChangeTicket(priority="P3"),
    "comment": Comment(author="bob", body="any news?"),
}
stories = st.lists(
    st.tuples(st.integers(min_value=0, max_value=600), st.sampled_from([*MOVES, "wait"])),
    max_size=25,
)
FAST = policy(escalation=CHAIN, warn_at=[0.5, 0.75], auto_close_after="3h")


def run_until(ticket: Ticket, until: datetime) -> list[Effect]:
    """Wake the ticket at each moment it asks for, as the workflow loop does, up to `until`."""
    effects: list[Effect] = []
    while (moment := ticket.next_wakeup()) is not None and moment <= until:
        probe = copy_of(ticket)
        assert probe.on_time(moment - TICK) == [], "something was due before next_wakeup()"
        assert probe.state == ticket.state
        before = ticket.state.model_copy(deep=True)
        fired = ticket.on_time(moment)
        assert fired or ticket.state != before, "next_wakeup() named a moment with nothing due"
        after = ticket.next_wakeup()
        assert after is None or after > moment
        effects += fired
    settled = ticket.state.model_copy(deep=True)
    assert ticket.on_time(until) == [], "something came due that next_wakeup() did not name"
    assert ticket.state == settled, "the state changed at a moment next_wakeup() did not name"
    return effects


def clock_for(ticket: Ticket, metric: Metric, cycle: int) -> SlaClock:
    if metric is Metric.RESPONSE:
        return ticket.state.response
    clocks = [*ticket.state.earlier_resolutions, ticket.state.resolution]
    return next(c for c in clocks if c.cycle == cycle)


@settings(deadline=None, max_examples=150)
@given(st.sampled_from(["P1", "P2", "P3"]), stories)
def test_next_wakeup_is_always_the_earliest_pending_moment(
    priority: str, story: list[tuple[int, str]]
) -> None:
    ticket = open_ticket(priority, FAST)
    now, effects = T0, []
    for gap, move in story:
        now += minutes(gap)
        effects += run_until(ticket, now)
        if move != "wait":
            with contextlib.suppress(ActionRejected):
                effects += ticket.apply(MOVES[move], now)
        if ticket.closed:
            assert ticket.next_wakeup() is None
    effects += run_until(ticket, now + timedelta(days=30))

    keys = [e.key for e in effects]
    assert len(keys) == len(set(keys)), "an effect fired twice"
    for effect in effects:
        clock = clock_for(ticket, effect.metric, effect.cycle)
        if effect.kind is EffectKind.PENALTY:
            assert effect.at == clock.breached_at
        if effect.kind is EffectKind.ESCALATION:
            assert clock.breached_at is not None
            assert effect.at == clock.breached_at + FAST.escalation[effect.level - 1].after
            assert clock.completed_at is None or effect.at <= clock.completed_at
    levels: dict[tuple[Metric, int], list[int]] = {}
    for effect in effects:
        if effect.kind is EffectKind.ESCALATION:
            levels.setdefault((effect.metric, effect.cycle), []).append(effect.level)
    for fired in levels.values():
        assert fired == list(range(1, len(fired) + 1))
