"""SLA policies: targets per priority, warnings, escalation chain, credits; from parsed config."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sla.calendar import (
    ALWAYS,
    ALWAYS_CALENDAR,
    WEEKDAYS,
    Calendar,
    parse_interval,
    weekly_business_time,
)
from sla.contracts import AvailabilityTerms, Contract, Customer, RewardRule
from sla.durations import format_duration, parse_duration
from sla.integrations.config import IntegrationsConfig
from sla.notifications import NotificationsConfig, Routing
from sla.percent import Percent
from sla.priorities import Priority
from sla.quality import QualityPolicy

# A ticket adds these durations to its instants: ten years at most keeps that far from the
# end of datetime, where an OverflowError would fail its workflow task again and again.
LONGEST = timedelta(days=3650)
# A target fits in this many weeks of its calendar's opening hours: the search for a due time
# (SEARCH_DAYS, ten years) then has as long again for holidays.
TARGET_WEEKS = 260


def _not_too_long(value: timedelta) -> timedelta:
    if value > LONGEST:
        raise ValueError(f"{format_duration(value)} is longer than ten years ({LONGEST.days}d)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_not_too_long)]
# Who hears a ticket's survey: notifications.audiences.customer, or a customer's own `notify`.
CUSTOMER_AUDIENCE = "customer"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Targets(_Strict):
    response: Duration
    resolution: Duration

    @field_validator("response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a target must be longer than zero")
        return value


class EscalationLevel(_Strict):
    after: Duration
    notify: list[str] = Field(min_length=1)

    @field_validator("after")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("an escalation cannot come before the breach")
        return value


class CreditRules(_Strict):
    """Penalties as a percentage of the monthly fee, per breached clock."""

    response_breach: dict[Priority, Percent] = {}
    resolution_breach: dict[Priority, Percent] = {}
    monthly_cap: Percent | None = None


class CalendarSpec(_Strict):
    """A named calendar as config writes it; resolved into a `Calendar` snapshot at the edge."""

    timezone: str = Field(min_length=1)
    hours: dict[str, list[str]]
    holidays: list[date] = []
    holiday_country: str | None = Field(default=None, min_length=2, max_length=3)
    holiday_subdivision: str | None = None

    @field_validator("hours")
    @classmethod
    def _week(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, intervals in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            spans = sorted(parse_interval(i) for i in intervals)
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError(f"{day}: intervals overlap")
        if not any(value.values()):
            raise ValueError("a calendar needs business hours on at least one weekday")
        return value

    @model_validator(mode="after")
    def _subdivision_needs_country(self) -> CalendarSpec:
        if self.holiday_subdivision and not self.holiday_country:
            raise ValueError("holiday_subdivision needs holiday_country")
        return self


DEFAULT_ESCALATION = (EscalationLevel(after=timedelta(0), notify=["team-lead"]),)


class Policy(_Strict):
    calendar: str = ALWAYS
    warn_at: list[float] = [0.75]
    targets: dict[Priority, Targets]
    escalation: list[EscalationLevel] = list(DEFAULT_ESCALATION)
    credits: CreditRules | None = None
    rewards: RewardRule | None = None
    auto_close_after: Duration = timedelta(days=7)
    # The fourth promise (sla/quality.py): ratings, follow-up, monthly targets.
    quality: QualityPolicy | None = None

    @field_validator("warn_at")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0 < fraction < 1:
                raise ValueError(f"{fraction} is not a fraction between 0 and 1 (e.g. 0.75)")
        return sorted(set(value))

    @field_validator("targets")
    @classmethod
    def _every_priority(cls, value: dict[Priority, Targets]) -> dict[Priority, Targets]:
        missing = [p.value for p in Priority if p not in value]
        if missing:
            raise ValueError(f"targets missing for {', '.join(missing)}")
        return value

    @field_validator("escalation")
    @classmethod
    def _increasing(cls, value: list[EscalationLevel]) -> list[EscalationLevel]:
        offsets = [level.after for level in value]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise ValueError("escalation levels must come at strictly increasing `after` offsets")
        return value

    @model_validator(mode="after")
    def _follow_up_audience(self) -> Policy:
        if self.quality and self.quality.follow_up_after and not self.escalation:
            raise ValueError("quality.follow_up_after goes to escalation level 1: add one")
        return self


class PolicySnapshot(_Strict):
    """The promise a ticket is under, frozen into its workflow input at open."""

    name: str
    calendar: Calendar
    warn_at: list[float]
    targets: dict[Priority, Targets]
    escalation: list[EscalationLevel]
    credits: CreditRules | None = None
    rewards: RewardRule | None = None
    auto_close_after: timedelta
    # The customer's fee and currency; None for a customer without a contract.
    contract: Contract | None = None
    # Who hears of which event: target names only (URLs and secrets stay in the config).
    routing: Routing | None = None
    quality: QualityPolicy | None = None

    def penalty_percent(self, metric: str, priority: Priority) -> Decimal | None:
        if self.credits is None:
            return None
        table = (
            self.credits.response_breach if metric == "response" else self.credits.resolution_breach
        )
        return table.get(priority)


class SlaConfig(_Strict):
    default_policy: str
    calendars: dict[str, CalendarSpec] = {}
    policies: dict[str, Policy] = Field(min_length=1)
    customers: dict[str, Customer] = {}
    availability: AvailabilityTerms = AvailabilityTerms()
    notifications: NotificationsConfig = NotificationsConfig()
    # Help desks whose webhooks open and work tickets (sla/integrations/, docs/integrations.md).
    integrations: IntegrationsConfig = IntegrationsConfig()

    @model_validator(mode="after")
    def _references(self) -> SlaConfig:
        if self.default_policy not in self.policies:
            raise ValueError(
                f"default_policy {self.default_policy!r} is not one of the policies "
                f"({', '.join(sorted(self.policies))})"
            )
        if ALWAYS in self.calendars:
            raise ValueError(f"calendars.{ALWAYS}: the name is built in (24x7 UTC)")
        known = [ALWAYS, *sorted(self.calendars)]
        for name, policy in self.policies.items():
            if policy.calendar not in known:
                raise ValueError(
                    f"policies.{name}.calendar: unknown calendar {policy.calendar!r} "
                    f"(known: {', '.join(known)})"
                )
        for customer_id, customer in self.customers.items():
            if customer.policy is not None and customer.policy not in self.policies:
                raise ValueError(
                    f"customers.{customer_id}.policy: unknown policy {customer.policy!r} "
                    f"(known: {', '.join(sorted(self.policies))})"
                )
            if customer.calendar is not None and customer.calendar not in known:
                raise ValueError(
                    f"customers.{customer_id}.calendar: unknown calendar {customer.calendar!r} "
                    f"(known: {', '.join(known)})"
                )
        self._targets_reachable()
        self._audiences_routed()
        for customer_id, customer in self.customers.items():
            for target in customer.notify:
                if problem := self.notifications.target_problem(target):
                    raise ValueError(f"customers.{customer_id}.notify: {problem}")
        return self

    def _targets_reachable(self) -> None:
        # A target its calendar takes years to reach would leave tickets without a due time.
        runs = {(name, policy.calendar, "") for name, policy in self.policies.items()}
        runs |= {
            (customer.policy or self.default_policy, customer.calendar, f"customers.{cid}: ")
            for cid, customer in self.customers.items()
            if customer.calendar is not None
        }
        for name, calendar, via in sorted(runs):
            spec = self.calendars.get(calendar)
            weekly = weekly_business_time(spec.hours if spec else None)
            for priority, targets in self.policies[name].targets.items():
                for metric in ("response", "resolution"):
                    target: timedelta = getattr(targets, metric)
                    if target > weekly * TARGET_WEEKS:
                        raise ValueError(
                            f"{via}policies.{name}.targets.{priority.value}.{metric}: "
                            f"{format_duration(target)} of business time takes more than "
                            f"{TARGET_WEEKS} weeks on calendar {calendar!r} "
                            f"({format_duration(weekly)} a week)"
                        )

    def _audiences_routed(self) -> None:
        # Webhook and mailto targets are checked by NotificationsConfig itself. Once audiences
        # are configured, an escalation naming an unmapped one would reach nobody: refuse it.
        audiences = self.notifications.audiences
        if not audiences:
            return
        for name, policy in self.policies.items():
            for index, level in enumerate(policy.escalation):
                for audience in level.notify:
                    if audience not in audiences:
                        raise ValueError(
                            f"policies.{name}.escalation.{index}.notify: audience {audience!r} "
                            f"is not in notifications.audiences "
                            f"(known: {', '.join(sorted(audiences))})"
                        )

    def calendar_for(self, customer_id: str | None, policy_name: str | None = None) -> str:
        """The customer's own calendar, else that of `policy_name` (by default the customer's
        policy)."""
        customer = self.customers.get(customer_id) if customer_id else None
        if customer is not None and customer.calendar is not None:
            return customer.calendar
        if policy_name is None:
            policy_name = self.policy_for(customer_id) if customer_id else self.default_policy
        return self.policies[policy_name].calendar

    def policy_for(self, customer_id: str) -> str:
        customer = self.customers.get(customer_id)
        return (customer.policy if customer else None) or self.default_policy

    def contract_for(self, customer_id: str) -> Contract | None:
        customer = self.customers.get(customer_id)
        if customer is None:
            return None
        return Contract(
            customer_id=customer_id, monthly_fee=customer.monthly_fee, currency=customer.currency
        )

    def snapshot(
        self,
        policy_name: str | None = None,
        calendar: Calendar | None = None,
        contract: Contract | None = None,
    ) -> PolicySnapshot:
        """The policy frozen for a ticket; a named calendar must come resolved from the edge."""
        name = policy_name or self.default_policy
        policy = self.policies[name]
        if calendar is None:
            if policy.calendar != ALWAYS:
                raise ValueError(f"calendar {policy.calendar!r} must be resolved at the edge")
            calendar = ALWAYS_CALENDAR
        return PolicySnapshot(
            name=name,
            calendar=calendar,
            warn_at=policy.warn_at,
            targets=policy.targets,
            escalation=policy.escalation,
            credits=policy.credits,
            rewards=policy.rewards,
            auto_close_after=policy.auto_close_after,
            contract=contract,
            routing=self._routing_for(contract.customer_id if contract else None),
            quality=policy.quality,
        )

    def _routing_for(self, customer_id: str | None) -> Routing:
        """The config's routing; a customer with its own `notify` targets hears the events
        for the `customer` audience (surveys) there."""
        routing = self.notifications.routing()
        customer = self.customers.get(customer_id) if customer_id else None
        if customer is None or not customer.notify:
            return routing
        audiences = {**routing.audiences, CUSTOMER_AUDIENCE: list(customer.notify)}
        return routing.model_copy(update={"audiences": audiences})


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the offending key."""


def parse_config(data: Any) -> SlaConfig:
    """Validate already-parsed config data (e.g. from YAML)."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping with `default_policy` and `policies`")
    try:
        return SlaConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            lines.append(f"{key}: {message}")
        raise ConfigError("invalid SLA config:\n  " + "\n  ".join(lines)) from None


# sla.actions is loaded by now (sla.notifications imports it): its Repair carries a snapshot.
from sla import actions as _actions  # noqa: E402

_actions.Repair.model_rebuild(_types_namespace={"PolicySnapshot": PolicySnapshot})
