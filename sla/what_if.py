"""What-if: every ticket opened in a window, replayed from its journal through the same rules
under another policy, beside the policy it ran under: breaches and the money they cost.

The replay opens the ticket as it was opened and applies each journal entry (sla/journal.py)
at its time, then lets time run to `until`. Under the policy the ticket ran under, that must
give the store's outcome again (`reproduces`): the comparison is only as good as that.
Quality (ratings, resolution notes, surveys) is not replayed: no clock depends on it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol

from pydantic import BaseModel

from sla.actions import ActionRejected, Repair
from sla.clock import ClockState, Metric, SlaClock
from sla.effects import Effect, EffectKind
from sla.journal import JournalEntry, TicketOpening
from sla.money import round_money
from sla.outcome import outcome_of
from sla.policy import PolicySnapshot
from sla.records import TicketOutcome
from sla.statement import PERCENT, StatementCredit, Terms, credit_total
from sla.ticket import OpenTicket, Ticket, TicketState

Verdict = Literal["met", "breached", "open"]
# A replayed ticket's title: the journal keeps none, and no rule reads it.
_TITLE = "(replayed)"


class Proposed(Protocol):
    """The policy a what-if proposes, as the edge resolved it (config/proposal.py)."""

    name: str

    @property
    def cap(self) -> Decimal | None:
        """Its monthly cap, a percent of the fee."""

    def snapshot_for(self, opening: TicketOpening) -> PolicySnapshot:
        """The policy as it would have applied to this ticket (its customer's calendar)."""


class JournaledTicket(BaseModel):
    """A ticket as the store keeps it for a replay: its opening, its journal up to its
    outcome, and that outcome with the time and the number of entries it reflects."""

    opening: TicketOpening
    entries: list[JournalEntry]
    outcome: TicketOutcome
    as_of: datetime
    journaled: int

    @property
    def complete(self) -> bool:
        """Every entry the outcome reflects is there: a record refused for good leaves a gap."""
        return [entry.seq for entry in self.entries] == list(range(self.journaled))


class Refusal(BaseModel):
    """An action the proposed policy would have refused (a reopen after its auto-close)."""

    ticket_id: str
    action: str
    at: datetime
    reason: str


class Replayed(BaseModel):
    state: TicketState
    penalties: list[Effect]
    refused: list[Refusal]


def replay(
    ticket: JournaledTicket, until: datetime, policy: PolicySnapshot | None = None
) -> Replayed:
    """The ticket's journal through the rules up to `until`: under the policy it ran under,
    its calendar extended when it was (`policy` None), or under `policy`, with the ticket's
    own contract (what a breach of it was worth)."""
    opening = ticket.opening
    under = opening.policy
    if policy is not None:
        under = policy.model_copy(update={"contract": opening.policy.contract})
    under = under.model_copy(update={"quality": None, "routing": None})
    new = OpenTicket(
        ticket_id=opening.ticket_id,
        customer_id=opening.customer_id,
        title=_TITLE,
        priority=opening.priority,
        policy=under,
        opened_at=opening.opened_at,
    )
    replayed = Ticket.open(new, opening.opened_at)
    refused: list[Refusal] = []
    for entry in ticket.entries:
        calendar = entry.calendar()
        if calendar is not None:
            if policy is None:
                replayed.change_calendar(calendar)
            continue
        action = entry.action()
        if isinstance(action, Repair):
            if policy is not None:
                continue  # the proposed policy is the ticket's throughout
            repaired = action.snapshot.model_copy(update={"quality": None, "routing": None})
            action = action.model_copy(update={"snapshot": repaired})
        try:
            replayed.apply(action, entry.at)
        except ActionRejected as exc:
            refused.append(
                Refusal(
                    ticket_id=opening.ticket_id, action=entry.kind, at=entry.at, reason=str(exc)
                )
            )
    replayed.on_time(until)
    penalties = [e for e in replayed.take_effects() if e.kind is EffectKind.PENALTY]
    return Replayed(state=replayed.state, penalties=penalties, refused=refused)


def _comparable(outcome: TicketOutcome) -> dict[str, object]:
    # Ratings are not journaled: they move no clock.
    return outcome.model_dump(exclude={"ratings"})


def reproduces(ticket: JournaledTicket) -> bool:
    """Replaying the entries its outcome reflects, up to the outcome's time, under the policy
    it ran under gives the store's outcome again."""
    return why_not_reproduced(ticket) is None


def why_not_reproduced(ticket: JournaledTicket) -> str | None:
    """None when the ticket reproduces; else what differs, for the one who must find out why."""
    if not ticket.complete:
        seqs = [entry.seq for entry in ticket.entries]
        return f"journal incomplete: entries {seqs} of {ticket.journaled}"
    replayed = replay(ticket, ticket.as_of)
    if replayed.refused:
        refusals = [(r.action, r.at.isoformat(), r.reason) for r in replayed.refused]
        return f"replay refused {refusals}"
    again, kept = _comparable(outcome_of(replayed.state)), _comparable(ticket.outcome)
    differing = {
        key: {"stored": kept.get(key), "replayed": again.get(key)}
        for key in sorted(kept.keys() | again.keys())
        if kept.get(key) != again.get(key)
    }
    if not differing:
        return None
    kinds = [(entry.seq, entry.kind, entry.at.isoformat()) for entry in ticket.entries]
    return f"as of {ticket.as_of.isoformat()}, entries {kinds}: {differing}"


def verdict(state: TicketState, metric: Metric) -> Verdict:
    """A ticket's clock of `metric` judged: breached if any of its cycles breached, met once
    the last is met, else open (still running or paused)."""
    clocks: list[SlaClock] = (
        [state.response]
        if metric is Metric.RESPONSE
        else [*state.earlier_resolutions, state.resolution]
    )
    if any(clock.breached_at is not None for clock in clocks):
        return "breached"
    return "met" if clocks[-1].state is ClockState.MET else "open"


class Clocks(BaseModel):
    met: int = 0
    breached: int = 0
    open: int = 0
    compliance: float | None = None  # met / (met + breached), as reports give it


class CustomerCredit(BaseModel):
    """What the statements would credit a customer for the window's tickets."""

    customer_id: str
    currency: str | None  # None: no contract, the amount is percent of the fee
    amount: Decimal
    unit: str  # the currency, or "percent"


class Side(BaseModel):
    response: Clocks
    resolution: Clocks
    credits: list[CustomerCredit]


class Versus(BaseModel):
    actual: Side
    proposed: Side


class Change(BaseModel):
    ticket_id: str
    metric: Metric
    actual: Verdict
    proposed: Verdict


class WhatIf(BaseModel):
    from_: datetime
    to: datetime
    policy: str
    tickets: int
    actual: Side
    proposed: Side
    by_customer: dict[str, Versus]
    changed: list[Change]
    # True when every ticket opened in the window was replayed and its replay under the
    # policy it ran under gave the store's outcome again: then the comparison can be trusted.
    reproduced: bool
    not_reproduced: list[str]
    # Tickets of the window the store has no journal of (opened before it kept one).
    unjournaled: list[str]
    refused: list[Refusal]


class _Tally:
    """One side's verdicts and priced penalties, per customer."""

    def __init__(self) -> None:
        self.verdicts: dict[str, list[tuple[Verdict, Verdict]]] = {}
        self.penalties: dict[str, list[StatementCredit]] = {}

    def add(self, customer_id: str, state: TicketState, penalties: list[Effect]) -> None:
        pair = (verdict(state, Metric.RESPONSE), verdict(state, Metric.RESOLUTION))
        self.verdicts.setdefault(customer_id, []).append(pair)
        priced = self.penalties.setdefault(customer_id, [])
        for effect in penalties:
            if effect.percent is None or effect.amount is None or effect.unit is None:
                continue  # a breach without a credit: counted, never priced (as statements)
            priced.append(
                StatementCredit(
                    ticket_id=effect.ticket_id,
                    kind="penalty",
                    metric=effect.metric.value,
                    amount=effect.amount,
                    unit=effect.unit,
                    at=effect.at,
                    percent=effect.percent,
                )
            )

    def side(self, customers: list[str], terms: Callable[[str], Terms]) -> Side:
        pairs = [pair for c in customers for pair in self.verdicts.get(c, [])]
        return Side(
            response=_clocks([r for r, _ in pairs]),
            resolution=_clocks([r for _, r in pairs]),
            credits=[_credit(c, self.penalties.get(c, []), terms(c)) for c in customers],
        )


def _clocks(verdicts: list[Verdict]) -> Clocks:
    met, breached = verdicts.count("met"), verdicts.count("breached")
    judged = met + breached
    return Clocks(
        met=met,
        breached=breached,
        open=verdicts.count("open"),
        compliance=round(met / judged, 4) if judged else None,
    )


def _credit(customer_id: str, penalties: list[StatementCredit], terms: Terms) -> CustomerCredit:
    """Each month's penalties as that month's statement totals them (capped, rounded once),
    summed: what the statements of those months would credit."""
    months: dict[str, list[StatementCredit]] = {}
    for credit in penalties:
        months.setdefault(credit.at.astimezone(UTC).strftime("%Y-%m"), []).append(credit)
    total = sum(
        (credit_total(month, terms.monthly_fee, terms.currency, terms.cap)[0]
         for month in months.values()),
        Decimal(0),
    )  # fmt: skip
    currency = terms.currency if terms.monthly_fee is not None else None
    if currency is not None:
        total = round_money(total, currency)  # a sum of rounded totals: only the places change
    return CustomerCredit(
        customer_id=customer_id, currency=currency, amount=total, unit=currency or PERCENT
    )


def what_if(
    tickets: list[JournaledTicket],
    unjournaled: list[str],
    proposed: Proposed,
    terms: Callable[[str], Terms],
    start: datetime,
    end: datetime,
    until: datetime,
) -> WhatIf:
    """Each ticket replayed to `until` under the policy it ran under and under `proposed`,
    compared; money priced with each customer's `terms`, the proposed side with the proposed
    policy's cap."""
    actual, alternative = _Tally(), _Tally()
    changed: list[Change] = []
    refused: list[Refusal] = []
    not_reproduced: list[str] = []
    for ticket in tickets:
        customer_id = ticket.opening.customer_id
        if not reproduces(ticket):
            not_reproduced.append(ticket.opening.ticket_id)
        was = replay(ticket, max(until, ticket.as_of))
        would = replay(ticket, max(until, ticket.as_of), proposed.snapshot_for(ticket.opening))
        actual.add(customer_id, was.state, was.penalties)
        alternative.add(customer_id, would.state, would.penalties)
        refused += would.refused
        for metric in Metric:
            before, after = verdict(was.state, metric), verdict(would.state, metric)
            if before != after:
                changed.append(
                    Change(
                        ticket_id=ticket.opening.ticket_id,
                        metric=metric,
                        actual=before,
                        proposed=after,
                    )
                )

    def proposed_terms(customer_id: str) -> Terms:
        return terms(customer_id).model_copy(update={"cap": proposed.cap})

    customers = sorted({t.opening.customer_id for t in tickets})
    return WhatIf(
        from_=start,
        to=end,
        policy=proposed.name,
        tickets=len(tickets),
        actual=actual.side(customers, terms),
        proposed=alternative.side(customers, proposed_terms),
        by_customer={
            c: Versus(
                actual=actual.side([c], terms),
                proposed=alternative.side([c], proposed_terms),
            )
            for c in customers
        },
        changed=changed,
        reproduced=not not_reproduced and not unjournaled,
        not_reproduced=not_reproduced,
        unjournaled=unjournaled,
        refused=refused,
    )


COLUMNS = ["scope", "name", "measure", "actual", "proposed", "delta"]


def _side_rows(scope: str, name: str, actual: Side, proposed: Side) -> list[list[str]]:
    rows = []
    for metric in ("response", "resolution"):
        was: Clocks = getattr(actual, metric)
        would: Clocks = getattr(proposed, metric)
        for measure in ("met", "breached", "open"):
            a, p = getattr(was, measure), getattr(would, measure)
            rows.append([scope, name, f"{metric}_{measure}", str(a), str(p), f"{p - a:+d}"])
        rows.append(
            [scope, name, f"{metric}_compliance", _fraction(was.compliance),
             _fraction(would.compliance), ""]
        )  # fmt: skip
    for was_credit, would_credit in zip(actual.credits, proposed.credits, strict=True):
        delta = would_credit.amount - was_credit.amount
        rows.append(
            [scope, was_credit.customer_id if scope == "all" else name,
             f"credits_{was_credit.unit}", _plain(was_credit.amount),
             _plain(would_credit.amount), f"{'+' if delta >= 0 else ''}{_plain(delta)}"]
        )  # fmt: skip
    return rows


def what_if_rows(answer: WhatIf) -> list[list[str]]:
    """The answer as one long table: totals, each customer, each changed clock, the trust."""
    rows = _side_rows("all", "all", answer.actual, answer.proposed)
    for customer_id, versus in answer.by_customer.items():
        rows += [
            row
            for row in _side_rows("customer", customer_id, versus.actual, versus.proposed)
            if not row[2].startswith("credits_")
        ]
    rows += [
        ["ticket", c.ticket_id, c.metric.value, c.actual, c.proposed, ""] for c in answer.changed
    ]
    rows += [
        ["all", "all", "tickets", str(answer.tickets), "", ""],
        ["all", "all", "reproduced", str(answer.reproduced).lower(), "", ""],
    ]
    return rows


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _plain(amount: Decimal) -> str:
    return format(amount, "f")


def what_if_csv(answer: WhatIf) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(what_if_rows(answer))
    return out.getvalue()


def what_if_table(answer: WhatIf) -> str:
    rows = [COLUMNS, *what_if_rows(answer)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
