"""SLA reports over outcomes: what counts in a window, compliance, percentiles, grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sla.outcome import TicketOutcome
from sla.priorities import Priority
from sla.reports import percentile, report_csv, report_table, sla_report

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


def outcome(ticket: str, **changes: object) -> TicketOutcome:
    base = dict(
        ticket_id=ticket, customer_id="acme", priority=Priority.P1, policy="standard",
        status="closed", opened_at=NOV + timedelta(days=2), first_response_at=None,
        responded_by=None, resolved_at=None, resolved_by=None, closed_at=None,
        response_state="running", resolution_state="running", response_seconds=None,
        resolution_seconds=None, response_breached_at=None, resolution_breached_at=None,
        breaches=0, escalation_level=0, cycles=1,
    )  # fmt: skip
    return TicketOutcome.model_validate({**base, **changes})


def responded(ticket: str, seconds: int, by: str = "alice", **changes: object) -> TicketOutcome:
    return outcome(
        ticket,
        response_state="met",
        first_response_at=NOV + timedelta(days=2, seconds=seconds),
        response_seconds=seconds,
        responded_by=by,
        **changes,
    )


def test_compliance_is_met_over_met_plus_breached_in_the_window() -> None:
    rows = [
        responded("T-1", 60),
        responded("T-2", 120),
        responded("T-3", 180),
        outcome("T-4", response_state="breached", response_breached_at=NOV + timedelta(days=3)),
    ]
    report = sla_report(rows, NOV, DEC)
    assert (report.response.met, report.response.breached) == (3, 1)
    assert report.response.compliance == 0.75
    assert report.tickets == 4
    assert report.resolution.compliance is None  # nothing to judge


def test_clocks_outside_the_window_do_not_count_but_closed_tickets_do() -> None:
    october = responded("T-old", 60, opened_at=NOV - timedelta(days=20)).model_copy(
        update={"first_response_at": NOV - timedelta(days=20)}
    )
    report = sla_report([october, responded("T-1", 60, status="closed")], NOV, DEC)
    assert report.response.met == 1
    assert report.tickets == 1


def test_percentiles_use_the_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5], 0.9) == 5
    assert percentile(list(range(1, 11)), 0.5) == 5
    assert percentile(list(range(1, 11)), 0.9) == 9
    report = sla_report([responded(f"T-{n}", n * 60) for n in range(1, 11)], NOV, DEC)
    assert (report.response.p50_seconds, report.response.p90_seconds) == (300, 540)


def test_groups_by_priority_customer_and_agent() -> None:
    rows = [
        responded("T-1", 60, by="alice"),
        responded("T-2", 60, by="bob", priority=Priority.P3, customer_id="globex"),
    ]
    report = sla_report(rows, NOV, DEC)
    assert set(report.by_priority) == {"P1", "P3"}
    assert report.by_customer["globex"].response.met == 1
    assert report.by_agent["alice"].response.met == 1 and report.by_agent["bob"].tickets == 1
    assert report_csv(report).splitlines()[0].startswith("group,name,tickets,metric")
    assert "globex" in report_table(report)
