"""SlaClock on the `always` calendar: due times, breach dating, pause/resume, retarget, complete."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sla.calendar import ALWAYS_CALENDAR as CAL
from sla.clock import ClockState, Metric, SlaClock
from tests.support.rules import T0, at, minutes

TARGET = timedelta(minutes=15)


def started(target: timedelta = TARGET) -> SlaClock:
    return SlaClock.start(Metric.RESPONSE, target, T0, CAL)


# -- start and breach ----------------------------------------------------------------------


def test_start_runs_and_is_due_one_target_later() -> None:
    clock = started()
    assert clock.state is ClockState.RUNNING
    assert clock.started_at == T0
    assert clock.due_at == T0 + TARGET
    assert clock.cycle == 1
    assert clock.elapsed_at(at(5), CAL) == minutes(5)
    assert clock.remaining_at(at(5), CAL) == minutes(10)


def test_check_before_due_time_does_not_breach() -> None:
    clock = started()
    assert clock.check_breach(at(14.99)) is False
    assert clock.state is ClockState.RUNNING
    assert clock.breached_at is None


def test_breach_is_dated_at_due_time_not_at_detection_time() -> None:
    clock = started()
    assert clock.check_breach(at(40)) is True
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET


def test_breach_is_detected_exactly_at_due_time() -> None:
    clock = started()
    assert clock.check_breach(T0 + TARGET) is True
    assert clock.breached_at == T0 + TARGET


def test_breach_is_reported_only_once() -> None:
    clock = started()
    assert clock.check_breach(at(20)) is True
    assert clock.check_breach(at(30)) is False
    assert clock.breached_at == T0 + TARGET


# -- pause and resume ----------------------------------------------------------------------


def test_pause_clears_due_time_and_stops_elapsed_time() -> None:
    clock = started()
    clock.pause(at(5), CAL)
    assert clock.state is ClockState.PAUSED
    assert clock.due_at is None
    assert clock.elapsed_at(at(500), CAL) == minutes(5)


def test_paused_clock_does_not_breach() -> None:
    clock = started()
    clock.pause(at(5), CAL)
    assert clock.check_breach(at(500)) is False
    assert clock.state is ClockState.PAUSED


def test_pause_moves_due_time_by_paused_business_time() -> None:
    clock = started()
    clock.pause(at(5), CAL)
    clock.resume(at(65), CAL)
    assert clock.state is ClockState.RUNNING
    assert clock.due_at == T0 + TARGET + minutes(60)
    assert clock.elapsed_at(at(65), CAL) == minutes(5)


def test_second_pause_and_resume_add_up() -> None:
    clock = started()
    clock.pause(at(2), CAL)
    clock.resume(at(12), CAL)
    clock.pause(at(14), CAL)
    clock.resume(at(44), CAL)
    assert clock.due_at == T0 + TARGET + minutes(40)


def test_pause_twice_and_resume_twice_are_harmless() -> None:
    clock = started()
    clock.pause(at(5), CAL)
    clock.pause(at(7), CAL)
    assert clock.elapsed_at(at(7), CAL) == minutes(5)
    clock.resume(at(10), CAL)
    clock.resume(at(12), CAL)
    assert clock.due_at == T0 + TARGET + minutes(5)


def test_pause_after_due_time_without_prior_check_keeps_the_breach() -> None:
    clock = started()
    assert clock.pause(at(30), CAL) is True
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET
    assert clock.elapsed_at(at(90), CAL) == minutes(30)


def test_pause_before_due_time_reports_no_breach() -> None:
    clock = started()
    assert clock.pause(at(5), CAL) is False
    assert clock.breached_at is None


def test_pause_of_a_clock_already_found_breached_does_not_report_it_again() -> None:
    clock = started()
    assert clock.check_breach(at(20)) is True
    assert clock.pause(at(30), CAL) is False
    assert clock.state is ClockState.BREACHED


def test_clock_paused_past_its_target_and_completed_is_breached() -> None:
    clock = started()
    clock.pause(at(30), CAL)
    assert clock.complete(at(40), CAL) is False
    assert clock.state is ClockState.BREACHED


def test_pausing_a_breached_clock_keeps_it_breached_and_stops_elapsed_time() -> None:
    clock = started()
    clock.check_breach(at(20))
    clock.pause(at(20), CAL)
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET
    assert clock.elapsed_at(at(90), CAL) == minutes(20)
    clock.resume(at(30), CAL)
    assert clock.state is ClockState.BREACHED
    assert clock.elapsed_at(at(40), CAL) == minutes(30)


# -- retarget ------------------------------------------------------------------------------


def test_retarget_keeps_elapsed_time_and_applies_the_new_target() -> None:
    clock = started(timedelta(hours=4))
    assert clock.retarget(timedelta(hours=1), at(20), CAL) is False
    assert clock.target == timedelta(hours=1)
    assert clock.elapsed_at(at(20), CAL) == minutes(20)
    assert clock.due_at == T0 + timedelta(hours=1)
    assert clock.state is ClockState.RUNNING


def test_retarget_to_a_longer_target_moves_due_time_later() -> None:
    clock = started()
    clock.retarget(timedelta(hours=1), at(10), CAL)
    assert clock.due_at == T0 + timedelta(hours=1)


def test_retarget_past_the_new_target_breaches_at_once() -> None:
    clock = started(timedelta(hours=4))
    assert clock.retarget(timedelta(hours=1), at(90), CAL) is True
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == at(90)
    assert clock.due_at == at(90)


def test_retarget_exactly_at_the_new_target_breaches() -> None:
    clock = started(timedelta(hours=4))
    assert clock.retarget(timedelta(hours=1), at(60), CAL) is True
    assert clock.breached_at == at(60)


def test_retarget_while_paused_past_the_new_target_breaches_at_once() -> None:
    clock = started(timedelta(hours=4))
    clock.pause(at(90), CAL)
    assert clock.retarget(timedelta(hours=1), at(300), CAL) is True
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == at(300)
    assert clock.elapsed_at(at(300), CAL) == minutes(90)


def test_retarget_while_paused_within_the_new_target_stays_paused() -> None:
    clock = started(timedelta(hours=4))
    clock.pause(at(30), CAL)
    assert clock.retarget(timedelta(hours=1), at(300), CAL) is False
    assert clock.state is ClockState.PAUSED
    assert clock.due_at is None
    clock.resume(at(400), CAL)
    assert clock.due_at == at(430)


def test_retarget_of_a_breached_clock_does_not_breach_again() -> None:
    clock = started()
    clock.check_breach(at(20))
    assert clock.retarget(timedelta(hours=1), at(30), CAL) is False
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET


def test_retarget_of_a_completed_clock_changes_nothing() -> None:
    clock = started()
    clock.complete(at(5), CAL)
    assert clock.retarget(timedelta(minutes=1), at(10), CAL) is False
    assert clock.state is ClockState.MET
    assert clock.target == TARGET


def test_retarget_after_unchecked_due_time_keeps_the_earlier_breach() -> None:
    clock = started()
    assert clock.retarget(timedelta(hours=1), at(20), CAL) is True
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET
    assert clock.target == timedelta(hours=1)


def test_retarget_to_a_shorter_target_after_unchecked_due_time_keeps_the_earlier_date() -> None:
    clock = started()
    assert clock.retarget(timedelta(minutes=5), at(20), CAL) is True
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET
    assert clock.target == timedelta(minutes=5)


# -- complete ------------------------------------------------------------------------------


def test_complete_before_due_time_is_met() -> None:
    clock = started()
    assert clock.complete(at(10), CAL) is True
    assert clock.state is ClockState.MET
    assert clock.completed_at == at(10)
    assert clock.elapsed_at(at(99), CAL) == minutes(10)


def test_complete_while_paused_is_met_and_stops_the_clock() -> None:
    clock = started()
    clock.pause(at(5), CAL)
    assert clock.complete(at(100), CAL) is True
    assert clock.state is ClockState.MET
    assert clock.elapsed == minutes(5)


def test_complete_after_due_time_without_prior_check_is_breached() -> None:
    clock = started()
    assert clock.complete(at(20), CAL) is False
    assert clock.state is ClockState.BREACHED
    assert clock.breached_at == T0 + TARGET
    assert clock.completed_at == at(20)


def test_breached_clock_completed_stays_breached_with_completed_at() -> None:
    clock = started()
    clock.check_breach(at(16))
    assert clock.complete(at(30), CAL) is False
    assert clock.state is ClockState.BREACHED
    assert clock.completed_at == at(30)
    assert clock.check_breach(at(40)) is False


def test_completing_twice_keeps_the_first_completion() -> None:
    clock = started()
    clock.complete(at(5), CAL)
    assert clock.complete(at(50), CAL) is True
    assert clock.completed_at == at(5)
    assert clock.state is ClockState.MET


def test_completed_clock_ignores_pause_and_resume() -> None:
    clock = started()
    clock.complete(at(5), CAL)
    clock.pause(at(6), CAL)
    clock.resume(at(7), CAL)
    assert clock.state is ClockState.MET
    assert clock.elapsed_at(at(100), CAL) == minutes(5)


# -- properties ----------------------------------------------------------------------------

steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=7_200), st.sampled_from(["pause", "resume"])),
    max_size=30,
)
targets = st.integers(min_value=1, max_value=36_000).map(lambda s: timedelta(seconds=s))


def run(target: timedelta, ops: list[tuple[int, str]], check: bool):  # type: ignore[no-untyped-def]
    """Yield (clock, now, running intervals) at start and after each op; check breaches if asked."""
    clock = SlaClock.start(Metric.RESOLUTION, target, T0, CAL)
    intervals: list[tuple[datetime, datetime | None]] = [(T0, None)]
    now = T0
    yield clock, now, intervals
    for gap, op in ops:
        now += timedelta(seconds=gap)
        if check:
            clock.check_breach(now)
        if op == "pause":
            clock.pause(now, CAL)
            if intervals[-1][1] is None:
                intervals[-1] = (intervals[-1][0], now)
        else:
            clock.resume(now, CAL)
            if intervals[-1][1] is not None:
                intervals.append((now, None))
        yield clock, now, intervals


def running_time(intervals: list[tuple[datetime, datetime | None]], now: datetime) -> timedelta:
    """Running time up to `now` (intervals clipped at `now`)."""
    return sum(
        (max(min(end or now, now) - start, timedelta(0)) for start, end in intervals),
        timedelta(0),
    )


@given(targets, steps)
def test_elapsed_time_is_the_sum_of_running_intervals(
    target: timedelta, ops: list[tuple[int, str]]
) -> None:
    for clock, now, intervals in run(target, ops, check=False):
        assert clock.elapsed_at(now, CAL) == running_time(intervals, now)
        later = now + timedelta(minutes=7)
        assert clock.elapsed_at(later, CAL) == running_time(intervals, later)


@given(targets, steps)
def test_running_due_time_is_now_plus_remaining_target(
    target: timedelta, ops: list[tuple[int, str]]
) -> None:
    for clock, now, _ in run(target, ops, check=True):
        if clock.state is ClockState.RUNNING:
            assert clock.due_at == now + (target - clock.elapsed_at(now, CAL))
            assert clock.due_at > now
        if clock.state is ClockState.PAUSED:
            assert clock.due_at is None


@given(targets, steps)
def test_due_time_is_never_earlier_than_start_plus_target(
    target: timedelta, ops: list[tuple[int, str]]
) -> None:
    for clock, _, _ in run(target, ops, check=True):
        if clock.due_at is not None:
            assert clock.due_at >= T0 + target


@given(targets, steps)
def test_breach_is_dated_when_running_time_reached_the_target(
    target: timedelta, ops: list[tuple[int, str]]
) -> None:
    for clock, _, intervals in run(target, ops, check=True):
        if clock.breached_at is not None:
            assert running_time(intervals, clock.breached_at) == target


@given(targets, steps, st.integers(min_value=0, max_value=7_200))
def test_completing_never_unbreaches_and_judges_by_elapsed_time(
    target: timedelta, ops: list[tuple[int, str]], gap: int
) -> None:
    *_, (clock, now, _) = run(target, ops, check=True)
    end = now + timedelta(seconds=gap)
    clock.check_breach(end)
    was_breached = clock.state is ClockState.BREACHED
    met = clock.complete(end, CAL)
    assert clock.completed_at == end
    assert met is not was_breached
    assert (clock.state is ClockState.BREACHED) is was_breached
    assert met is (clock.elapsed_at(end, CAL) < target)
