"""Contracts: customers with their fee, rewards for beating the SLA, the availability promise."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from sla.availability import DEFAULT_TIERS, CreditTier
from sla.durations import parse_duration
from sla.money import percent_of
from sla.percent import Percent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(_Strict):
    """A customer's contract as config writes it."""

    policy: str | None = None  # the default policy when not given
    calendar: str | None = None  # the policy's calendar when not given
    monthly_fee: Decimal = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # Where this customer hears of its tickets (surveys): webhook:<name> or mailto:<address>.
    notify: list[str] = []


class Contract(_Strict):
    """The money side of a ticket's promise, frozen into its snapshot."""

    customer_id: str
    monthly_fee: Decimal
    currency: str

    def money(self, percent: Decimal) -> Decimal:
        """Unrounded: amounts are rounded once, on the statement."""
        return percent_of(self.monthly_fee, percent)


class Reward(_Strict):
    amount: Decimal = Field(gt=0)
    unit: str = Field(min_length=1, max_length=32)


class RewardRule(_Strict):
    """The provider beat the SLA: resolved within this fraction of the target."""

    resolved_within: float = Field(gt=0, le=1)
    reward: Reward


class TierConfig(_Strict):
    below: Percent
    credit: Percent


class Probe(_Strict):
    """Checks a URL on a schedule; consecutive failures open an incident, a success ends it."""

    url: str = Field(pattern=r"^https?://")
    every: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(seconds=60)
    failures: int = Field(default=3, ge=1, le=100)
    timeout: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(seconds=5)

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("probe every at least 1s")
        return value


class AvailabilityTerms(_Strict):
    target: Percent = Decimal("99.9")
    credit_tiers: list[TierConfig] = [
        TierConfig(below=t.below, credit=t.credit) for t in DEFAULT_TIERS
    ]
    service: str = Field(default="platform", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    probe: Probe | None = None

    @property
    def tiers(self) -> list[CreditTier]:
        return [CreditTier(below=t.below, credit=t.credit) for t in self.credit_tiers]
