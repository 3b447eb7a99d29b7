"""Side effects a ticket asks for, each with the idempotency key its activity records it under."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from sla.clock import Metric
from sla.priorities import Priority


class EffectKind(StrEnum):
    WARNING = "warning"
    ESCALATION = "escalation"
    PENALTY = "penalty"
    REWARD = "reward"


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

    @property
    def key(self) -> str:
        """Stable across retries and replays: ticket, kind, metric, cycle and level or fraction."""
        parts = [self.ticket_id, self.kind.value, self.metric.value, f"c{self.cycle}"]
        if self.kind is EffectKind.ESCALATION:
            parts.append(f"l{self.level}")
        if self.kind is EffectKind.WARNING:
            parts.append(f"f{self.fraction}")
        return ":".join(parts)
