"""Side effects a ticket asks for, each with the idempotency key its activity records it under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, JsonValue

from sla.clock import Metric
from sla.notifications import Event, EventType, event_id
from sla.priorities import Priority


class EffectKind(StrEnum):
    WARNING = "warning"
    ESCALATION = "escalation"
    PENALTY = "penalty"
    REWARD = "reward"
    RESOLVED = "resolved"
    # The first response: announced only (PagerDuty acknowledges the ticket's incident).
    RESPONDED = "responded"
    # Quality (sla/quality.py): announced only; ratings reach the store with the outcome.
    SURVEY = "survey"
    FOLLOW_UP = "follow_up"
    RATING = "rating"


@dataclass(frozen=True)
class Recorded:
    """How the store keeps an effect: in which ledger, and the log line that says so."""

    ledger: Literal["credit", "notification"]
    logged: str


# The one table of recorded effects; `resolved` and `responded` are only announced.
RECORDED: dict[EffectKind, Recorded] = {
    EffectKind.ESCALATION: Recorded("notification", "escalated"),
    EffectKind.WARNING: Recorded("notification", "warned"),
    EffectKind.PENALTY: Recorded("credit", "penalty_recorded"),
    EffectKind.REWARD: Recorded("credit", "reward_recorded"),
}


class InvalidEffect(ValueError):
    """An effect the store does not keep: a caller's bug, so its activity is never retried."""


class Effect(BaseModel):
    kind: EffectKind
    ticket_id: str
    customer_id: str
    priority: Priority
    metric: Metric
    cycle: int
    level: int = 0
    at: datetime
    notify: list[str] = []
    percent: Decimal | None = None
    # Penalties and rewards: money in the contract's currency, a percent, or a reward's unit.
    amount: Decimal | None = None
    unit: str | None = None
    fraction: float | None = None
    # An escalation: when its clock breached, so a receiver can say how late it is.
    breached_at: datetime | None = None
    # Quality events: the resolution's note, the rating's score and comment, the assignee
    # followed up, the ticket's page.
    note: str | None = None
    score: int | None = None
    comment: str | None = None
    assignee: str | None = None
    link: str | None = None

    @property
    def key(self) -> str:
        """Stable across retries and replays: ticket, kind, metric, cycle and level or fraction."""
        parts = [self.ticket_id, self.kind.value, self.metric.value, f"c{self.cycle}"]
        if self.kind is EffectKind.ESCALATION:
            parts.append(f"l{self.level}")
        if self.kind is EffectKind.WARNING:
            parts.append(f"f{self.fraction}")
        return ":".join(parts)


def events_for(effect: Effect) -> list[tuple[Event, list[str]]]:
    """What the world hears of an effect: each event with the audiences it also goes to.

    A penalty effect is the breach itself: it is announced as a `breach`, and as a
    `penalty` when the policy prices it.
    """
    data: dict[str, JsonValue] = {
        "customer_id": effect.customer_id,
        "priority": effect.priority.value,
        "metric": effect.metric.value,
        "cycle": effect.cycle,
    }
    if effect.kind is EffectKind.WARNING:
        data["fraction"] = effect.fraction
    if effect.kind is EffectKind.ESCALATION:
        data |= {"level": effect.level, "notify": list(effect.notify)}
        if effect.breached_at is not None:
            data["breached_at"] = (
                effect.breached_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            )
    if effect.amount is not None:
        data |= {"amount": str(effect.amount), "unit": effect.unit}
    if effect.percent is not None:
        data["percent"] = str(effect.percent)
    quality = {
        "resolution": effect.note,
        "score": effect.score,
        "comment": effect.comment,
        "assignee": effect.assignee,
        "link": effect.link,
    }
    data |= {key: value for key, value in quality.items() if value is not None}

    def event(kind: EventType, key: str) -> Event:
        return Event(
            id=event_id(key), type=kind, ticket_id=effect.ticket_id, at=effect.at, data=data
        )

    ticket, metric, cycle = effect.ticket_id, effect.metric.value, effect.cycle
    if effect.kind is EffectKind.PENALTY:
        events: list[tuple[Event, list[str]]] = [
            (event("breach", f"{ticket}:breach:{metric}:c{cycle}"), [])
        ]
        if effect.percent is not None:
            events.append((event("penalty", effect.key), []))
        return events
    if effect.kind is EffectKind.ESCALATION:
        return [(event("escalation", effect.key), list(effect.notify))]
    kinds: dict[EffectKind, EventType] = {
        EffectKind.WARNING: "warning",
        EffectKind.REWARD: "reward",
        EffectKind.RESOLVED: "resolved",
        EffectKind.RESPONDED: "responded",
        EffectKind.SURVEY: "survey",
        EffectKind.FOLLOW_UP: "follow_up",
        EffectKind.RATING: "rating",
    }
    # A survey goes to the customer's targets, a follow-up to escalation level 1's audiences.
    return [(event(kinds[effect.kind], effect.key), list(effect.notify))]
