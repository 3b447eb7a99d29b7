"""SLA reports: compliance and time statistics of ticket outcomes by priority, customer, agent."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import BaseModel

from sla.outcome import TicketOutcome
from sla.quality import QualityStats, quality_stats


class ClockStats(BaseModel):
    met: int = 0
    breached: int = 0
    compliance: float | None = None  # met / (met + breached); None with nothing to judge
    p50_seconds: int | None = None
    p90_seconds: int | None = None


class GroupStats(BaseModel):
    tickets: int = 0
    response: ClockStats = ClockStats()
    resolution: ClockStats = ClockStats()
    quality: QualityStats = QualityStats()


class SlaReport(BaseModel):
    from_: datetime
    to: datetime
    tickets: int
    response: ClockStats
    resolution: ClockStats
    quality: QualityStats
    by_priority: dict[str, GroupStats]
    by_customer: dict[str, GroupStats]
    by_agent: dict[str, GroupStats]


def percentile(values: list[int], fraction: float) -> int | None:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _inside(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def _stats(
    outcomes: list[TicketOutcome], metric: str, start: datetime, end: datetime
) -> ClockStats:
    met = breached = 0
    seconds: list[int] = []
    for o in outcomes:
        completed_at = o.first_response_at if metric == "response" else o.resolved_at
        breached_at = o.response_breached_at if metric == "response" else o.resolution_breached_at
        state = o.response_state if metric == "response" else o.resolution_state
        took = o.response_seconds if metric == "response" else o.resolution_seconds
        if state == "met" and _inside(completed_at, start, end):
            met += 1
        if _inside(breached_at, start, end):
            breached += 1
        if took is not None and _inside(completed_at, start, end):
            seconds.append(took)
    judged = met + breached
    return ClockStats(
        met=met,
        breached=breached,
        compliance=round(met / judged, 4) if judged else None,
        p50_seconds=percentile(seconds, 0.5),
        p90_seconds=percentile(seconds, 0.9),
    )


def _group(
    outcomes: list[TicketOutcome],
    start: datetime,
    end: datetime,
    key: Callable[[TicketOutcome], str | None],
) -> dict[str, GroupStats]:
    groups: dict[str, list[TicketOutcome]] = {}
    for outcome in outcomes:
        name = key(outcome)
        if name is not None:
            groups.setdefault(name, []).append(outcome)
    return {name: _group_stats(members, start, end) for name, members in sorted(groups.items())}


def _group_stats(members: list[TicketOutcome], start: datetime, end: datetime) -> GroupStats:
    return GroupStats(
        tickets=sum(1 for o in members if _inside(o.opened_at, start, end)),
        response=_stats(members, "response", start, end),
        resolution=_stats(members, "resolution", start, end),
        quality=_quality(members, start, end),
    )


def _quality(members: list[TicketOutcome], start: datetime, end: datetime) -> QualityStats:
    return quality_stats((o.quality_facts() for o in members), start, end)


def sla_report(outcomes: Iterable[TicketOutcome], start: datetime, end: datetime) -> SlaReport:
    """Clocks completed or breached in [start, end), closed tickets included."""
    rows = list(outcomes)
    overall = _group_stats(rows, start, end)
    by_agent: dict[str, GroupStats] = {}
    for agent in sorted({a for o in rows for a in (o.responded_by, o.resolved_by) if a}):
        by_agent[agent] = GroupStats(
            tickets=sum(1 for o in rows if agent in (o.responded_by, o.resolved_by)),
            response=_stats([o for o in rows if o.responded_by == agent], "response", start, end),
            resolution=_stats(
                [o for o in rows if o.resolved_by == agent], "resolution", start, end
            ),
            # Quality is the resolver's: the ratings and reopens of what they resolved.
            quality=_quality([o for o in rows if o.resolved_by == agent], start, end),
        )
    return SlaReport(
        from_=start,
        to=end,
        tickets=overall.tickets,
        response=overall.response,
        resolution=overall.resolution,
        quality=overall.quality,
        by_priority=_group(rows, start, end, lambda o: o.priority.value),
        by_customer=_group(rows, start, end, lambda o: o.customer_id),
        by_agent=by_agent,
    )


COLUMNS = ["group", "name", "tickets", "metric", "met", "breached", "compliance", "p50_seconds",
           "p90_seconds", "ratings", "csat", "reopen_rate", "first_contact_resolution"]  # fmt: skip


def report_rows(report: SlaReport) -> list[list[str]]:
    """One row per group and metric: the table `slaflow report` prints and the CSV carries."""
    groups: list[tuple[str, str, GroupStats]] = [
        (
            "all",
            "all",
            GroupStats(
                tickets=report.tickets,
                response=report.response,
                resolution=report.resolution,
                quality=report.quality,
            ),
        ),
        *(("priority", k, v) for k, v in report.by_priority.items()),
        *(("customer", k, v) for k, v in report.by_customer.items()),
        *(("agent", k, v) for k, v in report.by_agent.items()),
    ]
    rows = []
    for group, name, stats in groups:
        q = stats.quality
        quality = [str(q.ratings), _fraction(q.csat), _fraction(q.reopen_rate),
                   _fraction(q.first_contact_resolution)]  # fmt: skip
        for metric, clock in (("response", stats.response), ("resolution", stats.resolution)):
            rows.append(
                [group, name, str(stats.tickets), metric, str(clock.met), str(clock.breached),
                 _fraction(clock.compliance),
                 "" if clock.p50_seconds is None else str(clock.p50_seconds),
                 "" if clock.p90_seconds is None else str(clock.p90_seconds), *quality]
            )  # fmt: skip
    return rows


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def report_csv(report: SlaReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(report_rows(report))
    return out.getvalue()


def report_table(report: SlaReport) -> str:
    rows = [COLUMNS, *report_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )
