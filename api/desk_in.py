"""A help desk's delivery applied: each step of its reading (sla/integrations/) through the
same Desk calls the ticket routes make, with the event's time as `at`, and what came of it.

A step the ticket refuses (409, 422) or a ticket slaflow does not have (404) is an outcome to
record, not an error to answer: the desk would retry it forever. Only Temporal or the store
not answering (503) fails the delivery, so the desk sends it again, and the request ids make
that second time apply nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth import Principal, Role
from api.desk import Desk
from api.errors import ApiError
from api.instants import event_time_problem
from api.schemas import TicketCreate
from sla.integrations.reading import Opening, Reading
from store.integrations import IntegrationEvent, Outcome, Source, StepOutcome

NOT_TRIED = "not tried: an earlier step was not applied"


async def apply_reading(
    desk: Desk, source: Source, delivery_id: str, reading: Reading
) -> IntegrationEvent:
    """Run the reading's steps in order, stopping at the first that does not apply."""
    principal = Principal(name=source, role=Role.INTEGRATION)
    results: list[StepOutcome] = []
    for step in reading.steps:
        if results and results[-1].outcome != "applied":
            skipped = StepOutcome(do=step.name, at=step.at, outcome="ignored", reason=NOT_TRIED)
            results.append(skipped)
            continue
        outcome: Outcome = "applied"
        reason: str | None = None
        try:
            if step.at is not None and (problem := event_time_problem(step.at, _now())):
                raise ApiError(422, problem)
            if isinstance(step.do, Opening):
                opening = step.do
                body = TicketCreate(
                    ticket_id=opening.ticket_id,
                    title=opening.title,
                    priority=opening.priority,
                    customer_id=opening.customer_id,
                    description=opening.description,
                    at=opening.at,
                )
                _, created = await desk.open(body, None, principal)
                reason = None if created else "the ticket was open already"
            else:
                await desk.act(step.ticket_id, step.do)
        except ApiError as exc:
            if exc.status_code == 404:
                outcome, reason = "ignored", f"no ticket {step.ticket_id} in slaflow"
            elif exc.status_code in (409, 422):
                outcome, reason = "rejected", exc.detail
            else:
                raise  # Temporal did not answer: the desk retries the delivery
        results.append(StepOutcome(do=step.name, at=step.at, outcome=outcome, reason=reason))
    return IntegrationEvent(
        source=source,
        delivery_id=delivery_id,
        event=reading.event[:64],  # a desk's own name for it, as long as it likes
        ticket_id=reading.ticket_id,
        outcome=_overall(results),
        reason=_why(reading, results),
        steps=results,
        reporter=reading.reporter if _opened(reading, results) else None,
        event_at=reading.at,
        received_at=_now(),
    )


def _overall(results: list[StepOutcome]) -> Outcome:
    outcomes = {r.outcome for r in results}
    if "rejected" in outcomes:
        return "rejected"
    return "applied" if "applied" in outcomes else "ignored"


def _why(reading: Reading, results: list[StepOutcome]) -> str | None:
    reasons = [*reading.notes, *(r.reason for r in results if r.outcome != "applied" and r.reason)]
    reasons = [r for r in reasons if r != NOT_TRIED]
    return "; ".join(reasons) or None


def _opened(reading: Reading, results: list[StepOutcome]) -> bool:
    """The delivery opened its ticket: its reporter is the one later comments are held to."""
    return any(r.do == "open" and r.outcome == "applied" for r in results)


def _now() -> datetime:
    return datetime.now(UTC)
